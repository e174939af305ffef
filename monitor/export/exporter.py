"""The Prometheus exporter: the latest day of ``daily_metrics`` and the latest runs, read at scrape.

Nothing is cached between scrapes (apart from the count of failed scrapes): Prometheus
sees exactly what Postgres holds now, so a recomputed day or a backfill shows up on the
next scrape and two exporters behind a load balancer agree. When Postgres does not answer,
the scrape still succeeds with ``judge_monitor_up 0``, so "the database is down" and "the
exporter is down" are different alerts; the engine's pre-ping and short connect timeout
make the exporter recover by itself when Postgres comes back.

The exported families are declared as data (the metric catalogue,
``monitor.metrics.catalog.METRICS``, and ``RUN_FAMILIES``) so the docs and tests can
iterate over them. Labels are bounded: segment, judge, k, metric,
flow, kind — never query text.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from monitor.config import Settings
from monitor.metrics.catalog import METRICS, PREFIX
from monitor.store.db import connect, describe_host
from monitor.store.reads import day_values, latest_metrics_day, means_before
from monitor.store.runs import last_successes, latest_finished_runs

__all__ = [
    "BASELINE_DAYS",
    "PREFIX",
    "RUN_FAMILIES",
    "FamilySpec",
    "JudgeMonitorCollector",
    "all_family_names",
    "exporter_engine",
    "make_registry",
    "serve_exporter",
]

log = logging.getLogger(__name__)

#: The baseline of a metric is its mean over this many days before the latest day.
BASELINE_DAYS = 7
DAILY_LABELS = ("segment", "judge", "k")


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
        "Verdicts of the latest finished run: judged (paid calls), cached, invalid.",
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

_VERDICT_KINDS = ("judged", "cached", "invalid")


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


def _labels(row: Any) -> list[str]:
    return [row.segment, row.judge, str(row.k)]


def _count(counts: Mapping[str, Any], key: str) -> float:
    value = counts.get(key, 0)
    return float(value) if isinstance(value, int | float) else 0.0


class JudgeMonitorCollector:
    """A custom collector that reads the figures from Postgres on every ``collect()``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
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

    def _daily(self, conn: Connection, day: dt.date) -> Iterator[Metric]:
        metrics = [s.metric for s in METRICS]
        main: dict[str, GaugeMetricFamily] = {}
        lower: dict[str, GaugeMetricFamily] = {}
        upper: dict[str, GaugeMetricFamily] = {}
        samples = _gauge("metric_samples", _run_help("metric_samples"), ("metric", *DAILY_LABELS))
        for spec in METRICS:
            main[spec.metric] = _gauge(spec.name, spec.help, DAILY_LABELS, spec.unit)
            if spec.has_ci:
                lower[spec.metric] = _gauge(
                    spec.name + "_ci_lower", f"Lower 95% CI bound of {spec.family}.", DAILY_LABELS
                )
                upper[spec.metric] = _gauge(
                    spec.name + "_ci_upper", f"Upper 95% CI bound of {spec.family}.", DAILY_LABELS
                )
        for row in day_values(conn, day=day, metrics=metrics):
            labels = _labels(row)
            assert row.value is not None  # day_values reads only figures with a value
            main[row.metric].add_metric(labels, row.value)
            samples.add_metric([row.metric, *labels], float(row.n))
            if row.metric in lower and row.ci_low is not None and row.ci_high is not None:
                lower[row.metric].add_metric(labels, row.ci_low)
                upper[row.metric].add_metric(labels, row.ci_high)

        baseline_specs = [s for s in METRICS if s.baseline]
        baseline = {
            s.metric: _gauge(
                s.name + "_baseline",
                f"Mean of {s.family} over the {BASELINE_DAYS} days before the latest day.",
                DAILY_LABELS,
            )
            for s in baseline_specs
        }
        for mean in means_before(conn, day=day, days=BASELINE_DAYS, metrics=list(baseline)):
            baseline[mean.metric].add_metric(_labels(mean), mean.value)

        for spec in METRICS:
            yield main[spec.metric]
            if spec.has_ci:
                yield lower[spec.metric]
                yield upper[spec.metric]
            if spec.baseline:
                yield baseline[spec.metric]
        yield samples
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        yield GaugeMetricFamily(
            PREFIX + "metrics_date_timestamp_seconds",
            _run_help("metrics_date_timestamp_seconds"),
            value=midnight.timestamp(),
        )

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
            for kind in _VERDICT_KINDS:
                verdicts.add_metric([row.flow, kind], _count(counts, kind))
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
        yield from (success, last, duration, verdicts, cost, bad)


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


def make_registry(engine: Engine) -> CollectorRegistry:
    """A registry of its own holding one ``JudgeMonitorCollector`` on ``engine``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(JudgeMonitorCollector(engine))
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
    server, thread = start_http_server(port, addr=addr, registry=make_registry(engine))
    return server, thread, database.where or describe_host(database.url)
