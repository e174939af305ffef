"""The real exporter's baseline through the real rules: promtool, day after day of the demo.

The demo's regression (``scenario.py``: the French segment breaks on day 15) is stored one
day at a time, fixed on day 22; after each day the exporter is scraped, as Prometheus
would scrape it that day. Those scrapes become a promtool test (one sample an hour, each
day's values all day long), evaluated by the repository's rules: the quality-drop page
must hold on every regressed day, 15 to 21, for the broken segment and all traffic, and
be gone within a day after the fix (at 01:00 on day 22). A baseline that forgave the
regression (the mean of the last 7 days) would resolve on day 19.
"""

from __future__ import annotations

import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from scenario import REGRESSION_DAY, seed_days

from monitor.config import Settings
from monitor.export.exporter import exporter_engine, make_registry
from monitor.store.db import Database

REPO = Path(__file__).resolve().parents[2]
RULES = sorted((REPO / "dashboards" / "prometheus" / "rules").glob("*.yml"))
FIXED_ON = 22
LAST = 23
WATCHED = (
    "judge_monitor_ndcg",
    "judge_monitor_ndcg_ci_upper",
    "judge_monitor_ndcg_baseline",
    "judge_monitor_baseline_reference_points",
)
HOURS = 24


def series_text(name: str, labels: dict[str, str]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def scrapes(database: Database) -> list[dict[str, float]]:
    """For each day 1..LAST: the watched series the exporter served once that day was stored."""
    engine = exporter_engine(database.url)
    out: list[dict[str, float]] = []
    try:
        registry = make_registry(engine, Settings(baseline_days=14))
        for n in range(1, LAST + 1):
            seed_days(database.engine, n, fixed_on=FIXED_ON, first=n)
            day: dict[str, float] = {}
            for family in text_string_to_metric_families(generate_latest(registry).decode()):
                for sample in family.samples:
                    if sample.name in WATCHED and sample.labels.get("k", "10") == "10":
                        day[series_text(sample.name, sample.labels)] = sample.value
            out.append(day)
    finally:
        engine.dispose()
    return out


def promtool_test(days: list[dict[str, float]]) -> dict[str, Any]:
    values: dict[str, list[str]] = defaultdict(list)
    names = sorted({s for day in days for s in day})
    for day in days:
        for name in names:
            value = day.get(name)
            values[name].append(f"{value}+0x{HOURS - 1}" if value is not None else f"_x{HOURS}")
    firing = {"alertname": "JudgeMonitorQualityDropVsBaseline", "alertstate": "firing"}
    cases = []
    for n in range(1, LAST + 1):
        expected = []
        if REGRESSION_DAY <= n < FIXED_ON:
            for segment, extra in (("all", {}), ("locale=fr", {"locale": "fr"})):
                labels = {**firing, "segment": segment, "judge": "ensemble", "k": "10", **extra}
                labels.update(severity="page", concern="quality", source="exporter")
                expected.append({"labels": series_text("ALERTS", labels), "value": 1})
        cases.append(
            {
                "expr": 'ALERTS{alertname="JudgeMonitorQualityDropVsBaseline",alertstate="firing"}',
                "eval_time": f"{(n - 1) * HOURS + 12}h",
                "exp_samples": expected,
            }
        )
    cases.append(
        {
            "expr": 'ALERTS{alertname="JudgeMonitorQualityDropVsBaseline"}',
            "eval_time": f"{(FIXED_ON - 1) * HOURS + 1}h",
            "exp_samples": [],
        }
    )
    return {
        "rule_files": [str(p) for p in RULES],
        "evaluation_interval": "1h",
        "tests": [
            {
                "name": "the exporter's baseline, day by day",
                "interval": "1h",
                "input_series": [{"series": s, "values": " ".join(v)} for s, v in values.items()],
                "promql_expr_test": cases,
            }
        ],
    }


def test_the_page_holds_every_regressed_day_and_resolves_after_the_fix(
    database: Database, tmp_path: Path
) -> None:
    """promtool, on the exporter's scrapes: the drop fires days 15-21, not before or after."""
    days = scrapes(database)
    fr_baseline = (
        'judge_monitor_ndcg_baseline{judge="ensemble",k="10",locale="fr",segment="locale=fr"}'
    )
    # the baseline the exporter served stayed at the pre-regression level all week
    assert all(day[fr_baseline] > 0.85 for day in days[REGRESSION_DAY - 1 : FIXED_ON - 1])
    path = tmp_path / "exporter_baseline_test.yml"
    path.write_text(yaml.safe_dump(promtool_test(days), width=10_000))
    out = subprocess.run(
        ["promtool", "test", "rules", path.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "SUCCESS" in out.stdout
