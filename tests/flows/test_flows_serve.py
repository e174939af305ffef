"""Deployments: the daily cron, the endpoint concurrency limits, prefect.yaml in step."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flows.serve import deployments, ensure_endpoint_limits
from monitor.config import JudgeConfig, load_settings

REPO = Path(__file__).resolve().parents[2]


def test_daily_deployment_uses_the_configured_cron_and_timezone() -> None:
    """The daily deployment is scheduled by settings; the other three run on demand."""
    settings = load_settings(schedule_cron="30 5 * * *", schedule_timezone="Europe/Berlin")
    built = {d.name: d for d in deployments(settings)}
    assert set(built) == {"daily", "backfill", "calibrate", "compare"}
    schedule = built["daily"].schedules[0].schedule
    assert schedule.cron == "30 5 * * *" and schedule.timezone == "Europe/Berlin"
    assert not built["backfill"].schedules


def test_endpoint_limits_are_created_once() -> None:
    """Each judge endpoint gets one global concurrency limit; a second call creates none."""
    settings = load_settings(
        judges=[JudgeConfig(name="serve-a", kind="lexical"), JudgeConfig(name="serve-b")]
    )
    assert sorted(ensure_endpoint_limits(settings)) == [
        "judge-endpoint-serve-a",
        "judge-endpoint-serve-b",
    ]
    assert ensure_endpoint_limits(settings) == []


def test_prefect_yaml_entrypoints_exist() -> None:
    """Every entrypoint in prefect.yaml names a real flow with the deployment's name."""
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    for deployment in spec["deployments"]:
        path, _, attr = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert getattr(module, attr).name == deployment["name"]


def test_serve_without_prefect_api_is_a_clear_error() -> None:
    """serve needs a Prefect API and says so in one line."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1
    assert "PREFECT_API_URL" in out.stderr and "Traceback" not in out.stderr


def test_serving_the_demo_source_is_refused_unless_allowed() -> None:
    """The demo source is refused in one line naming the fix, unless allow_demo_source."""
    import pytest

    from flows.serve import check_serving_source
    from monitor.config import SourceConfig
    from monitor.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        check_serving_source(load_settings())
    message = str(caught.value)
    assert "demo catalogue" in message and "\n" not in message
    assert "source section" in message and "deploy/judge-monitor.toml" in message
    assert "allow_demo_source = true" in message
    check_serving_source(load_settings(allow_demo_source=True))
    sql = SourceConfig(kind="sql", url="postgresql+psycopg://reader@logs/search", table="log")
    check_serving_source(load_settings(source=sql))


def test_serve_on_the_demo_source_exits_with_one_line(tmp_path: Path) -> None:
    """serve on the demo source exits 1 with that line, before any database or Prefect call."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PREFECT_API_URL": "http://127.0.0.1:9/api",  # discard port: nothing listens
    }
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "serve"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    printed = " ".join(out.stderr.split())  # the console wraps long lines
    assert "demo catalogue" in printed and "deploy/judge-monitor.toml" in printed
    assert "allow_demo_source = true" in printed
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    assert not (tmp_path / ".local" / "share" / "judge-monitor").exists()  # no embedded db


def test_prefect_yaml_leaves_the_schedule_to_the_settings_and_matches_serve() -> None:
    """prefect.yaml repeats no cron (the settings hold it; `serve --setup-only` applies it,
    `schedules: null` keeps it on redeploy) and declares serve's concurrency limits."""
    from flows.serve import served

    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert "cron" not in json.dumps(spec) and "* * *" not in json.dumps(spec)
    by_name = {d["name"]: d for d in spec["deployments"]}
    assert "schedules" in by_name["daily"] and by_name["daily"]["schedules"] is None
    for deployment in served(load_settings()):
        limit = deployment.options.get("concurrency_limit")
        declared = by_name[deployment.name].get("concurrency_limit")
        if limit is None:
            assert declared is None, deployment.name
        else:
            assert declared == {
                "limit": limit.limit,
                "collision_strategy": limit.collision_strategy.value,
            }, deployment.name


def test_a_bad_cron_or_timezone_is_one_line() -> None:
    """A schedule Prefect cannot read is refused naming schedule_cron and the value."""
    import pytest

    from flows.serve import daily_schedule
    from monitor.errors import ConfigError

    for settings in (
        load_settings(schedule_cron="every morning"),
        load_settings(schedule_timezone="Mars/Olympus"),
    ):
        with pytest.raises(ConfigError) as caught:
            daily_schedule(settings)
        message = str(caught.value)
        assert "schedule_cron" in message and "\n" not in message
        assert settings.schedule_cron in message and settings.schedule_timezone in message


def _schedules(deployment: str) -> list[tuple[str, str | None, bool]]:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        found = client.read_deployment_by_name(deployment)
        return [
            (s.schedule.cron, s.schedule.timezone, s.active)  # type: ignore[union-attr]
            for s in client.read_deployment_schedules(found.id)
        ]


def test_setup_gives_a_deployed_daily_its_configured_schedule_once() -> None:
    """A daily deployment made without a schedule (prefect.yaml) gets schedule_cron; again
    changes nothing; a new cron replaces the old one; no deployment is one clear line."""
    import pytest

    from flows.daily import daily
    from flows.serve import apply_daily_schedule
    from monitor.errors import ConfigError

    daily.to_deployment(name="daily-from-yaml").apply()
    name = "daily/daily-from-yaml"
    assert _schedules(name) == []
    berlin = load_settings(schedule_cron="30 5 * * *", schedule_timezone="Europe/Berlin")
    assert apply_daily_schedule(berlin, name) is True
    assert _schedules(name) == [("30 5 * * *", "Europe/Berlin", True)]
    assert apply_daily_schedule(berlin, name) is False
    assert apply_daily_schedule(load_settings(schedule_cron="0 7 * * *"), name) is True
    assert _schedules(name) == [("0 7 * * *", "UTC", True)]
    with pytest.raises(ConfigError) as caught:
        apply_daily_schedule(berlin, "daily/never-deployed")
    assert "prefect deploy --all" in str(caught.value) and "\n" not in str(caught.value)


def test_serve_setup_only_creates_the_limits_and_the_schedule_then_exits(
    tmp_path: Path, database_url: str
) -> None:
    """`judge-monitor serve --setup-only`, for `prefect deploy` users: the endpoint limits
    exist and the deployed daily has the configured cron, and the command exits 0."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from flows.daily import daily

    daily.to_deployment(name="daily").apply()  # as `prefect deploy --all` leaves it
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),
        "DATABASE_URL": database_url,
        "JUDGE_MONITOR_ALLOW_DEMO_SOURCE": "true",
        "JUDGE_MONITOR_SCHEDULE_CRON": "15 4 * * *",
        "JUDGE_MONITOR_JUDGES": '[{"name": "setup-only", "kind": "lexical"}]',
    }
    out = subprocess.run(
        [sys.executable, "-m", "monitor", "serve", "--setup-only"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "created concurrency limit judge-endpoint-setup-only" in out.stdout
    assert "daily deployment scheduled: 15 4 * * * UTC" in out.stdout
    assert _schedules("daily/daily") == [("15 4 * * *", "UTC", True)]
    with get_client(sync_client=True) as client:
        names = {limit.name for limit in client.read_global_concurrency_limits(limit=200)}
    assert "judge-endpoint-setup-only" in names


def test_the_judge_step_holds_a_slot_of_an_existing_endpoint_limit_only() -> None:
    """With ``serve``'s limit in place the judge step runs holding one of its slots; a
    judge without a limit is judged without any acquisition (and without failing)."""
    from prefect import flow
    from prefect.client.orchestration import get_client

    from flows.daily import existing_limits, prefect_steps

    settings = load_settings(judges=[JudgeConfig(name="slot-held", kind="lexical")])
    ensure_endpoint_limits(settings)
    assert existing_limits(["judge-endpoint-slot-held", "judge-endpoint-none"]) == [
        "judge-endpoint-slot-held"
    ]

    def active_slots() -> int:
        with get_client(sync_client=True) as client:
            return client.read_global_concurrency_limit_by_name(
                "judge-endpoint-slot-held"
            ).active_slots

    @flow
    def one_step() -> tuple[int, int]:
        held = prefect_steps("judge", active_slots, judges=["slot-held"])
        unguarded = prefect_steps("judge", lambda: 7, judges=["no-limit-here"])
        return held, unguarded

    assert one_step() == (1, 7)
    assert active_slots() == 0  # released after the step


def test_existing_limits_reads_every_page(monkeypatch: pytest.MonkeyPatch) -> None:
    """A limit past the API's first page is still found (pages of 2 here, 3 limits made)."""
    import flows.daily

    names = [f"judge-endpoint-paged-{i}" for i in range(3)]
    ensure_endpoint_limits(load_settings(judges=[JudgeConfig(name=n[15:]) for n in names]))
    monkeypatch.setattr(flows.daily, "_PAGE", 2)
    assert flows.daily.existing_limits([*names, "judge-endpoint-paged-none"]) == names
