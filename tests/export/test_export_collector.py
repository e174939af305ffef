"""The collector over a real Postgres: what a scrape reads from daily_metrics and runs."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from sqlalchemy import text

from monitor.config import Settings
from monitor.export.exporter import (
    all_family_names,
    exporter_engine,
    make_registry,
)
from monitor.export.families import figure_labels
from monitor.metrics.catalog import METRICS, PREFIX
from monitor.store.db import Database
from monitor.store.repository import start_run, upsert_daily_metrics

LATEST = dt.date(2025, 3, 20)


def _labels(key: tuple[str, str, str, int]) -> dict[str, str]:
    """The series labels of a figure: segment, judge, k and the segment's field label."""
    return figure_labels(key[1], key[2], key[3])


def test_latest_day_values_are_exported(seed: Any, registry: CollectorRegistry) -> None:
    """Each metric family carries the latest day's value, not an older day's."""
    history = seed.history(latest=LATEST, days=3)
    for spec in METRICS:
        for key in seed.keys(spec.metric):
            got = registry.get_sample_value(spec.family, _labels(key))
            stored = history.value(LATEST, key)
            assert stored is not None
            assert got == pytest.approx(stored * spec.scale), (spec.family, key)
            older = history.value(LATEST - dt.timedelta(days=1), key)
            assert older is not None and got != older * spec.scale
    stamp = registry.get_sample_value(PREFIX + "metrics_date_timestamp_seconds")
    assert stamp == dt.datetime(2025, 3, 20, tzinfo=dt.UTC).timestamp()
    assert registry.get_sample_value(PREFIX + "up") == 1.0


def test_ci_families_and_sample_counts(seed: Any, registry: CollectorRegistry) -> None:
    """Metrics with a CI export _ci_lower/_ci_upper; every row exports its n."""
    history = seed.history(latest=LATEST, days=1)
    for spec in METRICS:
        for key in seed.keys(spec.metric):
            _value, low, high, n = history.values[(LATEST, key)]
            labels = _labels(key)
            lower = registry.get_sample_value(spec.family + "_ci_lower", labels)
            upper = registry.get_sample_value(spec.family + "_ci_upper", labels)
            if spec.has_ci:
                assert low is not None and high is not None
                scaled = (pytest.approx(low * spec.scale), pytest.approx(high * spec.scale))
                assert (lower, upper) == scaled
            else:
                assert lower is None and upper is None
            samples = registry.get_sample_value(
                PREFIX + "metric_samples", {"metric": spec.metric, **labels}
            )
            assert samples == n


def test_baseline_is_mean_of_the_settings_window(database: Database) -> None:
    """_baseline is the mean over the last baseline_days days before the latest day, when
    every one of them was in control (the latest day and older days left out)."""
    window = 5
    steady = [0.80, 0.81, 0.79, 0.82, 0.80, 0.78, 0.81, 0.83]  # no day drops 0.05
    with database.engine.begin() as conn:
        for back, value in enumerate(steady):
            day = LATEST - dt.timedelta(days=back)
            upsert_daily_metrics(
                conn,
                day=day,
                rows=[
                    ("ndcg", "all", "ensemble", 10, value, value - 0.02, value + 0.02, 90, None),
                    ("cost_usd", "all", "llm", 0, 1.0 + back, None, None, 90, None),
                ],
            )
    engine = exporter_engine(database.url)
    try:
        registry = make_registry(engine, Settings(baseline_days=window))
        ndcg = registry.get_sample_value(
            PREFIX + "ndcg_baseline", _labels(("", "all", "ensemble", 10))
        )
        cost = registry.get_sample_value(
            PREFIX + "cost_dollars_baseline", _labels(("", "all", "llm", 0))
        )
        points = registry.get_sample_value(PREFIX + "baseline_reference_points", {"segment": "all"})
    finally:
        engine.dispose()
    assert ndcg == pytest.approx(statistics.fmean(steady[1 : window + 1]))
    assert cost == pytest.approx(statistics.fmean(1.0 + b for b in range(1, window + 1)))
    assert points == window


def test_null_values_are_not_emitted(database: Database, registry: CollectorRegistry) -> None:
    """A metric stored with NULL value and a reason has no sample, the others still do."""
    with database.engine.begin() as conn:
        upsert_daily_metrics(
            conn,
            day=LATEST,
            rows=[
                ("ndcg", "all", "ensemble", 10, None, None, None, 3, "n=3 < 10"),
                ("ndcg", "all", "ensemble", 3, 0.7, 0.6, 0.8, 40, None),
            ],
        )
    at10 = _labels(("ndcg", "all", "ensemble", 10))
    assert registry.get_sample_value(PREFIX + "ndcg", at10) is None
    assert registry.get_sample_value(PREFIX + "metric_samples", {"metric": "ndcg", **at10}) is None
    at3 = _labels(("ndcg", "all", "ensemble", 3))
    assert registry.get_sample_value(PREFIX + "ndcg", at3) == 0.7


def test_unknown_metric_names_are_ignored(database: Database, registry: CollectorRegistry) -> None:
    """A metric name the exporter does not declare produces no family of its own."""
    with database.engine.begin() as conn:
        upsert_daily_metrics(
            conn, day=LATEST, rows=[("brand_new", "all", "ensemble", 0, 1.0, None, None, 5, None)]
        )
    names = {m.name for m in registry.collect()}
    assert not any("brand_new" in name for name in names)
    assert registry.get_sample_value(PREFIX + "up") == 1.0


def test_empty_database_exports_only_health(registry: CollectorRegistry) -> None:
    """With no metrics and no runs the scrape answers with up 1 and no daily samples."""
    assert registry.get_sample_value(PREFIX + "up") == 1.0
    samples = [s for m in registry.collect() for s in m.samples]
    assert {s.name for s in samples} <= {
        PREFIX + "links_info",
        PREFIX + "up",
        PREFIX + "scrape_duration_seconds",
        PREFIX + "scrape_errors_total",
        PREFIX + "scrape_errors_created",
    }


def test_run_families(database: Database, seed: Any, registry: CollectorRegistry) -> None:
    """Run families come from the latest finished run per flow; last success from completed ones."""
    counts = {
        "sampled": 50,
        "judged": 40,
        "cached": 60,
        "invalid": 3,
        "failed_calls": 4,
        "verdicts": 100,
        "bad_rows": 2,
        "bad_rows_by_reason": {"missing query": 2},
    }
    seed.run(
        flow="daily",
        run_date=LATEST - dt.timedelta(days=1),
        status="completed",
        counts=counts,
        cost_usd=1.25,
        duration_s=30.0,
        finished_ago=dt.timedelta(hours=25),
    )
    seed.run(
        flow="daily",
        run_date=LATEST,
        status="failed",
        counts={"sampled": 10, "bad_rows": 7},
        cost_usd=0.5,
        duration_s=12.0,
        finished_ago=dt.timedelta(hours=1),
    )
    seed.run(
        flow="backfill",
        run_date=LATEST,
        status="completed",
        counts=counts,
        cost_usd=2.0,
        duration_s=90.0,
    )
    with database.engine.connect() as conn:
        success_at = conn.execute(
            text(
                "SELECT extract(epoch FROM finished_at) FROM runs "
                "WHERE flow = 'daily' AND status = 'completed'"
            )
        ).scalar_one()

    def get(name: str, flow: str, **labels: str) -> float | None:
        return registry.get_sample_value(PREFIX + name, {"flow": flow, **labels})

    assert get("last_run_success", "daily") == 0.0
    assert get("last_run_success", "backfill") == 1.0
    assert get("last_success_timestamp_seconds", "daily") == pytest.approx(float(success_at))
    assert get("run_duration_seconds", "daily") == 12.0
    assert get("run_cost_dollars", "daily") == 0.5
    assert get("run_bad_rows", "daily") == 7.0
    assert get("run_verdicts", "daily", kind="judged") == 0.0
    assert get("run_verdicts", "backfill", kind="judged") == 40.0
    assert get("run_verdicts", "backfill", kind="cached") == 60.0
    assert get("run_verdicts", "backfill", kind="invalid") == 3.0
    assert get("run_verdicts", "backfill", kind="failed") == 4.0


def test_running_run_does_not_count_as_failure(
    database: Database, seed: Any, registry: CollectorRegistry
) -> None:
    """A run still going leaves last_run_success at the previous finished run's outcome."""
    seed.run(
        flow="daily",
        run_date=LATEST - dt.timedelta(days=1),
        status="completed",
        counts={},
        cost_usd=0.0,
        duration_s=1.0,
    )
    with database.engine.begin() as conn:
        start_run(conn, flow="daily", run_date=LATEST, config_hash="cfg")
    assert registry.get_sample_value(PREFIX + "last_run_success", {"flow": "daily"}) == 1.0


def test_backfilling_old_days_does_not_look_fresh(
    database: Database, seed: Any, registry: CollectorRegistry
) -> None:
    """Last success is the newest day's completed run, not a backfill that finished later."""
    seed.run(
        flow="daily",
        run_date=LATEST,
        status="completed",
        counts={},
        cost_usd=0.0,
        duration_s=1.0,
        finished_ago=dt.timedelta(hours=30),
    )
    seed.run(
        flow="daily",
        run_date=LATEST - dt.timedelta(days=20),
        status="completed",
        counts={},
        cost_usd=0.0,
        duration_s=1.0,
        finished_ago=dt.timedelta(minutes=5),
    )
    with database.engine.connect() as conn:
        newest_day_at = conn.execute(
            text("SELECT extract(epoch FROM finished_at) FROM runs WHERE run_date = :d"),
            {"d": LATEST},
        ).scalar_one()
    value = registry.get_sample_value(PREFIX + "last_success_timestamp_seconds", {"flow": "daily"})
    assert value == pytest.approx(float(newest_day_at))


def test_labels_are_bounded_and_families_declared(seed: Any, registry: CollectorRegistry) -> None:
    """Every emitted sample uses only the bounded label names, in a declared family."""
    seed.history(latest=LATEST, days=8)
    seed.run(
        flow="daily",
        run_date=LATEST,
        status="completed",
        counts={"judged": 1},
        cost_usd=0.1,
        duration_s=2.0,
    )
    declared = set(all_family_names())
    families = list(registry.collect())
    assert {m.name + ("_total" if m.type == "counter" else "") for m in families} <= declared
    for family in families:
        for sample in family.samples:
            assert set(sample.labels) <= seed.bounded_labels, sample


def test_registry_is_private(database: Database) -> None:
    """make_registry builds a fresh registry each time: nothing is registered globally."""
    engine = exporter_engine(database.url)
    try:
        first, second = make_registry(engine), make_registry(engine)
        assert first is not second
        assert first.get_sample_value(PREFIX + "up") == 1.0
        assert REGISTRY.get_sample_value(PREFIX + "up") is None
    finally:
        engine.dispose()
