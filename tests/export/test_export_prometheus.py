"""A real Prometheus scraping the exporter: every dashboard and alert query evaluates.

The dashboards and rules are discovered at run time (``dashboards/grafana/*.json``,
``dashboards/prometheus/rules/*.yml``), so a renamed metric on either side breaks this
test rather than a panel in production. The seeded day is a bad one (quality below
baseline and floor, drift, disagreement, cost spike, a stale daily run), so each alert
expression has something to return.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from monitor.export.pushgateway import push_run_metrics
from monitor.store.repository import ensure_judge, upsert_daily_metrics

_HTTP = httpx.Client()  # one client: building one per query costs ~40 ms
REPO = Path(__file__).resolve().parents[2]
SEGMENTS = ("all", "locale=de", "locale=en")
JUDGES = ("ensemble", "lexical", "llm", "lexical~llm")
BAD_DAY = {
    "ndcg": 0.3,
    "panel_ndcg_change": -0.1,
    "grade_psi": 0.5,
    "changepoint_cusum": 8.0,
    "changepoint_start_days_ago": 3.0,
    "krippendorff_alpha": 0.2,
    "human_kappa": 0.2,
    "human_f1": 0.3,
    "invalid_rate": 0.2,
    "cost_usd": 10.0,
}
# Rules about something missing, down, failed or abandoned cannot return anything while
# all is well; for them the test checks that every family they name exists instead.
QUIET_WHEN_HEALTHY = re.compile(
    r"absent\(|\b(?:judge_monitor_)?up\b(?:\{[^}]*\})?\s*==\s*0"
    r"|judge_monitor_last_run_status\{|judge_monitor_runs_abandoned\b"
)
SELECTOR = re.compile(r"\b((?:judge_monitor_[a-z0-9_]+)|up)\b(\{[^}]*\})?")


def _panels(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in node.get("panels", []):
        yield panel
        yield from _panels(panel)


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, expr) for every panel target of every dashboard JSON."""
    found = []
    for path in sorted((REPO / "dashboards" / "grafana").glob("*.json")):
        board = json.loads(path.read_text())
        for panel in _panels(board):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    found.append((f"{path.name} panel {panel.get('id')}", target["expr"]))
    return found


def rule_exprs() -> list[tuple[str, str]]:
    """(where, expr) for every alerting or recording rule."""
    found = []
    for path in sorted((REPO / "dashboards" / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("alert") or rule.get("record")
                found.append((f"{path.name} {name}", rule["expr"]))
    return found


def substitute(expr: str, segment: str, judge: str) -> str:
    """Grafana's template variables replaced by concrete values."""
    values = {
        "segment": segment,
        "judge": judge,
        "datasource": "prometheus",
        "__rate_interval": "1m",
        "__interval": "1m",
        "__range": "1h",
    }
    for name, value in values.items():
        for form in (f"${{{name}}}", f"[[{name}]]", f"${name}"):
            expr = expr.replace(form, value)
    return expr


def query(base: str, expr: str) -> list[Any]:
    """Evaluate ``expr`` now; fail with Prometheus's error if it is not valid PromQL."""
    response = _HTTP.get(base + "/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body.get("status") == "success", f"invalid PromQL {expr!r}: {body.get('error')}"
    result = body["data"]["result"]
    return result if isinstance(result, list) else [result]


def missing_selectors(base: str, expr: str) -> list[str]:
    """The series selectors in ``expr`` that match nothing in Prometheus."""
    return [m.group(0) for m in SELECTOR.finditer(expr) if not query(base, m.group(0))]


def missing_families(base: str, expr: str) -> list[str]:
    """The metric names in ``expr`` that Prometheus has no series of at all."""
    return [m.group(1) for m in SELECTOR.finditer(expr) if not query(base, m.group(1))]


@pytest.fixture
def prometheus_url(
    seed: Any,
    exporter_port: int,
    pushgateway: str,
    prometheus_factory: Callable[[dict[str, int]], str],
) -> str:
    """Prometheus scraping the exporter over a bad seeded day and the Pushgateway."""
    today = dt.datetime.now(dt.UTC).date()
    history = seed.history(latest=today, days=10, today=lambda metric: BAD_DAY.get(metric, 0.6))
    # labelled days: nDCG@10 corrected by human labels (both nDCGs) and the list-ideal
    # judge-only one (the seed stores ndcg_list at k 0 only); at the pooled figure's levels,
    # so that the bad day drops them too
    with seed.engine.begin() as conn:
        for (day, (metric, segment, _, k)), row in sorted(history.values.items()):
            if (metric, k) == ("ndcg", 10):
                rows = [("ndcg_list", segment, judge, k, *row, None)
                        for judge in ("ensemble", "corrected")]  # fmt: skip
                rows.append(("ndcg", segment, "corrected", k, *row, None))
                upsert_daily_metrics(conn, day=day, rows=rows)
    with seed.engine.begin() as conn:  # judges as they gave verdicts: judge_monitor_judge_info
        for name in ("lexical", "llm"):
            ensure_judge(conn, name=name, kind="lexical", model=name, prompt_version="v1",
                         config_hash=name, params={})  # fmt: skip
    counts = {"sampled": 200, "judged": 150, "cached": 450, "invalid": 12, "bad_rows": 3}
    seed.run(
        flow="daily",
        run_date=today - dt.timedelta(days=1),
        status="completed",
        counts=counts,
        cost_usd=4.0,
        duration_s=300.0,
        finished_ago=dt.timedelta(hours=30),
    )
    pushed = push_run_metrics(
        pushgateway,
        flow="daily",
        duration_s=300.0,
        counts=counts,
        cost_usd=4.0,
        success=True,
        run_date=today,
    )
    assert pushed
    gateway_port = int(pushgateway.rsplit(":", 1)[1])
    base = prometheus_factory(
        {"judge_monitor_exporter": exporter_port, "pushgateway": gateway_port}
    )
    # increase() over the error counter needs two scrapes of the exporter.
    for _ in range(150):
        points = query(base, "count_over_time(judge_monitor_up[1m])")
        if points and float(points[0]["value"][1]) >= 2:
            break
        time.sleep(0.2)
    else:
        pytest.fail("Prometheus did not store two scrapes of the exporter")
    return base


def test_every_dashboard_and_rule_query_returns_data(prometheus_url: str) -> None:
    """Each dashboard panel query and alert expression is valid PromQL and non-empty."""
    up = query(prometheus_url, 'up{job="judge_monitor_exporter"}')
    assert [float(p["value"][1]) for p in up] == [1.0]
    dashboards, rules = dashboard_exprs(), rule_exprs()
    assert dashboards, "no dashboard queries found in dashboards/grafana/*.json"
    assert rules, "no alert rules found in dashboards/prometheus/rules/*.yml"
    problems: list[str] = []
    for where, expr in dashboards:
        tried = [
            substitute(expr, segment, judge)
            for segment, judge in itertools.product(SEGMENTS, JUDGES)
        ]
        if not any(query(prometheus_url, concrete) for concrete in dict.fromkeys(tried)):
            missing = missing_selectors(prometheus_url, substitute(expr, "all", "ensemble"))
            problems.append(f"{where}: {expr!r} is empty; selectors matching nothing: {missing}")
    for where, expr in rules:
        if query(prometheus_url, expr):
            continue
        quiet = QUIET_WHEN_HEALTHY.search(expr)
        missing = (missing_families if quiet else missing_selectors)(prometheus_url, expr)
        if missing or not quiet:
            problems.append(f"{where}: {expr!r} is empty; selectors matching nothing: {missing}")
    assert not problems, "\n".join(problems)


def test_every_dashboard_annotation_is_valid_promql(prometheus_url: str) -> None:
    """Each dashboard annotation query is PromQL Prometheus accepts (ALERTS may be empty)."""
    found = 0
    for path in sorted((REPO / "dashboards" / "grafana").glob("*.json")):
        for annotation in json.loads(path.read_text())["annotations"]["list"]:
            query(prometheus_url, annotation["expr"])
            found += 1
    assert found >= 16


def test_segment_field_labels_aggregate_in_prometheus(prometheus_url: str) -> None:
    """sum by (locale) works: one series per locale, none for segment all."""
    result = query(prometheus_url, 'sum by (locale) (judge_monitor_ndcg{k="10",locale!=""})')
    assert sorted(r["metric"]["locale"] for r in result) == ["de", "en"]
    everything = query(prometheus_url, 'count by (locale) (judge_monitor_ndcg{k="10"})')
    assert {r["metric"].get("locale", "") for r in everything} == {"", "de", "en"}
