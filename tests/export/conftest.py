"""Fixtures for the exporter tests: seeded metric history, real servers on loopback.

Prometheus and the Pushgateway are the real Debian binaries; a missing one fails the
test with the command that installs it, never skips it.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, start_http_server
from sqlalchemy import Engine, text

from monitor.config import Settings
from monitor.export.exporter import exporter_engine, make_registry
from monitor.metrics.catalog import METRICS
from monitor.store.db import Database
from monitor.store.repository import finish_run, start_run, upsert_daily_metrics

Key = tuple[str, str, str, int]  # metric, segment, judge, k

SEGMENTS = ("all", "locale=de", "locale=en")
JUDGES = ("lexical", "llm")
PAIR = "lexical~llm"
QUALITY = ("ndcg", "precision", "mean_grade", "bad_top1_rate", "no_relevant_rate", "unjudged_share")
BOUNDED_LABELS = {
    "segment",
    "locale",  # the segment field of "locale=de": segment field labels aggregate
    "judge",
    "k",
    "metric",
    "flow",
    "kind",
    "status",
    "model",
    "prompt_version",
    "endpoint_host",
    "grafana_url",
    "runbook_url",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keys_for(metric: str) -> list[Key]:
    """The (segment, judge, k) a metric of this name is stored under by the daily flow."""
    if metric in ("panel_ndcg_change", "ndcg_cuped", "cuped_centre"):  # nDCG@10's, overall only
        return [(metric, "all", "ensemble", 10)]
    if metric in QUALITY:
        ks = (3, 10) if metric in ("ndcg", "precision") else (0,)
        return [(metric, s, "ensemble", k) for s in SEGMENTS for k in ks]
    if metric in ("krippendorff_alpha", "query_mix_psi", "query_length_ks", "new_query_share"):
        return [(metric, "all", "ensemble", 0)]
    if metric == "query_length_ks_pvalue":
        return [(metric, "all", "ensemble", 0)]
    if metric in ("changepoint_cusum", "changepoint_start_days_ago"):
        return [(metric, "all", "ensemble", 10)]
    if metric == "cohen_kappa":
        return [(metric, "all", PAIR, 0)]
    if metric.startswith("human_") or metric.startswith("grade_"):
        k = 2 if metric in ("human_precision", "human_recall", "human_f1") else 0
        return [(metric, "all", j, k) for j in (*JUDGES, "ensemble")]
    return [(metric, "all", j, 0) for j in JUDGES]


@dataclass
class History:
    """What was seeded: value, CI and n per (day, key)."""

    latest: dt.date
    values: dict[tuple[dt.date, Key], tuple[float | None, float | None, float | None, int]] = field(
        default_factory=dict
    )

    def value(self, day: dt.date, key: Key) -> float | None:
        return self.values[(day, key)][0]


def seed_history(
    engine: Engine,
    *,
    latest: dt.date,
    days: int = 10,
    seed: int = 0,
    today: Callable[[str], float] | None = None,
) -> History:
    """Store ``days`` days of every exported metric ending at ``latest``.

    ``today`` overrides the latest day's value per metric (to make alerts fire).
    """
    rng = random.Random(seed)
    history = History(latest=latest)
    with engine.begin() as conn:
        for back in range(days - 1, -1, -1):
            day = latest - dt.timedelta(days=back)
            rows = []
            for spec in METRICS:
                for key in keys_for(spec.metric):
                    value = round(rng.uniform(0.3, 0.9), 6)
                    if back == 0 and today is not None:
                        value = today(spec.metric)
                    ci = (value - 0.05, value + 0.05) if spec.has_ci else (None, None)
                    n = rng.randint(10, 500)
                    history.values[(day, key)] = (value, *ci, n)
                    rows.append((*key, value, *ci, n, None))
            upsert_daily_metrics(conn, day=day, rows=rows)
    return history


def seed_run(
    engine: Engine,
    *,
    flow: str,
    run_date: dt.date,
    status: str,
    counts: dict[str, object],
    cost_usd: float,
    duration_s: float,
    finished_ago: dt.timedelta = dt.timedelta(0),
) -> None:
    """One finished run, its finish time moved ``finished_ago`` into the past."""
    with engine.begin() as conn:
        run_id = start_run(conn, flow=flow, run_date=run_date, config_hash="cfg")
        finish_run(
            conn,
            run_id=run_id,
            status=status,
            counts=counts,
            cost_usd=cost_usd,
            duration_s=duration_s,
        )
        conn.execute(
            text("UPDATE runs SET finished_at = now() - :ago WHERE id = :id"),
            {"ago": finished_ago, "id": run_id},
        )


@dataclass(frozen=True)
class Seed:
    """The seeding helpers, bound to one test database (fixtures cannot be imported)."""

    engine: Engine
    bounded_labels: frozenset[str] = frozenset(BOUNDED_LABELS)

    def history(
        self,
        *,
        latest: dt.date,
        days: int = 10,
        seed: int = 0,
        today: Callable[[str], float] | None = None,
    ) -> History:
        return seed_history(self.engine, latest=latest, days=days, seed=seed, today=today)

    def run(self, **kwargs: Any) -> None:
        seed_run(self.engine, **kwargs)

    @staticmethod
    def keys(metric: str) -> list[Key]:
        return keys_for(metric)


@pytest.fixture
def seed(database: Database) -> Seed:
    """Seeding helpers writing to the test's database."""
    return Seed(database.engine)


@pytest.fixture
def registry(database: Database) -> Iterator[CollectorRegistry]:
    """A registry of its own, its collector reading the test's database."""
    engine = exporter_engine(database.url)
    yield make_registry(engine, Settings())
    engine.dispose()


@pytest.fixture
def exporter_port(database: Database) -> Iterator[int]:
    """The exporter's HTTP server on a free loopback port, reading the test's database."""
    engine = exporter_engine(database.url)
    registry = make_registry(engine, Settings())
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield int(server.server_port)
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    engine.dispose()


def require_binary(path: str, package: str) -> str:
    """The binary's path, or a failure saying how to install it."""
    found = shutil.which(path) or (path if Path(path).is_file() else None)
    if found is None:
        pytest.fail(f"{path} not found: install it with `apt-get install {package}`")
    return found


def wait_until(check: Callable[[], bool], what: str, attempts: int = 150) -> None:
    """Poll ``check`` every 0.2 s, a bounded number of times; fail naming ``what``."""
    for _ in range(attempts):
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


# One client for all polling: building an httpx client (its TLS context) costs ~40 ms.
_HTTP = httpx.Client(timeout=5)


def start_process(args: list[str], url: str, log: Path, ready: str) -> Process:
    """Start a server process logging to ``log`` and wait for its ``ready`` endpoint."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    process = Process(proc, url, log)

    def answered() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"{args[0]} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        return _HTTP.get(url + ready, timeout=2).status_code == 200

    try:
        wait_until(answered, f"{args[0]} at {url}")
    except BaseException:
        process.stop()
        raise
    return process


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[str]:
    """A real Pushgateway on a free loopback port; its base URL."""
    binary = require_binary("/usr/bin/prometheus-pushgateway", "prometheus-pushgateway")
    port = free_port()
    process = start_process(
        [binary, f"--web.listen-address=127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}",
        tmp_path / "pushgateway.log",
        "/-/ready",
    )
    yield process.url
    process.stop()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[dict[str, int]], str]]:
    """Start a real Prometheus scraping ``{job: port}`` on loopback every second; its URL."""
    binary = require_binary("/usr/bin/prometheus", "prometheus")
    started: list[Process] = []

    def start(jobs: dict[str, int]) -> str:
        config = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s", "scrape_configs:"]
        for job, port in jobs.items():
            config += [
                f"  - job_name: {job}",
                "    honor_labels: true",
                "    static_configs:",
                f"      - targets: ['127.0.0.1:{port}']",
            ]
        path = tmp_path / "prometheus.yml"
        path.write_text("\n".join(config) + "\n")
        port = free_port()
        process = start_process(
            [
                binary,
                f"--config.file={path}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            f"http://127.0.0.1:{port}",
            tmp_path / "prometheus.log",
            "/-/ready",
        )
        started.append(process)

        def all_up() -> bool:
            body = _HTTP.get(process.url + "/api/v1/targets", timeout=2).json()
            active = body["data"]["activeTargets"]
            return len(active) == len(jobs) and all(t["health"] == "up" for t in active)

        wait_until(all_up, "Prometheus targets to be up")
        return process.url

    yield start
    for process in started:
        process.stop()
