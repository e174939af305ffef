"""Run metrics pushed to a real Pushgateway, and a push nobody answers."""

from __future__ import annotations

import datetime as dt
import logging
import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.export.pushgateway import JOB, PUSHED_FAMILIES, push_run_metrics


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _gateway_samples(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The gateway's judge_monitor_* samples, keyed without its empty ``instance`` label."""
    body = httpx.get(url + "/metrics", timeout=5).text
    return {
        (s.name, frozenset((k, v) for k, v in s.labels.items() if k != "instance")): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
        if s.name.startswith("judge_monitor_")
    }


def test_push_lands_under_job_and_flow(pushgateway: str) -> None:
    """Every pushed family appears on the gateway with job=judge_monitor and the flow label."""
    counts = {"judged": 40, "cached": 60, "invalid": 2, "failed_calls": 5, "sampled": 50}
    ok = push_run_metrics(
        pushgateway,
        flow="daily",
        duration_s=12.5,
        counts=counts,
        cost_usd=0.75,
        success=True,
        run_date=dt.date(2025, 3, 20),
    )
    assert ok
    samples = _gateway_samples(pushgateway)
    group = {("job", JOB), ("flow", "daily")}

    def value(name: str, **labels: str) -> float:
        return samples[(name, frozenset(group | set(labels.items())))]

    assert value("judge_monitor_flow_duration_seconds") == 12.5
    assert value("judge_monitor_flow_cost_dollars") == 0.75
    for kind in ("judged", "cached", "invalid"):
        assert value("judge_monitor_flow_verdicts", kind=kind) == counts[kind]
    assert value("judge_monitor_flow_verdicts", kind="failed") == 5
    assert value("judge_monitor_flow_last_success_timestamp_seconds") == value(
        "judge_monitor_flow_last_run_timestamp_seconds"
    )
    midnight = dt.datetime(2025, 3, 20, tzinfo=dt.UTC).timestamp()
    assert value("judge_monitor_flow_run_date_timestamp_seconds") == midnight
    assert {name for name, _ in samples} == set(PUSHED_FAMILIES)


def test_failed_run_keeps_previous_success(pushgateway: str) -> None:
    """A failed run updates last_run but leaves the earlier last_success in place."""

    def push(duration_s: float, success: bool) -> bool:
        return push_run_metrics(
            pushgateway,
            flow="daily",
            duration_s=duration_s,
            counts={},
            cost_usd=0.0,
            success=success,
            run_date=dt.date(2025, 3, 20),
        )

    assert push(1.0, success=True)
    first = _gateway_samples(pushgateway)
    assert push(2.0, success=False)
    second = _gateway_samples(pushgateway)
    group = frozenset({("job", JOB), ("flow", "daily")})
    success = ("judge_monitor_flow_last_success_timestamp_seconds", group)
    assert second[success] == first[success]
    assert second[("judge_monitor_flow_duration_seconds", group)] == 2.0


def test_unreachable_gateway_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    """A push to a closed port logs a warning and returns False instead of raising."""
    url = f"http://user:hunter2@127.0.0.1:{_closed_port()}"
    with caplog.at_level(logging.WARNING, logger="monitor.export.pushgateway"):
        ok = push_run_metrics(
            url,
            flow="daily",
            duration_s=1.0,
            counts={},
            cost_usd=0.0,
            success=False,
            run_date=dt.date(2025, 3, 20),
            timeout_s=2.0,
        )
    assert ok is False
    assert "could not push" in caplog.text
    assert "hunter2" not in caplog.text
