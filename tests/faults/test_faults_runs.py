"""A run that died is never ``running`` forever, and a day is judged by one run at a time.

In the test process, on a real Postgres: a ``running`` row left by a process that died
(its heartbeat set in the past, or fresh but with nobody holding the day's lock) reads
``abandoned`` for ``db status`` and the exporter, and the next run of the day records it
so and takes the day over; a run whose holder still holds the lock past its lease is
refused with the session to end. The heartbeat itself beats while a run is going. A
degraded day's ensemble written from a subset of its judges shows in its figures.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

import pytest
from fault_setup import DAY, LEXICAL, day_settings, llm_config, run_row, scalar
from prometheus_client import generate_latest
from sqlalchemy import text
from typer.testing import CliRunner

from monitor.cli import app
from monitor.export.exporter import exporter_engine, make_registry
from monitor.pipeline.day import run_day
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.run_lease import DayBusyError, DayLease
from monitor.store.runs import abandoned_runs, run_states
from monitor.testing import FakeOpenAI, Reply


def _dead_run(database: Database, *, heartbeat_age_s: float, lease_s: float = 120.0) -> int:
    """A ``running`` row of DAY as a process on another host left it when it died."""
    with database.engine.begin() as conn:
        run_id = repo.start_run(conn, flow="daily", run_date=DAY, config_hash="old")
        conn.execute(
            text(
                "UPDATE runs SET pid = 424242, host = 'gone-host', lease_s = :lease, "
                "heartbeat_at = now() - make_interval(secs => :age), "
                "started_at = now() - make_interval(secs => :age + 60) WHERE id = :id"
            ),
            {"age": heartbeat_age_s, "lease": lease_s, "id": run_id},
        )
    return run_id


def _exported(database: Database) -> str:
    engine = exporter_engine(database.url)
    try:
        return generate_latest(make_registry(engine)).decode()
    finally:
        engine.dispose()


def test_a_stale_running_row_reads_abandoned_and_the_next_run_takes_the_day_over(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``running`` row whose heartbeat is older than its lease is ``abandoned`` to
    ``db status`` and the exporter; the next run of the day records it so, completes,
    says which run it took over, and the exporter's count drops back to 0."""
    run_id = _dead_run(database, heartbeat_age_s=3600)
    with database.engine.connect() as conn:
        counts, unfinished = run_states(conn)
        assert abandoned_runs(conn) == {"daily": 1}
    assert counts == {"abandoned": 1}
    assert [(r.id, r.status, r.pid, r.host) for r in unfinished] == [
        (run_id, "abandoned", 424242, "gone-host")
    ]
    assert 'judge_monitor_runs_abandoned{flow="daily"} 1.0' in _exported(database)

    monkeypatch.setenv("DATABASE_URL", database.url)
    monkeypatch.setenv("COLUMNS", "200")
    shown = CliRunner().invoke(app, ["db", "status"])
    assert shown.exit_code == 0, shown.output
    assert "runs: 1 abandoned" in shown.output
    assert f"#{run_id}" in shown.output and "pid 424242 on gone-host" in shown.output

    outcome = run_day(database, day_settings([LEXICAL]), DAY)
    assert outcome.status == "completed" and outcome.run_id == run_id
    took_over = outcome.counts["took_over"]
    assert took_over.startswith(f"run #{run_id} of {DAY.isoformat()} (pid 424242 on host gone-host")
    assert "was abandoned: no heartbeat since" in took_over
    status, counts_row, _ = run_row(database)
    assert status == "completed" and counts_row["took_over"] == took_over
    assert 'judge_monitor_runs_abandoned{flow="daily"} 0.0' in _exported(database)


def test_a_fresh_running_row_nobody_holds_is_taken_over_at_once(database: Database) -> None:
    """A process that died a second ago left a fresh heartbeat: it is not abandoned yet
    for readers, but nobody holds its day's lock, so the next run takes it over at once
    instead of waiting for the lease to run out."""
    run_id = _dead_run(database, heartbeat_age_s=1)
    with database.engine.connect() as conn:
        assert abandoned_runs(conn) == {"daily": 0}
        assert run_states(conn)[0] == {"running": 1}
    outcome = run_day(database, day_settings([LEXICAL]), DAY)
    assert outcome.status == "completed"
    assert outcome.counts["took_over"].startswith(f"run #{run_id} ")


def test_a_run_refused_while_another_holds_the_day_writes_nothing(database: Database) -> None:
    """While a run holds the day, a second run of it is refused with one line naming the
    holder's run, process and host, and leaves the holder's row as it was."""
    settings = day_settings([LEXICAL])
    with DayLease(database, flow="daily", day=DAY, lease_s=60) as holder:
        with database.engine.begin() as conn:
            run_id = repo.start_run(
                conn, flow="daily", run_date=DAY, config_hash=settings.config_hash()
            )
        holder.claim(run_id)
        with pytest.raises(DayBusyError) as refused:
            run_day(database, settings, DAY)
        message = str(refused.value)
        assert message.startswith(
            f"day {DAY.isoformat()} is being judged by run #{run_id} "
            f"(pid {os.getpid()} on host {holder.host}, started "
        )
        assert message.endswith("UTC); wait for it or stop it")
        assert "\n" not in message
        assert run_row(database)[0] == "running"
        assert scalar(database, "SELECT count(*) FROM samples") == 0
    # the holder gone, the day is free again
    assert run_day(database, settings, DAY).status == "completed"


def test_a_holder_past_its_lease_is_named_with_the_session_to_end(database: Database) -> None:
    """A holder that still holds the day's lock but stopped beating (a hung process)
    is named with its stale heartbeat and the pg_terminate_backend that frees the day."""
    with DayLease(database, flow="daily", day=DAY, lease_s=60) as holder:
        _dead_run(database, heartbeat_age_s=600, lease_s=60)
        backend = _holder_backend(database, holder)
        with pytest.raises(DayBusyError) as refused:
            run_day(database, day_settings([LEXICAL]), DAY)
    message = str(refused.value)
    assert "(pid 424242 on host gone-host, started " in message
    assert "is past its lease: if that process is gone, end its database session" in message
    assert message.endswith(f"with SELECT pg_terminate_backend({backend}))")


def _holder_backend(database: Database, holder: DayLease) -> int:
    """The backend pid of the lease's own connection (what the message must name)."""
    conn = holder._conn  # the lock's session, as the test sees it
    assert conn is not None
    return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_the_heartbeat_beats_while_the_run_goes_on(database: Database) -> None:
    """A held run's heartbeat moves forward every quarter of its lease, and stops
    moving once the run is released."""
    with DayLease(database, flow="daily", day=DAY, lease_s=0.4) as lease:
        with database.engine.begin() as conn:
            run_id = repo.start_run(conn, flow="daily", run_date=DAY, config_hash="h")
        lease.claim(run_id)
        first = _heartbeat(database, run_id)
        time.sleep(0.5)
        second = _heartbeat(database, run_id)
        assert second > first
        with database.engine.connect() as conn:
            assert abandoned_runs(conn) == {"daily": 0}
    time.sleep(0.3)
    last = _heartbeat(database, run_id)
    time.sleep(0.5)
    assert _heartbeat(database, run_id) == last
    with database.engine.connect() as conn:  # released without an outcome: now stale
        assert abandoned_runs(conn) == {"daily": 1}


def _heartbeat(database: Database, run_id: int) -> dt.datetime:
    value: Any = scalar(database, "SELECT heartbeat_at FROM runs WHERE id = :i", i=run_id)
    assert isinstance(value, dt.datetime)
    return value


def _partial_share(database: Database) -> float:
    value = scalar(
        database,
        "SELECT value FROM daily_metrics WHERE metric = 'partial_ensemble_share' "
        "AND metric_date = :d AND segment = 'all' AND judge = 'ensemble'",
        d=DAY,
    )
    return float(value)


def test_a_degraded_day_shows_its_partial_ensemble_in_the_figures(
    database: Database, server: FakeOpenAI
) -> None:
    """A degraded day (one LLM call failed, its item graded by the local judge alone)
    has a daily `partial_ensemble_share` of exactly its partial rows over its results;
    the rerun that fills the item brings it back to 0."""
    server.script(*[Reply.error(500, retry_after=0.01)] * 2)  # one item, both attempts
    settings = day_settings([llm_config(server.base_url, max_concurrency=1), LEXICAL])
    outcome = run_day(database, settings, DAY)
    assert outcome.status == "degraded"
    items = scalar(database, "SELECT count(*) FROM ensemble_grades")
    partial = scalar(database, "SELECT count(*) FROM ensemble_grades WHERE n_judges < 2")
    assert partial == outcome.counts["partial_ensemble"] >= 1
    assert _partial_share(database) == pytest.approx(partial / items)

    assert run_day(database, settings, DAY).status == "completed"
    assert _partial_share(database) == 0.0
