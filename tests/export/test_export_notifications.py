"""Notifications end to end: exporter → real Prometheus → real Alertmanager → a webhook.

The day is the demo's regressed one (``scenario.py``, day 16: the French segment broke on
day 15). Prometheus loads the repository's rules and evaluates them every second;
Alertmanager runs the repository's routes, grouping, repeat interval and inhibitions,
with each receiver pointed at a local HTTP server (its Slack and email parts dropped:
no network) and ``group_wait``/``group_interval`` shortened so the test takes seconds.
What is asserted is what the on-call person reads: which alert, which segment, the value
against its baseline, absolute runbook and dashboard links (from the settings), one
notification per alert however often Prometheus evaluates and re-sends it — also across
an exporter restart — and no per-judge drift notification while the ensemble's fires.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import start_http_server
from scenario import day_of, ndcg, seed_days

from monitor.config import Settings
from monitor.export.alerts import firing_alerts
from monitor.export.exporter import exporter_engine, make_registry
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "dashboards" / "prometheus" / "rules"
ALERTMANAGER = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"
GRAFANA = "https://grafana.example.com"
RUNBOOK = "https://docs.example.com/judge-monitor/operations.md"
DAY = 16
_HTTP = httpx.Client(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} not found: install it with `apt-get install {package}`")
    return found


def wait_for(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


@dataclass
class Received:
    """What the webhook received: (receiver path, payload) in arrival order."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(receiver, status, alert) for every alert of every notification."""
        with self.lock:
            return [
                (path, alert["status"], alert)
                for path, body in self.posts
                for alert in body["alerts"]
            ]


@pytest.fixture
def webhook() -> Iterator[tuple[str, Received]]:
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with received.lock:
                received.posts.append((self.path.strip("/"), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", received
    server.shutdown()
    server.server_close()


@dataclass
class Proc:
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tail(self) -> str:
        return self.log.read_text()[-3000:]


@pytest.fixture
def processes() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in started:
        proc.stop()


def start(args: list[str], log: Path, url: str, started: list[Proc]) -> Proc:
    with log.open("wb") as out:
        proc = Proc(subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT), log)
    started.append(proc)

    def ready() -> bool:
        if proc.proc.poll() is not None:
            pytest.fail(f"{args[0]} exited:\n{proc.tail()}")
        return _HTTP.get(url + "/-/ready", timeout=2).status_code == 200

    wait_for(ready, f"{args[0]} at {url}")
    return proc


def alertmanager_config(hook: str) -> dict[str, Any]:
    """The repository's config with every receiver sent to ``hook/<receiver>``."""
    config = yaml.safe_load(ALERTMANAGER.read_text())
    config["global"] = {"resolve_timeout": config["global"]["resolve_timeout"]}
    config["receivers"] = [
        {"name": r["name"], "webhook_configs": [{"url": f"{hook}/{r['name']}"}]}
        for r in config["receivers"]
    ]
    # seconds instead of minutes, so the test is quick; repeat_interval stays the real one
    config["route"]["group_wait"] = "1s"
    config["route"]["group_interval"] = "1s"
    return config


class Exporter:
    """The exporter on a fixed port, restartable (an exporter restart mid-day)."""

    def __init__(self, database: Database, settings: Settings) -> None:
        self.engine = exporter_engine(database.url)
        self.settings = settings
        self.port = free_port()
        self.server: Any = None
        self.thread: Any = None

    def start(self) -> None:
        registry = make_registry(self.engine, self.settings)
        self.server, self.thread = start_http_server(self.port, addr="127.0.0.1", registry=registry)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def seed_regressed_day(database: Database) -> None:
    """Days 1-16 of the scenario, and grade drift on day 16 for the ensemble and a judge."""
    seed_days(database.engine, DAY)
    with database.engine.begin() as conn:
        upsert_daily_metrics(
            conn,
            day=day_of(DAY),
            rows=[
                ("grade_psi", "locale=fr", "ensemble", 0, 0.9, None, None, 40, None),
                ("grade_psi", "locale=fr", "llm", 0, 0.8, None, None, 40, None),
            ],
        )


def test_the_on_call_person_is_notified_once_with_figures_and_links(
    database: Database, tmp_path: Path, webhook: tuple[str, Received], processes: list[Proc]
) -> None:
    """A regressed day notifies each alert once, with value vs baseline and absolute links."""
    seed_regressed_day(database)
    hook, received = webhook
    settings = Settings(baseline_days=14, public_url_grafana=GRAFANA, runbook_base_url=RUNBOOK)
    exporter = Exporter(database, settings)
    exporter.start()

    am_port = free_port()
    am_config = tmp_path / "alertmanager.yml"
    am_config.write_text(yaml.safe_dump(alertmanager_config(hook)))
    am_url = f"http://127.0.0.1:{am_port}"
    start(
        [
            binary("prometheus-alertmanager", "prometheus-alertmanager"),
            f"--config.file={am_config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        tmp_path / "alertmanager.log",
        am_url,
        processes,
    )
    prom_port = free_port()
    prom_config = tmp_path / "prometheus.yml"
    prom_config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "rule_files": [str(p) for p in sorted(RULES.glob("*.yml"))],
                "alerting": {
                    "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
                },
                "scrape_configs": [
                    {
                        "job_name": "judge_monitor_exporter",
                        "scrape_timeout": "1s",
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter.port}"]}],
                    }
                ],
            }
        )
    )
    prom_url = f"http://127.0.0.1:{prom_port}"
    start(
        [
            binary("prometheus", "prometheus"),
            f"--config.file={prom_config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
            "--rules.alert.resend-delay=1s",
        ],
        tmp_path / "prometheus.log",
        prom_url,
        processes,
    )

    def prometheus_firing() -> set[tuple[str, str, str]]:
        body = _HTTP.get(prom_url + "/api/v1/alerts").json()
        return {
            (a["labels"]["alertname"], a["labels"].get("segment", ""), a["labels"].get("judge", ""))
            for a in body["data"]["alerts"]
            if a["state"] == "firing"
        }

    # what Python says would fire on the day is what Prometheus fires (day rules only)
    with database.engine.connect() as conn:
        python_view = {
            (f.alert, f.segment, f.judge)
            for f in firing_alerts(conn, day_of(DAY), baseline_days=14)
        }
    assert ("JudgeMonitorQualityDropVsBaseline", "locale=fr", "ensemble") in python_view
    wait_for(lambda: python_view <= prometheus_firing(), "Prometheus to fire the day's alerts")
    fired = {a for a in prometheus_firing() if a[0] not in ("JudgeMonitorPipelineStale",)}
    assert fired == python_view

    drop_key = ("oncall", "JudgeMonitorQualityDropVsBaseline", "locale=fr")

    def delivered() -> set[tuple[str, str, str]]:
        return {
            (path, a["labels"]["alertname"], a["labels"].get("segment", ""))
            for path, status, a in received.alerts()
            if status == "firing"
        }

    wait_for(lambda: drop_key in delivered(), "the drop page to reach the webhook")
    drop = next(
        a
        for path, _status, a in received.alerts()
        if (path, a["labels"]["alertname"], a["labels"]["segment"]) == drop_key
    )
    annotations = drop["annotations"]
    today = ndcg("locale=fr", DAY, None)
    baseline = sum(ndcg("locale=fr", n, None) for n in range(1, 15)) / 14
    assert annotations["summary"] == (
        f"nDCG@10 dropped {baseline - today:.3f} below its baseline in segment locale=fr"
    )
    assert f"nDCG@10 {today:.3f}" in annotations["figures"]
    assert (
        f"against a baseline of {baseline:.3f}, the mean of 14 in-control days"
        in (annotations["figures"])
    )
    assert annotations["runbook_url"] == f"{RUNBOOK}#judgemonitorqualitydropvsbaseline"
    assert annotations["dashboard"].startswith(
        f"{GRAFANA}/d/jm-search-quality?viewPanel=1&var-segment=locale%3Dfr&var-judge=ensemble"
    )
    assert drop["labels"]["locale"] == "fr" and drop["labels"]["severity"] == "page"

    # the day goes on: Prometheus evaluates and re-sends every second, the exporter restarts
    time.sleep(4)
    exporter.stop()
    time.sleep(3)
    exporter.start()
    time.sleep(5)
    exporter.stop()

    counts: dict[tuple[str, str, str], int] = {}
    for path, status, a in received.alerts():
        key = (path, a["labels"]["alertname"], a["labels"].get("segment", ""))
        assert status == "firing", f"{key} resolved the same day"
        counts[key] = counts.get(key, 0) + 1
    assert counts[drop_key] == 1, counts
    assert all(n == 1 for n in counts.values()), counts
    assert ("webhook", "JudgeMonitorChangePoint", "all") in counts  # info → webhook
    assert ("ticket", "JudgeMonitorGradeDrift", "locale=fr") in counts  # the ensemble's
    per_judge = [
        a
        for _p, _s, a in received.alerts()
        if a["labels"]["alertname"] == "JudgeMonitorGradeDrift"
        and a["labels"]["judge"] != "ensemble"
    ]
    assert not per_judge, "per-judge drift must be inhibited while the ensemble's fires"
    assert ("JudgeMonitorGradeDrift", "locale=fr", "llm") in python_view  # it did hold
