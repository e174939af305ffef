"""A rerun of a day over searches that changed: which stored sample rows go, which stay.

``upsert_samples(replace_stale=True)`` copies the day's new sample into a temporary table
and, before inserting it (``ON CONFLICT DO NOTHING``), runs ``stale_step``'s statements
against the stored rows of the same sample (production's, or the compare flow's
rankers):

* a row the new sample holds with the same query text and results but other design
  figures (weight, inclusion probability, stratum, signals: an allocation or a panel
  history that moved since the first run) is updated in place, keeping its id and its
  verdicts, which depend only on the query and the results;
* a row whose results changed, or that the new sample does not hold, is deleted, and
  its verdicts and ensemble grades with it (the ``samples`` delete trigger); the
  judges' paid answers stay in the verdict cache, so re-judging pays nothing;
* the insert then adds the rows that are new.

A day whose sample was sent to annotators (a row carries ``label_reads.SELECTION_KEY``)
is kept whole instead, new rows included: the files out for labelling name its sample
ids, and the pick is a random subset of *that* sample. A warning says how many rows the
day's searches and the stored design would now give differently. Both take the day's
advisory lock first (``label_reads.sample_lock_keys``), so a pick and a rerun never
interleave.

A rerun under another configuration (source, sampling or judges) starts the day's
sample afresh, except a day sent for annotation: its sample stays, for the same reason,
and only its verdicts and ensemble grades go (``repository.reset_production_day``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from monitor.store import models
from monitor.store.label_reads import SELECTION_KEY, sample_lock_keys
from monitor.types import SampledQuery

__all__ = ["SAMPLE_COLUMNS", "stale_step"]

log = logging.getLogger(__name__)

#: What ``upsert_samples`` writes of a sample, in its COPY order.
SAMPLE_COLUMNS = (
    "id",
    "sample_date",
    "ranker",
    "query_id",
    "query_text",
    "query_norm",
    "list_no",
    "searched_at",
    "stratum",
    "segment",
    "inclusion_prob",
    "weight",
    "hard",
    "results",
    "signals",
)
#: The day's unique key of a sample row (none of them NULL).
_KEY = ("sample_date", "ranker", "query_norm", "list_no")
#: What a row's verdicts were given for: the same, and the verdicts stand.
_JUDGED = ("query_text", "results")
#: The rest: the design's figures for the row, updated in place when they moved.
_DESIGN = tuple(c for c in SAMPLE_COLUMNS[1:] if c not in _KEY + _JUDGED)


def stale_step(day: dt.date, queries: Sequence[SampledQuery]) -> Callable[[Any], None]:
    """The statements to run on the psycopg cursor once ``queries`` are copied into
    ``"_copy_samples"`` (``copy_rows``' ``before_insert``), as the module docstring says."""
    rankers = sorted({q.record.ranker for q in queries})
    params: dict[str, Any] = {
        "d": day,
        "r": rankers,
        "p": models.COMPARE_PREFIX + "%",
        "k": SELECTION_KEY,
    }
    compared = any(r.startswith(models.COMPARE_PREFIX) for r in rankers)
    scope = "s.ranker = ANY(%(r)s)" if compared else "s.ranker NOT LIKE %(p)s"
    stored = {c: f's."{c}"' for c in SAMPLE_COLUMNS} | {"signals": "(s.signals - %(k)s)"}

    def equal(columns: Sequence[str]) -> str:
        return "".join(f' AND n."{c}" IS NOT DISTINCT FROM {stored[c]}' for c in columns)

    key = " AND ".join(f'n."{c}" = s."{c}"' for c in _KEY)  # a hash join on the key
    day_rows = f"s.sample_date = %(d)s AND {scope}"
    same = key + equal(_JUDGED + _DESIGN)
    stale = (
        f"FROM samples s WHERE {day_rows} "
        f'AND NOT EXISTS (SELECT 1 FROM "_copy_samples" n WHERE {same})'
    )

    def run(cur: Any) -> None:
        a, b = sample_lock_keys(day)  # as an annotation pick takes it: never interleaved
        cur.execute("SELECT pg_advisory_xact_lock(%(a)s, %(b)s)", {"a": a, "b": b})
        cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM samples s WHERE {day_rows} AND s.signals ? %(k)s)",
            params,
        )
        if cur.fetchone()[0]:
            _keep_annotated(cur, day, stale, f"{day_rows} AND {same}", params)
            return
        assign = ", ".join(f'"{c}" = n."{c}"' for c in _DESIGN)
        moved = " OR ".join(f'n."{c}" IS DISTINCT FROM s."{c}"' for c in _DESIGN)
        cur.execute(
            f'UPDATE samples s SET {assign} FROM "_copy_samples" n '
            f"WHERE {day_rows} AND {key}{equal(_JUDGED)} AND ({moved})",
            params,
        )
        updated = cur.rowcount
        cur.execute(f"DELETE {stale}", params)
        if updated or cur.rowcount:
            log.info(
                "%s: of the stored sample, %d rows took the design's new weights in place "
                "and %d rows the day's searches no longer give were replaced",
                day.isoformat(),
                updated,
                cur.rowcount,
            )

    return run


def _keep_annotated(
    cur: Any, day: dt.date, stale: str, matched: str, params: dict[str, Any]
) -> None:
    """Keep a day sent for annotation as stored: count what differs, insert nothing."""
    cur.execute(f"SELECT count(*) {stale}", params)
    differ = int(cur.fetchone()[0])
    cur.execute(
        'SELECT count(*) FROM "_copy_samples" n '
        f"WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE {matched})",
        params,
    )
    new = int(cur.fetchone()[0])
    if differ or new:
        log.warning(
            "%s: the day's sample was sent for annotation, so it is kept as stored, "
            "although %d of its rows are not what the day's searches and the stored design "
            "give now and %d rows they give are not stored",
            day.isoformat(),
            differ,
            new,
        )
    cur.execute('DELETE FROM "_copy_samples"')  # nothing to insert
