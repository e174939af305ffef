"""``judge-monitor db``: create or upgrade the schema, say where the data is, prune it."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table

from monitor.cli.app import app, console
from monitor.config import load_settings
from monitor.errors import InputError
from monitor.store.db import connect
from monitor.store.migrate import schema_status, upgrade
from monitor.store.partitions import parse_older_than, prune
from monitor.store.runs import RunState, run_states

__all__ = ["db_app"]

db_app = typer.Typer(
    help="Database schema: upgrade, status and prune (retention).", no_args_is_help=True
)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the newest)."),
) -> None:
    """Apply schema migrations (starts the embedded PostgreSQL if no URL is set)."""
    database = connect(load_settings())
    try:
        console.print(f"database: {database.where}")
        before, after = upgrade(database.engine, database.url, revision)
    finally:
        database.dispose()
    if before == after:
        console.print(f"schema already at revision {after}")
    else:
        console.print(f"schema upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def db_status() -> None:
    """Where the database is, its schema revision and how many rows each table holds."""
    database = connect(load_settings())
    try:
        status = schema_status(database.engine, database.url)
        runs = None
        if status.up_to_date:
            with database.engine.connect() as conn:
                runs = run_states(conn)
    finally:
        database.dispose()
    console.print(f"database: {database.where}")
    state = "up to date" if status.up_to_date else "needs `judge-monitor db upgrade`"
    console.print(f"schema revision: {status.current or 'none'} (head {status.head}, {state})")
    table = Table("table", "rows")
    for name, count in status.row_counts.items():
        table.add_row(name, f"{count:,}")
    if status.row_counts:
        console.print(table)
    if runs is not None:
        _print_runs(*runs)


def _print_runs(counts: dict[str, int], unfinished: list[RunState]) -> None:
    """Runs by status (a dead run's stale ``running`` row reads ``abandoned``), and the
    latest runs that did not end well or have not ended."""
    if not counts:
        return
    console.print(
        "runs: " + ", ".join(f"{n:,} {status}" for status, n in sorted(counts.items())),
        highlight=False,
    )
    if not unfinished:
        return
    table = Table("run", "flow", "date", "status", "process", "started", "heartbeat", "error")
    for r in unfinished:
        process = f"pid {r.pid} on {r.host}" if r.pid is not None else ""
        table.add_row(
            f"#{r.id}",
            r.flow,
            r.run_date.isoformat(),
            r.status,
            process,
            _utc(r.started_at),
            _utc(r.heartbeat_at),
            (r.error or "")[:80],
        )
    console.print(table)


def _utc(at: dt.datetime | None) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if at else ""


def _size(n: int) -> str:
    """Bytes, readable: 512 B, 3.4 MB."""
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


_PRUNE_HELP = (
    "Drop whole months of samples, verdicts, ensemble grades and pairwise judgments older "
    "than the cutoff, and the verdict cache entries not used since it.\n\n"
    "Only months that lie entirely before the cutoff are dropped, as whole partitions: never "
    "a partial month, so the month the cutoff falls in is kept until the cutoff passes its "
    "end. daily_metrics and runs are kept (the history the dashboards show).\n\n"
    "The verdict cache is keyed by content, not by date, so it is not partitioned: an entry "
    "goes when no stored verdict has come from it since the cutoff (its last_used day, kept "
    "to within a week, so it may stay up to a week longer), deleted in batches. An answer "
    "only calibration or compare used is paid again after the cutoff.\n\n"
    "The daily run applies the retention_days setting itself."
)


@db_app.command("prune", help=_PRUNE_HELP)
def db_prune(
    older_than: str | None = typer.Option(
        None,
        "--older-than",
        metavar="DAYS|DATE",
        help="Cutoff: a number of days before today (UTC), or a date YYYY-MM-DD. "
        "Default: the retention_days setting.",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Report what would be dropped, drop nothing."
    ),
) -> None:
    """Drop whole months older than a cutoff, and cache entries not used since it."""
    settings = load_settings()
    today = dt.datetime.now(dt.UTC).date()
    if older_than is not None:
        cutoff = parse_older_than(older_than, today=today)
    elif settings.retention_days is not None:
        cutoff = today - dt.timedelta(days=settings.retention_days)
    else:
        raise InputError(
            "db prune: give --older-than DAYS|DATE, or set retention_days "
            "(JUDGE_MONITOR_RETENTION_DAYS)"
        )
    database = connect(settings)
    try:
        console.print(f"database: {database.where}")
        report = prune(database, cutoff=cutoff, dry_run=dry_run)
    finally:
        database.dispose()
    verb = "would drop" if dry_run else "dropped"
    console.print(f"cutoff {cutoff.isoformat()}: rows dated before it are past retention")
    if report.partitions:
        table = Table("month", "table", "partition", "rows", "bytes")
        for p in report.partitions:
            rows = f"{p.rows:,}" if p.exact else f"~{p.rows:,}"
            table.add_row(p.first.strftime("%Y-%m"), p.table, p.name, rows, _size(p.bytes))
        console.print(table)
    months = len({p.first for p in report.partitions})
    console.print(
        f"{verb} {months} month(s): {len(report.partitions)} partitions, "
        f"{'' if report.exact else '~'}{report.rows:,} rows, {_size(report.bytes)}"
    )
    if not report.exact:
        console.print("(~: the planner's estimate for partitions of a million rows or more)")
    for name in report.kept_straddling:
        console.print(f"kept {name}: the cutoff falls inside its month (never a partial month)")
    if report.cache is not None:
        console.print(
            f"verdict cache: {verb} {report.cache.rows:,} entries not used since "
            f"{report.cache.before.isoformat()} ({_size(report.cache.bytes)})"
        )
