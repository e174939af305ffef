"""Monthly partitions of the tables that grow by the day, and retention by whole months.

``samples``, ``verdicts``, ``ensemble_grades`` (by their sample's date),
``pairwise_judgments`` (by its judgment date) and ``pool_days`` are partitioned by
calendar month, one partition ``<table>_yYYYYmMM`` per month plus ``<table>_default``,
which catches a row whose month has no partition yet, so that no insert ever fails.
The migration-managed SQL function ``judge_monitor_ensure_partitions(first, last)``
creates the months ahead (moving any rows the default partition holds for a month into
it): the daily run calls it through ``ensure_partitions`` for its day's month and the
next.

Retention (``prune``) drops whole months, every partitioned table's partition of the
month together, and only months that lie entirely before the cutoff: a month that
straddles it is kept whole (never a partial month, and never a ``DELETE`` of millions of
rows). ``daily_metrics`` and ``runs`` are kept: a few hundred figures a day are the
history the dashboards and the change-point test read, and so is the judgment pool's
running sum (``monitor.store.pool``): the pooled ideal keeps every judgment ever made,
so a prune does not move the next day's nDCG (only the per-day parts of the dropped
months go, with their ``pool_days`` partitions).

The verdict cache is not partitioned: it is keyed by content, and an answer paid for in
January serves December's identical question. Instead each entry carries ``last_used``,
the day a stored verdict last came from it (bumped by ``touch_cache`` when verdicts are
written, at most once every ``CACHE_USE_RESOLUTION_DAYS`` per entry so a key hit every
day is not rewritten every day), and ``prune`` deletes, in batches of committed
transactions found through the index on ``last_used``, the entries not used since the
cutoff (the last-used day is known to
within that resolution, so an entry may stay up to that many days longer). Calibration
and compare reads that do not store verdicts do not bump it: an answer only they used
is paid again after the retention period.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from monitor.errors import InputError
from monitor.store.db import Database

__all__ = [
    "CACHE_USE_RESOLUTION_DAYS",
    "EXACT_BELOW",
    "PARTITIONED",
    "CachePrune",
    "DroppedPartition",
    "Partition",
    "PruneReport",
    "apply_retention",
    "ensure_partitions",
    "is_partition_name",
    "month_partitions",
    "parse_older_than",
    "prune",
    "touch_cache",
]

#: Each partitioned table and the day column it is partitioned on.
PARTITIONED = {
    "samples": "sample_date",
    "verdicts": "sample_date",
    "ensemble_grades": "sample_date",
    "pairwise_judgments": "judgment_date",
    "pool_days": "sample_date",
}

#: ``last_used`` of a cache entry is bumped when it is at least this many days old.
CACHE_USE_RESOLUTION_DAYS = 7

_NAME = re.compile(rf"^({'|'.join(PARTITIONED)})_(y\d{{4}}m\d{{2}}|default)$")
_BOUND = re.compile(r"FROM \('(\d{4}-\d{2}-\d{2})'\) TO \('(\d{4}-\d{2}-\d{2})'\)")
_CACHE_BATCH = 10_000


def is_partition_name(name: str) -> bool:
    """Whether ``name`` is one of the partitions (not a table of the models): what
    Alembic's autogenerate and the schema comparison leave out."""
    return _NAME.match(name) is not None


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def ensure_partitions(conn: Connection, *, day: dt.date, months_ahead: int = 1) -> int:
    """Create the partitions of ``day``'s month and the ``months_ahead`` months after it
    that do not exist yet; return how many were created (0 on all but a month's first
    run: the function only looks them up then)."""
    last = _add_months(_month(day), months_ahead)
    created = conn.execute(
        text("SELECT judge_monitor_ensure_partitions(:first, :last)"),
        {"first": _month(day), "last": last},
    ).scalar_one()
    return int(created)


@dataclass(frozen=True, slots=True)
class Partition:
    """One month's partition of one table: its bounds [first, end) and its size."""

    table: str
    name: str
    first: dt.date
    end: dt.date
    bytes: int
    estimated_rows: int  # the planner's estimate; -1 before the first ANALYZE


def month_partitions(conn: Connection) -> tuple[Partition, ...]:
    """Every month partition of the partitioned tables (not the default ones), oldest
    month first, with its size on disk (rows, indexes and TOAST)."""
    rows = conn.execute(
        text(
            "SELECT p.relname AS parent, c.relname AS name, "
            "pg_get_expr(c.relpartbound, c.oid) AS bound, pg_total_relation_size(c.oid) AS size, "
            "c.reltuples AS estimate "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = ANY(:tables) AND pg_table_is_visible(p.oid) "
            "AND c.relkind = 'r'"
        ),
        {"tables": list(PARTITIONED)},
    ).all()
    found = []
    for row in rows:
        bound = _BOUND.search(row.bound or "")
        if bound is None:  # the default partition
            continue
        found.append(
            Partition(
                table=row.parent,
                name=row.name,
                first=dt.date.fromisoformat(bound.group(1)),
                end=dt.date.fromisoformat(bound.group(2)),
                bytes=int(row.size),
                estimated_rows=int(row.estimate),
            )
        )
    return tuple(sorted(found, key=lambda p: (p.first, list(PARTITIONED).index(p.table))))


def parse_older_than(value: str, *, today: dt.date) -> dt.date:
    """The cutoff ``--older-than`` names: a number of days before ``today``, or a date
    (YYYY-MM-DD). Rows dated before the cutoff are past retention."""
    raw = value.strip()
    if raw.isdigit():
        return today - dt.timedelta(days=int(raw))
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"--older-than {value!r}: give a number of days (e.g. 365) or a date (YYYY-MM-DD)"
        ) from None


@dataclass(frozen=True, slots=True)
class DroppedPartition:
    """A partition ``prune`` dropped (or, on a dry run, would drop): its rows are
    counted, or for a partition of ``EXACT_BELOW`` rows or more the planner's estimate
    (``exact`` False), since counting ten million rows would take longer than the drop."""

    table: str
    name: str
    first: dt.date
    end: dt.date
    rows: int
    bytes: int
    exact: bool = True


@dataclass(frozen=True, slots=True)
class CachePrune:
    """Verdict cache entries not used since the cutoff, deleted (or to be)."""

    before: dt.date
    rows: int
    bytes: int


@dataclass(frozen=True)
class PruneReport:
    """What ``prune`` dropped: whole month partitions, and cache entries."""

    cutoff: dt.date
    dry_run: bool
    partitions: tuple[DroppedPartition, ...] = ()
    kept_straddling: tuple[str, ...] = ()
    cache: CachePrune | None = None

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.partitions)

    @property
    def exact(self) -> bool:
        """Whether ``rows`` was counted (not estimated for a big partition)."""
        return all(p.exact for p in self.partitions)


#: Partitions estimated at this many rows or more are not counted (see DroppedPartition).
EXACT_BELOW = 1_000_000


def _dropped(conn: Connection, p: Partition, exact_below: int) -> DroppedPartition:
    if p.estimated_rows >= exact_below:
        return DroppedPartition(p.table, p.name, p.first, p.end, p.estimated_rows, p.bytes, False)
    # the name comes from the catalog and matched _NAME: no quoting issue, no injection
    rows = int(conn.execute(text(f'SELECT count(*) FROM "{p.name}"')).scalar_one())
    return DroppedPartition(p.table, p.name, p.first, p.end, rows, p.bytes)


def prune(
    database: Database,
    *,
    cutoff: dt.date,
    dry_run: bool = False,
    cache: bool = True,
    cache_batch: int = _CACHE_BATCH,
    exact_below: int = EXACT_BELOW,
) -> PruneReport:
    """Drop every month partition that lies entirely before ``cutoff`` (all tables'
    partitions of a month in one transaction), then delete the verdict cache entries
    not used since the cutoff, ``cache_batch`` per transaction. ``dry_run`` only counts.
    Partitions the planner estimates at ``exact_below`` rows or more are not counted.

    A month the cutoff falls inside is kept whole; the default partitions are never
    dropped.
    """
    with database.engine.begin() as conn:
        every = month_partitions(conn)
        old = [p for p in every if p.end <= cutoff and is_partition_name(p.name)]
        straddling = tuple(p.name for p in every if p.first < cutoff < p.end)
        dropped = tuple(_dropped(conn, p, exact_below) for p in old)
        if not dry_run:
            # children before the samples they belong to (no constraint forces it)
            for p in sorted(old, key=lambda p: (p.first, -list(PARTITIONED).index(p.table))):
                conn.execute(text(f'DROP TABLE "{p.name}"'))
            # the designs of the months whose samples went
            for p in old:
                if p.table == "samples":
                    conn.execute(
                        text(
                            "DELETE FROM day_designs WHERE sample_date >= :a AND sample_date < :b"
                        ),
                        {"a": p.first, "b": p.end},
                    )
    pruned = _prune_cache(database, cutoff, dry_run=dry_run, batch=cache_batch) if cache else None
    return PruneReport(
        cutoff=cutoff,
        dry_run=dry_run,
        partitions=dropped,
        kept_straddling=straddling,
        cache=pruned,
    )


def _prune_cache(database: Database, cutoff: dt.date, *, dry_run: bool, batch: int) -> CachePrune:
    """Cache entries last used before ``cutoff`` (less the resolution of ``last_used``):
    counted, or deleted ``batch`` per transaction (each batch found through the index on
    ``last_used``), so no lock is held for long and the cost is the entries deleted."""
    before = cutoff - dt.timedelta(days=CACHE_USE_RESOLUTION_DAYS)
    if dry_run:
        with database.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT count(*) AS n, coalesce(sum(pg_column_size(c.*)), 0) AS size "
                    "FROM verdict_cache c WHERE c.last_used < :before"
                ),
                {"before": before},
            ).one()
        return CachePrune(before=before, rows=int(row.n), bytes=int(row.size))
    rows = size = 0
    while True:
        with database.engine.begin() as conn:
            row = conn.execute(
                text(
                    "WITH gone AS (DELETE FROM verdict_cache WHERE ctid = ANY(ARRAY("
                    "SELECT ctid FROM verdict_cache WHERE last_used < :before LIMIT :n)) "
                    "RETURNING pg_column_size(verdict_cache.*) AS size) "
                    "SELECT count(*) AS n, coalesce(sum(size), 0) AS size FROM gone"
                ),
                {"n": batch, "before": before},
            ).one()
        rows += int(row.n)
        size += int(row.size)
        if row.n < batch:
            return CachePrune(before=before, rows=rows, bytes=size)


def apply_retention(
    database: Database, retention_days: int | None, *, today: dt.date | None = None
) -> PruneReport | None:
    """The ``retention_days`` setting, applied: drop the months entirely older than
    ``retention_days`` days before ``today``; when one went, prune the cache to the same
    cutoff too (so the cache is walked once a month, not every day). None keeps all."""
    if retention_days is None:
        return None
    today = today or dt.datetime.now(dt.UTC).date()
    cutoff = today - dt.timedelta(days=retention_days)
    report = prune(database, cutoff=cutoff, cache=False)
    if not report.partitions:
        return report
    pruned = _prune_cache(database, cutoff, dry_run=False, batch=_CACHE_BATCH)
    return PruneReport(
        cutoff=report.cutoff,
        dry_run=False,
        partitions=report.partitions,
        kept_straddling=report.kept_straddling,
        cache=pruned,
    )


def touch_cache(conn: Connection, *, keys: Sequence[str]) -> int:
    """Record that these cache entries served a stored verdict today (``last_used``),
    rewriting only entries last marked ``CACHE_USE_RESOLUTION_DAYS`` or more days ago;
    return how many were marked."""
    if not keys:
        return 0
    result = conn.execute(
        text(
            "UPDATE verdict_cache SET last_used = current_date WHERE cache_key = ANY(:keys) "
            "AND last_used <= current_date - CAST(:days AS integer)"
        ),
        {"keys": list(dict.fromkeys(keys)), "days": CACHE_USE_RESOLUTION_DAYS},
    )
    return int(result.rowcount or 0)
