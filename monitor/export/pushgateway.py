"""Run-level metrics pushed to a Pushgateway at the end of each flow run.

The exporter shows what Postgres holds; the push shows that a run happened even when
it died before writing anything, and reaches Prometheus without the exporter. Pushing
is best effort: a Pushgateway that does not answer is logged and the run goes on.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

__all__ = ["JOB", "PUSHED_FAMILIES", "RUN_VERDICT_KINDS", "push_run_metrics"]

log = logging.getLogger(__name__)

#: The Pushgateway job every run pushes under (grouped by flow).
JOB = "judge_monitor"

#: name -> help, for every family a push can carry.
PUSHED_FAMILIES: dict[str, str] = {
    "judge_monitor_flow_duration_seconds": "Wall time of the flow's latest run.",
    "judge_monitor_flow_verdicts": (
        "Verdicts of the flow's latest run by kind: judged (paid calls), cached, invalid, "
        "failed calls."
    ),
    "judge_monitor_flow_cost_dollars": "What the flow's latest run cost, in US dollars.",
    "judge_monitor_flow_last_success_timestamp_seconds": (
        "When a run of the flow last completed (Unix seconds)."
    ),
    "judge_monitor_flow_last_run_timestamp_seconds": (
        "When a run of the flow last ended, successful or not (Unix seconds)."
    ),
    "judge_monitor_flow_run_date_timestamp_seconds": (
        "The day the flow's latest run was for (midnight UTC, Unix seconds)."
    ),
}

#: The ``kind`` label of a run's verdict counts, and the run's count each one shows: paid
#: calls, cache hits, invalid answers, and failed calls (no answer; asked again on a rerun).
RUN_VERDICT_KINDS: dict[str, str] = {
    "judged": "judged",
    "cached": "cached",
    "invalid": "invalid",
    "failed": "failed_calls",
}


def _gauge(registry: CollectorRegistry, name: str, labels: tuple[str, ...] = ()) -> Gauge:
    return Gauge(name, PUSHED_FAMILIES[name], labelnames=labels, registry=registry)


def _safe(url: str) -> str:
    """The URL without any user:password part, for the log."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def push_run_metrics(
    url: str,
    *,
    flow: str,
    duration_s: float,
    counts: Mapping[str, Any],
    cost_usd: float,
    success: bool,
    run_date: dt.date,
    timeout_s: float = 5.0,
) -> bool:
    """Push this run's figures under job ``judge_monitor``, grouping key ``{flow}``.

    The push is a POST (``pushadd``): it replaces the families it carries and keeps
    the others, so a failed run, which carries no last-success timestamp, leaves the
    previous success's timestamp in place for the stale-pipeline alert.
    Return whether the Pushgateway accepted it.
    """
    registry = CollectorRegistry(auto_describe=False)
    now = time.time()
    _gauge(registry, "judge_monitor_flow_duration_seconds").set(duration_s)
    verdicts = _gauge(registry, "judge_monitor_flow_verdicts", ("kind",))
    for kind, key in RUN_VERDICT_KINDS.items():
        value = counts.get(key, 0)
        verdicts.labels(kind=kind).set(float(value) if isinstance(value, int | float) else 0.0)
    _gauge(registry, "judge_monitor_flow_cost_dollars").set(cost_usd)
    if success:
        _gauge(registry, "judge_monitor_flow_last_success_timestamp_seconds").set(now)
    _gauge(registry, "judge_monitor_flow_last_run_timestamp_seconds").set(now)
    midnight = dt.datetime(run_date.year, run_date.month, run_date.day, tzinfo=dt.UTC)
    _gauge(registry, "judge_monitor_flow_run_date_timestamp_seconds").set(midnight.timestamp())
    try:
        pushadd_to_gateway(
            url, job=JOB, registry=registry, grouping_key={"flow": flow}, timeout=timeout_s
        )
    except (OSError, ValueError) as exc:  # URLError, refused, timeouts, HTTP errors, bad URL
        log.warning("could not push run metrics to the Pushgateway at %s: %s", _safe(url), exc)
        return False
    return True
