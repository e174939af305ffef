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
