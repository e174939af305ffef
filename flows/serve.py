"""Deployments: the daily flow on a cron schedule, and the others on demand.

``judge-monitor serve`` serves them from this process (a Prefect ``Runner``, which runs
each flow as configured here) against the Prefect API in ``PREFECT_API_URL`` (a Prefect
server or Prefect Cloud); ``prefect.yaml`` declares the same deployments for work pools
and workers, and ``judge-monitor serve --setup-only`` gives those what ``serve`` sets
up itself: the endpoint concurrency limits and the daily schedule.

Everything a deployment is comes from the settings, once: the cron and timezone
(``schedule_cron``, ``schedule_timezone``), the flow timeout (``flow_timeout_hours``);
the daily and backfill deployments run one flow run at a time (the next one waits).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import SCHEDULE_TYPES, CronSchedule
from prefect.flows import Flow
from prefect.schedules import Cron, Schedule

from flows.backfill import backfill
from flows.calibrate import calibrate
from flows.compare import compare
from flows.daily import daily, endpoint_limit, existing_limits
from monitor.config import Settings
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment
    from prefect.runner import Runner

__all__ = [
    "DAILY_DEPLOYMENT",
    "ONE_AT_A_TIME",
    "Served",
    "apply_daily_schedule",
    "check_serving_source",
    "daily_schedule",
    "deployments",
    "ensure_endpoint_limits",
    "serve_runner",
    "served",
]

ENDPOINT_SLOTS = 1  # concurrent flow runs allowed to judge through one endpoint
DAILY_DEPLOYMENT = "daily/daily"  # <flow>/<deployment>, as prefect.yaml and serve name it
TAGS = ["judge-monitor"]
#: One running flow run per deployment; a run due while one runs waits for it (ENQUEUE).
ONE_AT_A_TIME = ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE)


def check_serving_source(settings: Settings) -> None:
    """Refuse to schedule the daily run on the demo source unless the config allows it.

    The demo source is the default, so a stack started without a ``[source]`` would
    otherwise judge the built-in demo catalogue every day and look healthy doing it.
    """
    if settings.source.kind == "demo" and not settings.allow_demo_source:
        raise ConfigError(
            "serve: the daily deployment would judge the built-in demo catalogue, not your "
            "search: configure the source section of judge-monitor.toml (example: "
            "deploy/judge-monitor.toml), or set allow_demo_source = true to serve the demo"
        )


def daily_schedule(settings: Settings) -> Schedule:
    """The daily deployment's schedule: ``schedule_cron`` in ``schedule_timezone``."""
    cron, timezone = settings.schedule_cron, settings.schedule_timezone
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValueError:
        raise ConfigError(
            f"schedule_cron {cron!r} with schedule_timezone {timezone!r} is not a schedule: "
            "give a cron expression (e.g. '0 6 * * *') and an IANA time zone (e.g. UTC)"
        ) from None
    return Cron(cron, timezone=timezone)


@dataclass(frozen=True)
class Served:
    """One deployment: the flow as it runs (with its options) and the deployment's own."""

    name: str
    flow: Flow[..., Any]
    options: dict[str, Any] = field(default_factory=dict)


def served(settings: Settings) -> list[Served]:
    """The four deployments, the daily one on the configured schedule and timeout."""
    timeout = settings.flow_timeout_hours * 3600
    return [
        Served(
            "daily",
            daily.with_options(timeout_seconds=timeout),
            {
                "schedules": [daily_schedule(settings)],
                "concurrency_limit": ONE_AT_A_TIME,
                "description": "Judge yesterday's production search; idempotent per day.",
                "tags": TAGS,
            },
        ),
        Served("backfill", backfill, {"concurrency_limit": ONE_AT_A_TIME, "tags": TAGS}),
        Served("calibrate", calibrate, {"tags": TAGS}),
        Served("compare", compare, {"tags": TAGS}),
    ]


def deployments(settings: Settings) -> list[RunnerDeployment]:
    """The four deployments as Prefect's ``RunnerDeployment`` objects."""
    return [
        cast("RunnerDeployment", s.flow.to_deployment(name=s.name, **s.options))
        for s in served(settings)
    ]


def serve_runner(settings: Settings) -> Runner:
    """A Prefect ``Runner`` with the four deployments registered (``runner.start()`` serves).

    Each flow is added as configured here, so a served run executes this flow object (the
    daily one with the configured timeout), not the bare flow re-imported from its file.
    """
    from prefect.runner import Runner

    runner = Runner(name="judge-monitor")
    for s in served(settings):
        runner.add_flow(s.flow, name=s.name, **s.options)
    return runner


def apply_daily_schedule(settings: Settings, deployment: str = DAILY_DEPLOYMENT) -> bool:
    """Give the daily deployment (made by ``prefect deploy``) the configured schedule.

    ``prefect.yaml`` leaves the schedule out (``schedules: null``, which a redeploy keeps),
    so that the cron lives in one place, the settings. Returns whether it changed.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    daily_schedule(settings)  # a bad cron or timezone refused in one line
    wanted: SCHEDULE_TYPES = CronSchedule(
        cron=settings.schedule_cron, timezone=settings.schedule_timezone
    )
    with get_client(sync_client=True) as client:
        try:
            found = client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            raise ConfigError(
                f"no deployment {deployment} in the Prefect API yet: run `prefect deploy --all` "
                "first (or use `judge-monitor serve`, which needs none)"
            ) from None
        current = client.read_deployment_schedules(found.id)
        if [(s.schedule, s.active) for s in current] == [(wanted, True)]:
            return False
        for schedule in current:
            client.delete_deployment_schedule(found.id, schedule.id)
        schedules: list[tuple[SCHEDULE_TYPES, bool]] = [(wanted, True)]
        client.create_deployment_schedules(found.id, schedules)
    return True


def ensure_endpoint_limits(settings: Settings, slots: int = ENDPOINT_SLOTS) -> list[str]:
    """Create the global concurrency limit guarding each judge endpoint, if missing.

    The daily flow takes one slot of ``judge-endpoint-<judge>`` per judge while it
    judges, so parallel runs (a backfill beside the daily run) never hammer one endpoint
    together beyond ``slots``.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    names = [endpoint_limit(judge.name) for judge in settings.judges]
    existing = set(existing_limits(names))
    created = []
    with get_client(sync_client=True) as client:
        for name in names:
            if name not in existing:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=slots)
                )
                created.append(name)
    return created
