"""The Prometheus exporter: the latest day of ``daily_metrics`` and the latest runs, read at scrape.

Nothing is cached between scrapes (apart from the count of failed scrapes, and the
baseline's replayed control chart, kept only while the figures and acceptances it was
replayed from are unchanged): Prometheus sees exactly what Postgres holds now, so a
recomputed day or a backfill shows up on the next scrape and two exporters behind a load
balancer agree. When Postgres does not answer,
the scrape still succeeds with ``judge_monitor_up 0``, so "the database is down" and "the
exporter is down" are different alerts; the engine's pre-ping and short connect timeout
make the exporter recover by itself when Postgres comes back.

The exported families are declared as data (the metric catalogue,
``monitor.metrics.catalog.METRICS``, and ``RUN_FAMILIES``) so the docs and tests can
iterate over them. Labels are bounded: segment (and one label per segment field, e.g.
``locale``), judge, k, metric, flow, kind, status, the judges' model, prompt version and
endpoint host — never query text, never a key.

Each ``_baseline`` family is the figure's mean over its segment's reference days as
``monitor.export.baseline`` defines them for the latest day: the last ``baseline_days``
(settings) days on which the segment was in control, so a regression that persists does
not become its own baseline.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import Settings, load_settings
from monitor.export.baseline import daily_samples
from monitor.export.families import DAILY_LABELS, daily_families
from monitor.export.pushgateway import RUN_VERDICT_KINDS
from monitor.metrics.catalog import METRICS, PREFIX
from monitor.store.baselines import judge_identities, latest_run_statuses
from monitor.store.db import connect, describe_host
from monitor.store.reads import latest_metrics_day
from monitor.store.runs import abandoned_runs, last_successes, latest_finished_runs

__all__ = [
    "DAILY_LABELS",
    "PREFIX",
    "RUN_FAMILIES",
    "FamilySpec",
    "JudgeMonitorCollector",
    "all_family_names",
    "daily_families",
    "daily_samples",
    "endpoint_host",
    "exporter_engine",
    "make_registry",
    "serve_exporter",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """A family that is not one per daily metric: name, type, labels, help."""

    name: str
    kind: str  # gauge | counter
    labels: tuple[str, ...]
    help: str


#: The families beside the per-metric ones (names without the ``_total`` a counter adds).
RUN_FAMILIES: tuple[FamilySpec, ...] = (
    FamilySpec(
        "metric_samples",
        "gauge",
        ("metric", *DAILY_LABELS),
        "Observations behind a daily figure (n).",
    ),
    FamilySpec(
        "metrics_date_timestamp_seconds",
        "gauge",
        (),
        "The day the daily figures are for (midnight UTC, Unix seconds).",
    ),
    FamilySpec(
        "last_run_success",
        "gauge",
        ("flow",),
        "1 if the latest finished run of the flow completed, 0 if it failed.",
    ),
    FamilySpec(
        "last_success_timestamp_seconds",
        "gauge",
        ("flow",),
        "When the latest completed run of the flow finished (Unix seconds).",
    ),
    FamilySpec(
        "run_duration_seconds",
        "gauge",
        ("flow",),
        "Wall time of the latest finished run of the flow.",
    ),
    FamilySpec(
        "run_verdicts",
        "gauge",
        ("flow", "kind"),
        "Verdicts of the latest finished run: judged (paid calls), cached, invalid, failed "
        "(calls that got no answer; asked again on a rerun).",
    ),
    FamilySpec(
        "run_cost_dollars",
        "gauge",
        ("flow",),
        "What the latest finished run of the flow cost, in US dollars.",
    ),
    FamilySpec(
        "run_bad_rows",
        "gauge",
        ("flow",),
        "Source rows the latest finished run skipped as malformed.",
    ),
    FamilySpec(
        "last_run_status",
        "gauge",
        ("flow", "status"),
        "1 for how the latest finished run of the flow ended: completed, degraded, failed, "
        "aborted or abandoned.",
    ),
    FamilySpec(
        "runs_abandoned",
        "gauge",
        ("flow",),
        "Days of the flow whose run died without recording an outcome (its heartbeat "
        "older than its lease) and that no run has taken over since.",
    ),
    FamilySpec(
        "baseline_reference_points",
        "gauge",
        ("segment",),
        "In-control days the segment's baselines average (at most baseline_days).",
    ),
    FamilySpec(
        "baseline_newest_timestamp_seconds",
        "gauge",
        ("segment",),
        "The newest day in the segment's baseline (midnight UTC, Unix seconds): an old day "
        "means the baseline froze when the segment went out of control.",
    ),
    FamilySpec(
        "judge_info",
        "gauge",
        ("judge", "kind", "model", "prompt_version", "endpoint_host"),
        "1 per judge as it last gave verdicts: its model, prompt version and endpoint host.",
    ),
    FamilySpec(
        "links_info",
        "gauge",
        ("grafana_url", "runbook_url"),
        "1, labelled with the public Grafana URL and the runbook URL the alerts link to.",
    ),
    FamilySpec("up", "gauge", (), "1 if the database answered this scrape, else 0."),
    FamilySpec(
        "scrape_duration_seconds", "gauge", (), "Time this scrape spent reading the database."
    ),
    FamilySpec(
        "scrape_errors",
        "counter",
        (),
        "Scrapes in which the database did not answer, since the exporter started.",
    ),
)


def all_family_names() -> list[str]:
    """Every metric family name the exporter can emit (counters with ``_total``)."""
    names: list[str] = []
    for spec in METRICS:
        names.append(spec.family)
        if spec.has_ci:
            names += [spec.family + "_ci_lower", spec.family + "_ci_upper"]
        if spec.baseline:
            names.append(spec.family + "_baseline")
    for fam in RUN_FAMILIES:
        names.append(PREFIX + fam.name + ("_total" if fam.kind == "counter" else ""))
    return names


def _gauge(name: str, help: str, labels: Iterable[str] = (), unit: str = "") -> GaugeMetricFamily:
    full = PREFIX + name
    # prometheus_client appends the unit to a name not ending with it; only pass it if it does.
    return GaugeMetricFamily(
        full, help, labels=list(labels), unit=unit if full.endswith("_" + unit) else ""
    )


def _run_help(name: str) -> str:
    return next(f.help for f in RUN_FAMILIES if f.name == name)


def _midnight(day: dt.date) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def endpoint_host(base_url: str | None, kind: str) -> str:
    """Where a judge's calls go, as a host name only (no credentials, path or query):
    ``api.openai.com`` for an LLM judge without ``base_url``, ``local`` for a local one."""
    if kind != "llm":
        return "local"
    if not base_url:
        return "api.openai.com"
    parsed = urlsplit(base_url)
    host = parsed.hostname or ""
    return f"{host}:{parsed.port}" if parsed.port else host


def _count(counts: Mapping[str, Any], key: str) -> float:
    value = counts.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


class JudgeMonitorCollector:
    """A custom collector that reads the figures from Postgres on every ``collect()``."""

    def __init__(self, engine: Engine, settings: Settings | None = None) -> None:
        self._engine = engine
        self._settings = settings if settings is not None else load_settings()
        self._baseline_days = self._settings.baseline_days
        self._errors = 0
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        start = time.perf_counter()
        try:
            with self._engine.connect() as conn:
                families = list(self._read(conn))
        except SQLAlchemyError as exc:
            with self._lock:
                self._errors += 1
            log.warning(
                "judge-monitor exporter: database did not answer: %s",
                str(getattr(exc, "orig", None) or exc).strip().splitlines()[0],
            )
            families = []
            up = 0.0
        else:
            up = 1.0
        yield from families
        # from the settings, not the database: alert links work while Postgres is down
        yield self._links()
        yield GaugeMetricFamily(PREFIX + "up", _run_help("up"), value=up)
        yield GaugeMetricFamily(
            PREFIX + "scrape_duration_seconds",
            _run_help("scrape_duration_seconds"),
            value=time.perf_counter() - start,
            unit="seconds",
        )
        with self._lock:
            errors = self._errors
        yield CounterMetricFamily(
            PREFIX + "scrape_errors", _run_help("scrape_errors"), value=errors
        )

    def _read(self, conn: Connection) -> Iterator[Metric]:
        day = latest_metrics_day(conn)
        if day is not None:
            yield from self._daily(conn, day)
        yield from self._runs(conn)
        yield from self._info(conn)

    def _daily(self, conn: Connection, day: dt.date) -> Iterator[Metric]:
        samples, reference = daily_samples(conn, day=day, baseline_days=self._baseline_days)
        yield from daily_families(samples, self._baseline_days)
        points = _gauge(
            "baseline_reference_points", _run_help("baseline_reference_points"), ["segment"]
        )
        newest = _gauge(
            "baseline_newest_timestamp_seconds",
            _run_help("baseline_newest_timestamp_seconds"),
            ["segment"],
            "seconds",
        )
        for segment, days in sorted(reference.by_segment.items()):
            points.add_metric([segment], float(len(days)))
            if days:
                newest.add_metric([segment], _midnight(days[-1]))
        yield from (points, newest)
        yield GaugeMetricFamily(
            PREFIX + "metrics_date_timestamp_seconds",
            _run_help("metrics_date_timestamp_seconds"),
            value=_midnight(day),
        )

    def _info(self, conn: Connection) -> Iterator[Metric]:
        spec = next(f for f in RUN_FAMILIES if f.name == "judge_info")
        info = _gauge("judge_info", spec.help, spec.labels)
        configured = {j.name: j for j in self._settings.judges}
        for judge in judge_identities(conn):
            config = configured.get(judge.name)
            host = endpoint_host(config.base_url if config else None, judge.kind)
            info.add_metric([judge.name, judge.kind, judge.model, judge.prompt_version, host], 1.0)
        yield info

    def _links(self) -> Metric:
        links = _gauge("links_info", _run_help("links_info"), ("grafana_url", "runbook_url"))
        grafana = self._settings.public_url_grafana.rstrip("/")
        links.add_metric([grafana, self._settings.runbook_base_url], 1.0)
        return links

    def _runs(self, conn: Connection) -> Iterator[Metric]:
        success = _gauge("last_run_success", _run_help("last_run_success"), ["flow"])
        duration = _gauge(
            "run_duration_seconds", _run_help("run_duration_seconds"), ["flow"], "seconds"
        )
        verdicts = _gauge("run_verdicts", _run_help("run_verdicts"), ["flow", "kind"])
        cost = _gauge("run_cost_dollars", _run_help("run_cost_dollars"), ["flow"], "dollars")
        bad = _gauge("run_bad_rows", _run_help("run_bad_rows"), ["flow"])
        # a run still going neither succeeded nor failed yet: it does not flip
        # last_run_success to 0
        for row in latest_finished_runs(conn):
            counts: Mapping[str, Any] = row.counts
            success.add_metric([row.flow], 1.0 if row.status == "completed" else 0.0)
            if row.duration_s is not None:
                duration.add_metric([row.flow], float(row.duration_s))
            for kind, key in RUN_VERDICT_KINDS.items():
                verdicts.add_metric([row.flow, kind], _count(counts, key))
            cost.add_metric([row.flow], float(row.cost_usd or 0.0))
            bad.add_metric([row.flow], _count(counts, "bad_rows"))
        last = _gauge(
            "last_success_timestamp_seconds",
            _run_help("last_success_timestamp_seconds"),
            ["flow"],
            "seconds",
        )
        # the finish of the completed run for the newest day, not the newest finish
        for flow, at in last_successes(conn).items():
            last.add_metric([flow], at.timestamp())
        status = _gauge("last_run_status", _run_help("last_run_status"), ["flow", "status"])
        for flow, how in sorted(latest_run_statuses(conn).items()):
            status.add_metric([flow, how], 1.0)
        abandoned = _gauge("runs_abandoned", _run_help("runs_abandoned"), ["flow"])
        for flow, n in sorted(abandoned_runs(conn).items()):
            abandoned.add_metric([flow], float(n))
        yield from (success, last, duration, verdicts, cost, bad, status, abandoned)


def exporter_engine(url: str) -> Engine:
    """An engine that fails fast when Postgres is down and drops dead connections.

    A scrape must answer within Prometheus's scrape timeout even with the database
    gone, and must not reuse a connection the database closed when it restarted.
    """
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=2,
        max_overflow=2,
        connect_args={"connect_timeout": 3},
    )


def make_registry(engine: Engine, settings: Settings | None = None) -> CollectorRegistry:
    """A registry of its own holding one ``JudgeMonitorCollector`` on ``engine``
    (``baseline_days``, links and judge endpoints from ``settings``, else loaded)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JudgeMonitorCollector(engine, settings))
    return registry


def serve_exporter(
    settings: Settings, port: int, addr: str = "0.0.0.0"
) -> tuple[WSGIServer, threading.Thread, str]:
    """Serve /metrics on ``addr:port`` in a daemon thread; return server, thread, db place.

    The database is not required to be up: the exporter reports ``judge_monitor_up 0``
    until it answers.
    """
    database = connect(settings, check=False)
    database.dispose()
    engine = exporter_engine(database.url)
    server, thread = start_http_server(port, addr=addr, registry=make_registry(engine, settings))
    return server, thread, database.where or describe_host(database.url)
