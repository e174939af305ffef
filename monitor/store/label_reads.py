"""The human-label stream: which samples a day sent to annotators, and what came back.

``export_for_annotation`` picks some of the day's production samples at random within
their strata and records the pick on each picked sample, in ``samples.signals`` under
``"annotation"`` (the batch, the stratum, its size and the selection probability): the
metrics step needs to know which samples form the random labelled subset, and with what
probability, for the corrected (PPI) figures to be unbiased. Labels themselves stay in
``human_labels`` keyed by (normalized query, result id, annotator), written through
``repository.upsert_human_labels``; a selected sample's labels are found by joining on
its query and its results' ids.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

from monitor.store.models import PRODUCTION_SAMPLES

__all__ = [
    "SELECTION_KEY",
    "DaySample",
    "SampleRef",
    "SelectedSample",
    "day_samples",
    "design_strata",
    "lock_day_sample",
    "record_selection",
    "sample_lock_keys",
    "samples_by_id",
    "selected_samples",
    "sent_for_annotation",
]

#: The key of ``samples.signals`` under which an annotation pick is recorded.
SELECTION_KEY = "annotation"
_SAMPLE_LOCK = zlib.crc32(b"judge-monitor:day-sample") - (1 << 31)


@dataclass(frozen=True, slots=True)
class DaySample:
    """A production sample of a day, as the annotation export reads it."""

    id: int
    day: dt.date
    ranker: str
    query_id: str
    query_text: str
    query_norm: str
    stratum: str
    weight: float
    results: list[dict[str, Any]]
    selection: dict[str, Any] | None


def sample_lock_keys(day: dt.date) -> tuple[int, int]:
    """The transaction-level advisory lock on ``day``'s sample that an annotation pick
    and a rerun replacing the day's stale rows (``stale_samples``) both take first: a
    rerun then sees a pick recorded before it and keeps the day whole, and a pick never
    marks rows a rerun is deleting."""
    return _SAMPLE_LOCK, day.toordinal()


def lock_day_sample(conn: Connection, *, day: dt.date) -> None:
    """Take ``sample_lock_keys(day)`` until the transaction ends (waiting for a holder)."""
    a, b = sample_lock_keys(day)
    conn.execute(text("SELECT pg_advisory_xact_lock(:a, :b)"), {"a": a, "b": b})


def sent_for_annotation(conn: Connection, *, day: dt.date) -> bool:
    """Was the day's production sample picked for annotation (its rows are then kept)?"""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM samples WHERE sample_date = :d "
                f"AND {PRODUCTION_SAMPLES} AND signals ? :key)"
            ),
            {"d": day, "key": SELECTION_KEY},
        ).scalar_one()
    )


def day_samples(conn: Connection, *, day: dt.date) -> tuple[DaySample, ...]:
    """Which production samples are stored for ``day``, with any annotation pick? By id."""
    rows = conn.execute(
        text(
            "SELECT id, sample_date, ranker, query_id, query_text, query_norm, stratum, weight, "
            "results, signals -> :key AS selection FROM samples "
            f"WHERE sample_date = :d AND {PRODUCTION_SAMPLES} ORDER BY id"
        ),
        {"d": day, "key": SELECTION_KEY},
    ).all()
    return tuple(
        DaySample(
            id=int(r.id),
            day=r.sample_date,
            ranker=r.ranker,
            query_id=r.query_id,
            query_text=r.query_text,
            query_norm=r.query_norm,
            stratum=r.stratum,
            weight=float(r.weight),
            results=list(r.results or []),
            selection=r.selection,
        )
        for r in rows
    )


def design_strata(
    conn: Connection, *, first: dt.date, last: dt.date
) -> dict[int, tuple[dt.date, str, str]]:
    """Which (day, ranker, sampling stratum) does each production sample of ``first``..
    ``last`` belong to? By sample id: the strata an annotation pick is drawn in."""
    # not ``day_samples``: the corrected figures need the strata of a window's samples,
    # not their results' JSON
    rows = conn.execute(
        text(
            "SELECT id, sample_date, ranker, stratum FROM samples "
            f"WHERE sample_date BETWEEN :first AND :last AND {PRODUCTION_SAMPLES}"
        ),
        {"first": first, "last": last},
    ).all()
    return {int(r.id): (r.sample_date, r.ranker, r.stratum) for r in rows}


def record_selection(
    conn: Connection, *, day: dt.date, picks: Mapping[int, Mapping[str, Any]]
) -> int:
    """Record ``picks`` (sample id -> what to record) as the day's annotation batch.

    Any pick recorded before for the day is cleared first: a day has one batch. Returns
    how many samples were marked.
    """
    conn.execute(
        text(
            "UPDATE samples SET signals = coalesce(signals, '{}'::jsonb) - :key "
            f"WHERE sample_date = :d AND {PRODUCTION_SAMPLES} AND signals ? :key"
        ),
        {"d": day, "key": SELECTION_KEY},
    )
    if not picks:
        return 0
    ids = sorted(picks)
    result = conn.execute(
        text(
            "UPDATE samples s SET signals = jsonb_set(coalesce(s.signals, '{}'::jsonb), "
            "ARRAY[:key], CAST(p.pick AS jsonb)) "
            "FROM unnest(CAST(:ids AS bigint[]), CAST(:picks AS text[])) AS p(id, pick) "
            f"WHERE s.id = p.id AND s.sample_date = :d AND {PRODUCTION_SAMPLES}"
        ),
        {
            "d": day,
            "key": SELECTION_KEY,
            "ids": ids,
            "picks": [json.dumps(dict(picks[i]), sort_keys=True) for i in ids],
        },
    )
    return int(result.rowcount)


@dataclass(frozen=True, slots=True)
class SampleRef:
    """What an imported label is checked against: its sample's day, query and results."""

    id: int
    day: dt.date
    query_norm: str
    result_ids: frozenset[str]
    selected: bool


def samples_by_id(conn: Connection, *, ids: Sequence[int]) -> dict[int, SampleRef]:
    """Which of these sample ids are stored? Their day, query and result ids."""
    if not ids:
        return {}
    rows = conn.execute(
        text(
            "SELECT s.id, s.sample_date, s.query_norm, s.signals ? :key AS selected, "
            "coalesce((SELECT array_agg(r->>'id') FROM jsonb_array_elements(s.results) r), "
            "'{}') AS result_ids FROM samples s WHERE s.id = ANY(:ids)"
        ),
        {"ids": sorted(set(ids)), "key": SELECTION_KEY},
    )
    return {
        int(r.id): SampleRef(
            id=int(r.id),
            day=r.sample_date,
            query_norm=r.query_norm,
            result_ids=frozenset(r.result_ids),
            selected=bool(r.selected),
        )
        for r in rows
    }


@dataclass(frozen=True, slots=True)
class SelectedSample:
    """A sample picked for annotation, with the human grades stored for its results.

    ``grades`` maps each of its results' ids to every annotator's grade of it (a result
    nobody labelled is absent); ``pool`` does the same for every labelled result that
    production showed for its query on the sample's day or before, its own results among
    them (the human ideal of the pooled nDCG, bounded as the judgment pool is: a compare
    run's results, or a result production never showed, do not lower production's
    figure); ``selection`` is what ``record_selection`` stored.
    """

    id: int
    day: dt.date
    ranker: str
    stratum: str
    segment: dict[str, Any]
    weight: float
    results: list[dict[str, Any]]
    selection: dict[str, Any]
    grades: dict[str, list[int]]
    pool: dict[str, list[int]]


def selected_samples(
    conn: Connection, *, first: dt.date, last: dt.date
) -> tuple[SelectedSample, ...]:
    """Which samples of ``first``..``last`` were picked for annotation, and what grades do
    people give their results and the other results production showed for their query
    up to their day? By day, then id."""
    rows = conn.execute(
        text(
            f"""
    SELECT s.id, s.sample_date, s.ranker, s.stratum, s.segment, s.weight, s.results,
           s.signals -> :key AS selection,
           coalesce(g.grades, '{{}}'::jsonb) AS grades
    FROM samples s
    LEFT JOIN LATERAL (
        SELECT jsonb_object_agg(x.result_id, x.grades) AS grades FROM (
            SELECT h.result_id, jsonb_agg(h.grade ORDER BY h.annotator) AS grades
            FROM human_labels h
            WHERE h.query_norm = s.query_norm
              AND h.result_id IN (
                  SELECT r->>'id' FROM samples p, jsonb_array_elements(p.results) r
                  WHERE p.query_norm = s.query_norm AND p.sample_date <= s.sample_date
                    AND {PRODUCTION_SAMPLES})
            GROUP BY h.result_id
        ) x
    ) g ON true
    WHERE s.sample_date BETWEEN :first AND :last AND s.signals ? :key
    ORDER BY s.sample_date, s.id
    """
        ),
        {"first": first, "last": last, "key": SELECTION_KEY},
    )
    out = []
    for r in rows:
        results = list(r.results or [])
        pool = {str(k): [int(g) for g in v] for k, v in r.grades.items()}
        shown = {str(result.get("id")) for result in results}
        out.append(
            SelectedSample(
                id=int(r.id),
                day=r.sample_date,
                ranker=r.ranker,
                stratum=r.stratum,
                segment=r.segment or {},
                weight=float(r.weight),
                results=results,
                selection=dict(r.selection),
                grades={k: v for k, v in pool.items() if k in shown},
                pool=pool,
            )
        )
    return tuple(out)
