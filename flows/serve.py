"""Deployments: the daily flow on a cron schedule, and the others on demand.

``judge-monitor serve`` serves them from this process (Prefect's ``serve``) against the
Prefect API in ``PREFECT_API_URL`` (a Prefect server or Prefect Cloud); ``prefect.yaml``
declares the same deployments for work pools and workers.
"""

from __future__ import annotations

from typing import Any

from prefect.schedules import Cron

from flows.backfill import backfill
from flows.calibrate import calibrate
from flows.compare import compare
from flows.daily import daily
from monitor.config import Settings

__all__ = ["deployments", "ensure_endpoint_limits"]

ENDPOINT_SLOTS = 1  # concurrent flow runs allowed to judge through one endpoint


def deployments(settings: Settings) -> list[Any]:
    """The four deployments, the daily one scheduled by the configured cron and timezone."""
    return [
        daily.to_deployment(
            name="daily",
            schedules=[Cron(settings.schedule_cron, timezone=settings.schedule_timezone)],
            description="Judge yesterday's production search; idempotent per day.",
            tags=["judge-monitor"],
        ),
        backfill.to_deployment(name="backfill", tags=["judge-monitor"]),
        calibrate.to_deployment(name="calibrate", tags=["judge-monitor"]),
        compare.to_deployment(name="compare", tags=["judge-monitor"]),
    ]


def ensure_endpoint_limits(settings: Settings, slots: int = ENDPOINT_SLOTS) -> list[str]:
    """Create the global concurrency limit guarding each judge endpoint, if missing.

    The daily flow takes one slot of ``judge-endpoint-<judge>`` per judge while it
    judges, so parallel runs (a backfill beside the daily run) never hammer one endpoint
    together beyond ``slots``.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    created = []
    with get_client(sync_client=True) as client:
        existing = {limit.name for limit in client.read_global_concurrency_limits(limit=200)}
        for judge in settings.judges:
            name = f"judge-endpoint-{judge.name}"
            if name not in existing:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=slots)
                )
                created.append(name)
    return created
