"""The corrected figures reach the scrape: judge="corrected" and "humans" series with CIs,
under the family of the figure corrected (the headline ``judge_monitor_ndcg``, and the
list-ideal ``judge_monitor_ndcg_list``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import Settings
from monitor.export.alerts import evaluate_day
from monitor.export.exporter import exporter_engine, make_registry
from monitor.export.promql import NAME, InstantSample
from monitor.metrics.catalog import PREFIX
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

LATEST = dt.date(2025, 3, 20)


def _scrape(database: Database) -> dict[tuple[str, str, str], float]:
    engine = exporter_engine(database.url)
    try:
        text = generate_latest(make_registry(engine, Settings())).decode()
    finally:
        engine.dispose()
    return {
        (s.name, s.labels.get("judge", ""), s.labels.get("segment", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.labels.get("k") == "10"
    }


def test_corrected_rows_are_exported_with_the_judge_label(seed: Any, database: Database) -> None:
    seed.history(latest=LATEST, days=3)
    with database.engine.begin() as conn:
        upsert_daily_metrics(
            conn,
            day=LATEST,
            rows=[
                ("ndcg", "all", "ensemble", 10, 0.7, 0.65, 0.75, 200, None),
                ("ndcg", "all", "corrected", 10, 0.51, 0.45, 0.57, 40, None),
                ("ndcg_list", "all", "ensemble", 10, 0.8, 0.75, 0.85, 200, None),
                ("ndcg_list", "all", "corrected", 10, 0.61, 0.55, 0.67, 40, None),
                ("ndcg_list", "all", "humans", 10, 0.6, 0.5, 0.7, 40, None),
                ("ndcg_list", "locale=de", "corrected", 10, None, None, None, 3, "3 labelled < 5"),
            ],
        )
    got = _scrape(database)
    assert got[(PREFIX + "ndcg_list", "corrected", "all")] == 0.61
    assert got[(PREFIX + "ndcg_list_ci_lower", "corrected", "all")] == 0.55
    assert got[(PREFIX + "ndcg_list_ci_upper", "corrected", "all")] == 0.67
    assert got[(PREFIX + "ndcg_list", "humans", "all")] == 0.6
    assert got[(PREFIX + "ndcg_list", "ensemble", "all")] == 0.8, "the judge-only line stays"
    assert got[(PREFIX + "ndcg", "corrected", "all")] == 0.51, "the headline figure's own"
    assert got[(PREFIX + "ndcg_ci_upper", "corrected", "all")] == 0.57
    assert got[(PREFIX + "ndcg", "ensemble", "all")] == 0.7
    assert (PREFIX + "ndcg_list", "corrected", "locale=de") not in got, "a NULL row is no series"


def _sample(name: str, judge: str, segment: str, value: float) -> InstantSample:
    labels = {NAME: PREFIX + name, "segment": segment, "judge": judge, "k": "10"}
    return InstantSample(labels, value)


def test_the_day_view_names_the_corrected_figure_a_firing_is_about() -> None:
    """The quality-drop rule fires on the corrected nDCG in one segment and on the
    ensemble's in another: each firing carries its own figure and baseline. A corrected
    list-ideal nDCG that dropped is not what the rule watches."""
    samples = [
        _sample("ndcg", "ensemble", "locale=de", 0.72),
        _sample("ndcg_baseline", "ensemble", "locale=de", 0.72),
        _sample("ndcg_ci_upper", "ensemble", "locale=de", 0.74),
        _sample("ndcg", "corrected", "locale=de", 0.6),
        _sample("ndcg_baseline", "corrected", "locale=de", 0.7),
        _sample("ndcg_ci_upper", "corrected", "locale=de", 0.66),
        _sample("ndcg_list", "corrected", "locale=en", 0.4),
        _sample("ndcg_list_baseline", "corrected", "locale=en", 0.7),
        _sample("ndcg_list_ci_upper", "corrected", "locale=en", 0.45),
        _sample("ndcg", "ensemble", "locale=fr", 0.5),
        _sample("ndcg_baseline", "ensemble", "locale=fr", 0.7),
        _sample("ndcg_ci_upper", "ensemble", "locale=fr", 0.55),
    ]
    firings = {
        (f.segment, f.judge): f
        for f in evaluate_day(samples, dt.date(2026, 4, 7))
        if f.alert == "JudgeMonitorQualityDropVsBaseline"
    }
    assert set(firings) == {("locale=de", "corrected"), ("locale=fr", "ensemble")}
    de, fr = firings[("locale=de", "corrected")], firings[("locale=fr", "ensemble")]
    assert (de.value, de.baseline) == (0.6, 0.7)
    assert (fr.value, fr.baseline) == (0.5, 0.7)
