"""The small storage API the pipeline writes and reads through.

Every write is idempotent: rows land through ``INSERT … ON CONFLICT`` on the tables'
unique keys, so writing the same day, sample or verdict twice stores it once. Bulk
rows (samples, verdicts, ensemble grades) go through COPY into a temporary table and
one ``INSERT … SELECT … ON CONFLICT DO NOTHING``: COPY's speed, upsert's safety.
Functions take a SQLAlchemy ``Connection`` and keyword-only arguments; the caller owns
the transaction.

One module because every bulk write shares the same COPY-into-a-temporary-table-then-
upsert helpers and the partition bookkeeping; the reads live apart (``reads``,
``metric_reads``, ``sample_reads``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.errors import UniqueViolation
from sqlalchemy import Connection, Row, text
from sqlalchemy.dialects.postgresql import insert

from monitor.errors import DatabaseError
from monitor.store import models, partitions
from monitor.store.label_reads import lock_day_sample, sent_for_annotation
from monitor.store.stale_samples import SAMPLE_COLUMNS, stale_step
from monitor.types import SampledQuery, Verdict, VerdictStatus

__all__ = [
    "NewLabel",
    "StoredVerdict",
    "cached_keys",
    "copy_rows",
    "delete_production_samples",
    "ensure_judge",
    "finish_run",
    "lookup_cache",
    "replace_daily_metrics",
    "reset_production_day",
    "start_run",
    "store_cache",
    "upsert_daily_metrics",
    "upsert_ensemble_grades",
    "upsert_human_labels",
    "upsert_samples",
    "write_verdicts",
]

log = logging.getLogger(__name__)


#: (metric, segment, judge, k, value, ci_low, ci_high, n, reason)
MetricTuple = tuple[str, str, str, int, float | None, float | None, float | None, int, str | None]


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """A verdict placed: which sample, which result at which position, which judge row."""

    sample_id: int
    judge_id: int
    result_id: str
    position: int
    verdict: Verdict


def copy_rows(
    conn: Connection,
    *,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict: str = "ON CONFLICT DO NOTHING",
    before_insert: Callable[[Any], None] | None = None,
) -> int:
    """COPY ``rows`` into ``table`` through a temp table; return how many were inserted.

    Rows that hit a unique key already present are skipped, never duplicated.
    ``before_insert`` gets the psycopg cursor between the COPY and the insert, when the
    copied rows can be read as ``"_copy_<table>"``.
    """
    cols = ", ".join(f'"{c}"' for c in columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        # Only the copied columns, no defaults or constraints: nothing to evaluate per row.
        cur.execute(f'DROP TABLE IF EXISTS "_copy_{table}"')
        cur.execute(
            f'CREATE TEMP TABLE "_copy_{table}" ON COMMIT DROP AS '
            f'SELECT {cols} FROM "{table}" WITH NO DATA'
        )
        with cur.copy(f'COPY "_copy_{table}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        if before_insert is not None:
            before_insert(cur)
        cur.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM "_copy_{table}" {conflict}')
        inserted = cur.rowcount
        cur.execute(f'DROP TABLE "_copy_{table}"')
    return int(inserted)


def _next_ids(conn: Connection, table: str, count: int) -> list[int]:
    """Reserve ``count`` ids from a table's sequence (COPY needs them up front)."""
    if count == 0:
        return []
    rows = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"),
        {"t": table, "n": count},
    )
    return [int(r[0]) for r in rows]


def ensure_judge(
    conn: Connection,
    *,
    name: str,
    kind: str,
    model: str,
    prompt_version: str,
    config_hash: str,
    params: Mapping[str, Any],
) -> int:
    """The id of this judge configuration, creating its row on first use."""
    stmt = (
        insert(models.Judge)
        .values(
            name=name,
            kind=kind,
            model=model,
            prompt_version=prompt_version,
            config_hash=config_hash,
            params=dict(params),
        )
        .on_conflict_do_nothing(index_elements=["name", "config_hash", "prompt_version"])
        .returning(models.Judge.id)
    )
    found = conn.execute(stmt).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            text(
                "SELECT id FROM judges WHERE name = :n AND config_hash = :c AND prompt_version = :p"
            ),
            {"n": name, "c": config_hash, "p": prompt_version},
        ).scalar_one()
    )


def start_run(
    conn: Connection, *, flow: str, run_date: dt.date, config_hash: str, run_key: str = ""
) -> int:
    """Open (or reopen, on a rerun of the same day) the run row; return its id.

    Its heartbeat starts now; the process and lease are the run's ``DayLease``'s to write.
    """
    stmt = (
        insert(models.Run)
        .values(
            flow=flow,
            run_date=run_date,
            run_key=run_key,
            status="running",
            config_hash=config_hash,
            counts={},
            heartbeat_at=text("now()"),
        )
        .on_conflict_do_update(
            index_elements=["flow", "run_date", "run_key"],
            set_={
                "status": "running",
                "config_hash": config_hash,
                "started_at": text("now()"),
                "heartbeat_at": text("now()"),
                "finished_at": None,
                "error": None,
            },
        )
        .returning(models.Run.id)
    )
    return int(conn.execute(stmt).scalar_one())


def finish_run(
    conn: Connection,
    *,
    run_id: int,
    status: str,
    counts: Mapping[str, Any],
    cost_usd: float,
    duration_s: float,
    error: str | None = None,
) -> None:
    conn.execute(
        text(
            "UPDATE runs SET status = :s, counts = CAST(:c AS jsonb), cost_usd = :cost, "
            "duration_s = :d, error = :e, finished_at = now() WHERE id = :id"
        ),
        {
            "s": status,
            "c": json.dumps(dict(counts), sort_keys=True),
            "cost": cost_usd,
            "d": duration_s,
            "e": error,
            "id": run_id,
        },
    )


def _results_json(query: SampledQuery, top_k: int) -> str:
    return json.dumps(
        [
            {
                "id": r.id,
                "position": r.position,
                "title": r.title,
                "text": r.text,
                "metadata": dict(r.metadata),
            }
            for r in query.record.results[:top_k]
        ],
        ensure_ascii=False,
        default=str,
    )


def upsert_samples(
    conn: Connection,
    *,
    day: dt.date,
    queries: Sequence[SampledQuery],
    top_k: int,
    replace_stale: bool = False,
) -> dict[tuple[str, str, int], int]:
    """Store the day's sample; return ``{(ranker, normalized query, list_no): sample id}``
    (``list_no`` 0 but for a panel query's further lists: ``SampledQuery.list_no``).

    A rerun of the day keeps the rows already stored (same date and seed give the same
    sample) and adds none twice. With ``replace_stale``, the stored rows of the same
    sample (production's, or the compare flow's rankers) end as ``queries`` say, so that
    a day rerun over searches that changed (late logs, a fixed export) holds the sample
    those searches give, not a mix of two samples whose weights each add up to the day's
    searches: rows whose results are the same keep their ids and verdicts (their
    weights updated), the others are replaced (``monitor.store.stale_samples``, which
    also keeps a day sent for annotation whole). An empty ``queries`` replaces nothing
    (a source that returns nothing is more likely broken than the day empty). The day's
    month partitions are created first (the next month's too), on the first run of a
    month.
    """
    partitions.ensure_partitions(conn, day=day)
    ids = _next_ids(conn, "samples", len(queries))
    rows = (
        (
            sample_id,
            day,
            q.record.ranker,
            q.record.query_id,
            q.record.query,
            q.record.normalized_query,
            q.list_no,
            q.record.timestamp,
            q.stratum,
            json.dumps(dict(q.record.segment), sort_keys=True),
            q.inclusion_probability,
            q.weight,
            q.hard,
            _results_json(q, top_k),
            json.dumps(
                {
                    "clicks": q.record.clicks,
                    "zero_result": q.record.zero_result,
                    "reformulated": q.record.reformulated,
                }
            ),
        )
        for sample_id, q in zip(ids, queries, strict=True)
    )
    stale = stale_step(day, queries) if replace_stale and queries else None
    copy_rows(conn, table="samples", columns=SAMPLE_COLUMNS, rows=rows, before_insert=stale)
    found = conn.execute(
        text("SELECT ranker, query_norm, list_no, id FROM samples WHERE sample_date = :d"),
        {"d": day},
    )
    return {(r.ranker, r.query_norm, int(r.list_no)): int(r.id) for r in found}


def delete_production_samples(conn: Connection, *, day: dt.date) -> None:
    """Remove the day's production samples, and with them their verdicts and ensemble
    grades (the compare flow's samples of the day stay)."""
    conn.execute(
        text(f"DELETE FROM samples WHERE sample_date = :d AND {models.PRODUCTION_SAMPLES}"),
        {"d": day},
    )


def reset_production_day(conn: Connection, *, day: dt.date) -> bool:
    """Clear the day's production sample for a run under another configuration
    (``delete_production_samples``), unless it was sent for annotation: the annotators'
    files name its sample ids and the pick is a random subset of *that* sample, so it
    stays and only its verdicts and ensemble grades go, for the judges as configured now
    to grade it again (from the verdict cache). True when it was kept."""
    lock_day_sample(conn, day=day)  # as a pick and a rerun over changed logs take it
    production = f"s.sample_date = :d AND {models.PRODUCTION_SAMPLES}"
    params = {"d": day}
    if not sent_for_annotation(conn, day=day):
        delete_production_samples(conn, day=day)
        return False
    for table in ("verdicts", "ensemble_grades"):
        conn.execute(
            text(
                f"DELETE FROM {table} x USING samples s WHERE x.sample_id = s.id "
                f"AND x.sample_date = s.sample_date AND {production}"
            ),
            params,
        )
    log.warning(
        "%s: the configuration changed, but the day's sample was sent for annotation, so "
        "it is kept and only graded again by the judges as configured now",
        day.isoformat(),
    )
    return True


#: What a judge answered and what it cost: stored alike in ``verdicts`` and the cache.
ANSWER_COLUMNS = (
    "mode",
    "status",
    "grade",
    "expected_grade",
    "reasoning",
    "raw",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "cost_usd",
    "truncated",
)


def _answer(v: Verdict) -> tuple[Any, ...]:
    """A verdict's values for ``ANSWER_COLUMNS``, in that order."""
    return (
        v.mode,
        v.status.value,
        v.grade,
        v.expected_grade,
        v.reasoning,
        v.raw,
        v.input_tokens,
        v.output_tokens,
        v.latency_ms,
        v.cost_usd,
        v.truncated,
    )


VERDICT_COLUMNS = (
    "sample_id",
    "judge_id",
    "result_id",
    "position",
    *ANSWER_COLUMNS,
    "cache_hit",
    "cache_key",
    "sample_date",
)


def _sample_dates(conn: Connection, sample_ids: Iterable[int]) -> dict[int, dt.date]:
    """Each sample's date (the partition key of its verdicts and ensemble grades); an id
    that is not stored is refused, as a foreign key would."""
    wanted = set(sample_ids)
    if not wanted:
        return {}
    # one id range: a day's ids are contiguous, and a range probes each month's primary
    # key index once where ``= ANY`` of thousands of ids would probe it once per id
    rows = conn.execute(
        text("SELECT id, sample_date FROM samples WHERE id BETWEEN :lo AND :hi"),
        {"lo": min(wanted), "hi": max(wanted)},
    )
    dates = {int(r.id): r.sample_date for r in rows if r.id in wanted}
    missing = wanted - dates.keys()
    if missing:
        shown = ", ".join(str(i) for i in sorted(missing)[:5])
        raise DatabaseError(
            f"cannot store rows for {len(missing)} sample id(s) that are not stored "
            f"(e.g. {shown}): store the samples first"
        )
    return dates


def _verdict_row(stored: StoredVerdict, day: dt.date) -> tuple[Any, ...]:
    v = stored.verdict
    return (
        stored.sample_id,
        stored.judge_id,
        stored.result_id,
        stored.position,
        *_answer(v),
        v.cache_hit,
        v.cache_key,
        day,
    )


def write_verdicts(conn: Connection, *, verdicts: Iterable[StoredVerdict]) -> int:
    """Bulk-store verdicts with COPY; return how many were new.

    First writes for these samples and judges (the common case) COPY straight into the
    table; if any row is already there (a rerun, a resume) the rows go through the
    temp-table upsert instead, so nothing is ever duplicated, and a valid answer replaces
    the day's stored invalid one (counted as written). The cache entries the
    verdicts came from are marked used (``partitions.touch_cache``).
    """
    placed = list(verdicts)
    if not placed:
        return 0
    dates = _sample_dates(conn, (v.sample_id for v in placed))
    rows = [_verdict_row(v, dates[v.sample_id]) for v in placed]
    partitions.touch_cache(conn, keys=[v.verdict.cache_key for v in placed if v.verdict.cache_hit])
    fresh = not conn.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM verdicts WHERE sample_id = ANY(:s) "
            "AND judge_id = ANY(:j) AND sample_date = ANY(:d))"
        ),
        {
            "s": sorted(dates),
            "j": sorted({r[1] for r in rows}),
            "d": sorted(set(dates.values())),
        },
    ).scalar_one()
    if fresh and _copy_new(conn, table="verdicts", columns=VERDICT_COLUMNS, rows=rows):
        return len(rows)
    return copy_rows(
        conn,
        table="verdicts",
        columns=VERDICT_COLUMNS,
        rows=_one_per_key(rows),
        conflict=_REPLACE_INVALID_VERDICT,
    )


_VERDICT_KEY = ("sample_id", "result_id", "judge_id", "mode", "sample_date")
_VERDICT_KEY_AT = tuple(VERDICT_COLUMNS.index(c) for c in _VERDICT_KEY)
_STATUS_AT = VERDICT_COLUMNS.index("status")

#: A rerun's valid answer replaces the day's stored invalid one (the call that failed
#: yesterday was asked again and answered); a valid stored verdict is never touched.
_REPLACE_INVALID_VERDICT = (
    f"ON CONFLICT ({', '.join(_VERDICT_KEY)}) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in VERDICT_COLUMNS if c not in _VERDICT_KEY)
    + " WHERE verdicts.status <> 'ok' AND EXCLUDED.status = 'ok'"
)


def _one_per_key(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One row per verdict key, a valid one where the batch has both: an upsert may not
    touch the same row twice in one statement."""
    kept: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in rows:
        key = tuple(row[i] for i in _VERDICT_KEY_AT)
        if key not in kept or (kept[key][_STATUS_AT] != "ok" and row[_STATUS_AT] == "ok"):
            kept[key] = row
    return list(kept.values())


def _copy_new(
    conn: Connection, *, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> bool:
    """COPY rows expected to be new straight into ``table``; False (and nothing written)
    if one was there after all, for the caller to take ``copy_rows``' safe path."""
    raw = conn.connection.driver_connection
    assert raw is not None
    cols = ", ".join(f'"{c}"' for c in columns)
    try:
        # raw.transaction() is a savepoint inside the caller's transaction
        with (
            raw.transaction(),
            raw.cursor() as cur,
            cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return True
    except UniqueViolation:
        return False  # written concurrently, or repeated within the batch


CACHE_COLUMNS = ("cache_key", "judge_name", "model", "prompt_version", *ANSWER_COLUMNS)


#: A newer answer replaces a stored one that is not valid (never served, see below).
_REPLACE_INVALID_ANSWER = (
    "ON CONFLICT (cache_key) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in CACHE_COLUMNS[1:])
    + ", created_at = now() WHERE verdict_cache.status <> 'ok'"
)


def store_cache(conn: Connection, *, verdicts: Iterable[Verdict]) -> int:
    """Remember paid answers by cache key (cache hits themselves are not stored again).

    Invalid answers are stored too (what was paid for), and a newer answer replaces one.
    """
    rows = list(
        {
            v.cache_key: (v.cache_key, v.judge, v.model, v.prompt_version, *_answer(v))
            for v in verdicts
            if not v.cache_hit
        }.values()
    )
    if not rows:
        return 0
    # Answers are stored right after their keys were looked up and missed: straight in,
    # unless another run stored one meanwhile, or an invalid answer is being replaced
    # (then the temp-table upsert).
    if _copy_new(conn, table="verdict_cache", columns=CACHE_COLUMNS, rows=rows):
        return len(rows)
    return copy_rows(
        conn,
        table="verdict_cache",
        columns=CACHE_COLUMNS,
        rows=rows,
        conflict=_REPLACE_INVALID_ANSWER,
    )


#: Cache keys per lookup statement: a day's keys (hundreds of thousands at scale) bound
#: as one array would make one huge statement and one huge result.
_LOOKUP_CHUNK = 5_000


def _valid_answers(conn: Connection, columns: str, keys: Sequence[str]) -> Iterator[Row[Any]]:
    """The cache's valid answers to ``keys`` (each asked once), ``columns`` of each."""
    distinct = list(dict.fromkeys(keys))
    for start in range(0, len(distinct), _LOOKUP_CHUNK):
        yield from conn.execute(
            text(
                f"SELECT {columns} FROM verdict_cache "
                "WHERE cache_key = ANY(:keys) AND status = 'ok'"
            ),
            {"keys": distinct[start : start + _LOOKUP_CHUNK]},
        )


def cached_keys(conn: Connection, *, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` the cache would answer (a valid answer is stored): what
    ``lookup_cache`` would return, without reading the answers."""
    return {r.cache_key for r in _valid_answers(conn, "cache_key", keys)}


def lookup_cache(conn: Connection, *, keys: Sequence[str]) -> dict[str, Verdict]:
    """Valid answers already paid for, by cache key, marked as cache hits (no cost, no
    tokens). An invalid answer is never served: it is asked again (``judging.cache``)."""
    columns = (
        "cache_key, judge_name, model, prompt_version, mode, status, grade, "
        "expected_grade, reasoning, raw, truncated"
    )
    return {
        r.cache_key: Verdict(
            judge=r.judge_name,
            cache_key=r.cache_key,
            status=VerdictStatus(r.status),
            grade=r.grade,
            reasoning=r.reasoning,
            raw=r.raw,
            model=r.model,
            prompt_version=r.prompt_version,
            mode=r.mode,
            expected_grade=r.expected_grade,
            truncated=r.truncated,
            cache_hit=True,
        )
        for r in _valid_answers(conn, columns, keys)
    }


def upsert_ensemble_grades(
    conn: Connection,
    *,
    rows: Iterable[tuple[int, str, int, float | None, float | None, int, str]],
) -> int:
    """Store (sample_id, result_id, position, grade, disagreement, n_judges, method) rows.

    Recomputed aggregates replace the old ones (a judge that answered on the rerun
    changes the aggregate), so this one updates on conflict.
    """
    grades = list(rows)
    dates = _sample_dates(conn, (row[0] for row in grades))
    return copy_rows(
        conn,
        table="ensemble_grades",
        columns=(
            "sample_id",
            "result_id",
            "position",
            "grade",
            "disagreement",
            "n_judges",
            "method",
            "sample_date",
        ),
        rows=((*row, dates[row[0]]) for row in grades),
        conflict=(
            "ON CONFLICT (sample_id, result_id, sample_date) DO UPDATE SET "
            "grade = EXCLUDED.grade, disagreement = EXCLUDED.disagreement, "
            "n_judges = EXCLUDED.n_judges, "
            "method = EXCLUDED.method, position = EXCLUDED.position"
        ),
    )


def upsert_daily_metrics(
    conn: Connection,
    *,
    day: dt.date,
    rows: Iterable[
        tuple[str, str, str, int, float | None, float | None, float | None, int, str | None]
    ],
) -> int:
    """Store (metric, segment, judge, k, value, ci_low, ci_high, n, reason) rows for a day.

    Metrics are derived data: recomputing a day replaces its figures.
    """
    return copy_rows(
        conn,
        table="daily_metrics",
        columns=(
            "metric_date",
            "metric",
            "segment",
            "judge",
            "k",
            "value",
            "ci_low",
            "ci_high",
            "n",
            "reason",
        ),
        rows=((day, *row) for row in rows),
        conflict=(
            "ON CONFLICT (metric_date, metric, segment, judge, k) DO UPDATE SET "
            "value = EXCLUDED.value, ci_low = EXCLUDED.ci_low, ci_high = EXCLUDED.ci_high, "
            "n = EXCLUDED.n, reason = EXCLUDED.reason, updated_at = now()"
        ),
    )


def replace_daily_metrics(
    conn: Connection,
    *,
    day: dt.date,
    rows: Iterable[
        tuple[str, str, str, int, float | None, float | None, float | None, int, str | None]
    ],
) -> int:
    """Store a day's figures in place of all it held: none left over from a former run."""
    conn.execute(text("DELETE FROM daily_metrics WHERE metric_date = :d"), {"d": day})
    return upsert_daily_metrics(conn, day=day, rows=rows)


@dataclass(frozen=True, slots=True)
class NewLabel:
    """A person's grade for a (query, result), as ``upsert_human_labels`` stores it."""

    query_id: str | None
    query_text: str
    query_norm: str
    result_id: str
    result_text: str | None
    grade: int
    annotator: str


#: Labels per INSERT statement: its bound parameters stay well under Postgres' limit.
_LABEL_CHUNK = 1000


def upsert_human_labels(conn: Connection, *, labels: Sequence[NewLabel], source: str) -> None:
    """Insert new labels and change the grade (and source) of stored ones whose grade
    differs; a label stored with the same grade is left as it is."""
    for start in range(0, len(labels), _LABEL_CHUNK):
        values = [
            {
                "query_id": r.query_id,
                "query_text": r.query_text,
                "query_norm": r.query_norm,
                "result_id": r.result_id,
                "result_text": r.result_text,
                "grade": r.grade,
                "annotator": r.annotator,
                "source": source,
            }
            for r in labels[start : start + _LABEL_CHUNK]
        ]
        stmt = insert(models.HumanLabel).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["query_norm", "result_id", "annotator"],
            set_={
                "grade": stmt.excluded.grade,
                "source": stmt.excluded.source,
                "result_text": stmt.excluded.result_text,
            },
            where=models.HumanLabel.grade.is_distinct_from(stmt.excluded.grade),
        )
        conn.execute(stmt)
