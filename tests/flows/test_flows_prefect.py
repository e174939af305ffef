"""Prefect as a Prefect user expects it, against a real (temporary) Prefect API.

Runs are named after their day, log their progress and figures to the run's logs, leave
an artifact with the day's headline figures; a scheduled run judges the day of its
scheduled time however late it starts; the served deployments run one at a time and
stop at the configured timeout.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowRunFilter,
    FlowRunFilterName,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, FlowRun
from prefect.logging.handlers import APILogWorker
from prefect.states import Scheduled
from sqlalchemy import create_engine, text

from flows.backfill import backfill
from flows.compare import compare
from flows.reporting import DAILY_ARTIFACT
from flows.serve import deployments, serve_runner, served
from monitor.config import load_settings
from monitor.errors import ConfigError
from monitor.pipeline.steps import day_for_schedule
from monitor.testing import FakeOpenAI

REPO = Path(__file__).resolve().parents[2]
UTC = dt.UTC
SCHEDULED = dt.datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
SCHEDULED_DAY = dt.date(2026, 11, 29)
#: A served run scheduled for 06:00 yesterday: it starts now, after midnight, and must
#: judge the day before yesterday (the day before its scheduled date), not yesterday.
LATE = dt.datetime.combine(
    dt.datetime.now(UTC).date() - dt.timedelta(days=1), dt.time(6), tzinfo=UTC
)
LATE_DAY = LATE.date() - dt.timedelta(days=1)


# -- the day of a scheduled run (pure) ----------------------------------------------------


def test_a_scheduled_run_judges_the_day_before_its_scheduled_date() -> None:
    """The day comes from the scheduled time alone: 06:00 on the 30th judges the 29th."""
    assert day_for_schedule(SCHEDULED, "UTC") == SCHEDULED_DAY
    assert day_for_schedule(dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC), "UTC") == (
        SCHEDULED_DAY
    )
    assert day_for_schedule(dt.datetime(2026, 12, 1, 0, 0, tzinfo=UTC), "UTC") == dt.date(
        2026, 11, 30
    )


def test_the_scheduled_date_is_read_in_the_schedule_timezone() -> None:
    """23:00 in Los Angeles on the 30th (07:00 UTC on the 1st) still judges the 29th."""
    la = dt.datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert day_for_schedule(la, "America/Los_Angeles") == SCHEDULED_DAY
    assert day_for_schedule(la, "UTC") == dt.date(2026, 11, 30)
    berlin = dt.datetime(2026, 11, 30, 5, 0, tzinfo=UTC)  # 06:00 in Berlin
    assert day_for_schedule(berlin, "Europe/Berlin") == SCHEDULED_DAY


def test_a_zone_ahead_of_utc_never_gets_a_day_not_ended_in_utc() -> None:
    """06:00 in Tokyo on the 30th is 21:00 UTC on the 29th: it judges the 28th, a UTC day
    that has ended, not the 29th (days are UTC days)."""
    tokyo = dt.datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    assert day_for_schedule(tokyo, "Asia/Tokyo") == dt.date(2026, 11, 28)


def test_a_naive_scheduled_time_is_utc_and_a_bad_timezone_is_one_line() -> None:
    """A naive time counts as UTC; an unknown zone is refused naming schedule_timezone."""
    assert day_for_schedule(dt.datetime(2026, 11, 30, 6, 0), "UTC") == SCHEDULED_DAY
    for bad in ("Mars/Olympus", ""):
        with pytest.raises(ConfigError) as caught:
            day_for_schedule(SCHEDULED, bad)
        message = str(caught.value)
        assert "schedule_timezone" in message and repr(bad) in message and "\n" not in message


# -- helpers: read back what the Prefect API holds ----------------------------------------


def _flow_runs_named(name: str) -> list[FlowRun]:
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
        )


def _log_lines(flow_run_id: UUID) -> list[str]:
    APILogWorker.drain_all(timeout=10)  # logs of runs in this process, sent
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def _artifacts(flow_run_id: UUID) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )


def _run_rows(url: str) -> dict[dt.date, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT run_date, status FROM runs WHERE flow = 'daily'"))
            return {r.run_date: r.status for r in rows}
    finally:
        engine.dispose()


def _serve_one_scheduled_run(scheduled: dt.datetime) -> FlowRun:
    """What `judge-monitor serve` does with a run of the daily deployment scheduled for
    ``scheduled``: its Runner picks the run up and executes it; the run as it ended."""
    runner = serve_runner(load_settings())
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name("daily/daily")
        run = client.create_flow_run_from_deployment(
            deployment.id, state=Scheduled(scheduled_time=scheduled)
        )
    asyncio.run(runner.start(run_once=True, webserver=False))  # returns once the run ended
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run.id)


# -- served runs ------------------------------------------------------------------------


def test_a_late_scheduled_run_judges_its_scheduled_day_with_name_logs_and_artifact(
    flow_env: Path, database_url: str, fake_llm: FakeOpenAI
) -> None:
    """A served run scheduled for 06:00 yesterday that starts today judges the day before
    yesterday, not yesterday: it is named after that day, its log lines (the day, counts,
    nDCG@10) are in the API, and its markdown artifact holds the headline figures."""
    ended = _serve_one_scheduled_run(LATE)
    assert ended.state is not None and ended.state.is_completed(), ended.state
    assert ended.name == f"daily {LATE_DAY.isoformat()}"
    assert _run_rows(database_url) == {LATE_DAY: "completed"}
    assert fake_llm.total > 0

    lines = _log_lines(ended.id)
    assert any(
        line.startswith(f"judging {LATE_DAY} (scheduled for {LATE.date()}T06:00:00")
        for line in lines
    ), lines
    summary = [line for line in lines if line.startswith(f"{LATE_DAY} completed: ")]
    assert len(summary) == 1 and "queries sampled" in summary[0] and "paid calls" in summary[0]
    assert any(line.startswith(f"{LATE_DAY}: nDCG@10 (segment all) ") for line in lines)

    artifacts = _artifacts(ended.id)
    assert [a.key for a in artifacts] == [DAILY_ARTIFACT] and artifacts[0].type == "markdown"
    markdown = str(artifacts[0].data)
    assert markdown.startswith(f"# daily {LATE_DAY.isoformat()}: completed")
    assert "| ndcg | 10 | " in markdown and "| precision | 3 | " in markdown
    assert "## Alerts that would fire" in markdown


def test_the_served_daily_run_stops_at_the_configured_timeout(
    flow_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, fake_llm: FakeOpenAI
) -> None:
    """flow_timeout_hours reaches the served run: a run longer than it ends timed out.

    The endpoint answers after a minute and the timeout is 3 s, so the timeout falls
    while the run waits on its judge, as it does when an endpoint hangs. (A timeout of
    0.2 s fell in Prefect's own start of the run, and once in a loaded CI run the run
    completed: the run itself takes under a second.)"""
    fake_llm.latency_s = 60.0
    monkeypatch.setenv("JUDGE_MONITOR_FLOW_TIMEOUT_HOURS", str(3 / 3600))  # 3 s
    ended = _serve_one_scheduled_run(LATE)
    assert ended.state is not None and ended.state.is_failed()
    assert ended.state.name == "TimedOut", ended.state
    assert _run_rows(database_url).get(LATE_DAY) != "completed"


def test_the_daily_and_backfill_deployments_run_one_at_a_time_with_a_timeout() -> None:
    """daily and backfill: concurrency limit 1, the next run queued (ENQUEUE); the served
    daily flow carries flow_timeout_hours; calibrate and compare are unlimited."""
    settings = load_settings(flow_timeout_hours=1.5)
    flows = {s.name: s.flow for s in served(settings)}
    assert flows["daily"].timeout_seconds == 1.5 * 3600
    for deployment in deployments(settings):
        deployment.apply()
    with get_client(sync_client=True) as client:
        for name in ("daily", "backfill"):
            read = client.read_deployment_by_name(f"{name}/{name}")
            assert read.global_concurrency_limit is not None
            assert read.global_concurrency_limit.limit == 1
            assert read.concurrency_options is not None
            assert read.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE
        for name in ("calibrate", "compare"):
            assert client.read_deployment_by_name(f"{name}/{name}").global_concurrency_limit is None


# -- runs started by hand ---------------------------------------------------------------


def test_backfill_and_compare_runs_are_named_after_their_days(
    flow_env: Path, fake_llm: FakeOpenAI
) -> None:
    """backfill "backfill first..last" (its days logged, one table row each) and compare
    "compare a~b day", the name set before the run's body (a refused compare too)."""
    first, last = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    outcomes = backfill(start=first, end=last)
    assert [o.status for o in outcomes] == ["completed", "completed"]
    (run,) = _flow_runs_named("backfill 2026-11-01..2026-11-02")
    lines = _log_lines(run.id)
    assert any(line.startswith("2026-11-01 completed: ") for line in lines)
    assert any(line.startswith("2026-11-02 completed: ") for line in lines)
    (table,) = _artifacts(run.id)
    assert table.type == "table" and "2026-11-02" in str(table.data)

    with pytest.raises(ConfigError):
        compare(a="prod", b="staging", day=SCHEDULED_DAY)  # no such rankers configured
    (refused,) = _flow_runs_named(f"compare prod~staging {SCHEDULED_DAY.isoformat()}")
    assert refused.state is not None and refused.state.is_failed()


def test_run_at_the_terminal_prints_no_prefect_logs_but_they_reach_the_api(
    flow_env: Path, database_url: str, fake_llm: FakeOpenAI
) -> None:
    """`judge-monitor run` keeps Prefect quiet in the terminal (our summary table only),
    while its run's own log lines reach the Prefect API."""
    from prefect.settings import PREFECT_API_URL

    day = dt.date(2026, 11, 3)
    env = dict(os.environ) | {"PREFECT_API_URL": str(PREFECT_API_URL.value())}
    for key in ("PREFECT_LOGGING_LEVEL", "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"):
        env.pop(key, None)  # the command's own defaults, not the test session's
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--date", day.isoformat()],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    printed = out.stdout + out.stderr
    assert "completed" in out.stdout  # the summary table
    assert "| INFO" not in printed and "Flow run" not in printed and "judging" not in printed
    (run,) = _flow_runs_named(f"daily {day.isoformat()}")
    lines = _log_lines(run.id)
    assert f"judging {day.isoformat()} (the day asked for)" in lines
    assert any(line.startswith(f"{day} completed: ") for line in lines)
