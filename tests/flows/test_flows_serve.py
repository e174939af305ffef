"""Deployments: the daily cron, the endpoint concurrency limits, prefect.yaml in step."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

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
