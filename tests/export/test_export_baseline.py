"""The one baseline over a real Postgres: it does not forgive a regression, and it can be reset.

The scenario (``scenario.py``) is the demo's: the French segment breaks on day 15. The
rules are the YAML's, evaluated by ``firing_alerts`` on what the exporter serves.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import subprocess
import sys

import pytest
from scenario import NORMAL, REGRESSION_DAY, day_of, ndcg, seed_days
from sqlalchemy import text

from monitor.config import Settings
from monitor.export.alerts import firing_alerts
from monitor.export.baseline import reference_for
from monitor.export.exporter import exporter_engine, make_registry
from monitor.metrics.catalog import PREFIX
from monitor.store.baselines import record_acceptance
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

DROP = "JudgeMonitorQualityDropVsBaseline"
BASELINE_DAYS = 14


def dropped(database: Database, n: int, segment: str) -> bool:
    with database.engine.connect() as conn:
        return any(
            f.alert == DROP and f.segment == segment
            for f in firing_alerts(conn, day_of(n), baseline_days=BASELINE_DAYS)
        )


def exported(database: Database, name: str, **labels: str) -> float | None:
    engine = exporter_engine(database.url)
    try:
        registry = make_registry(engine, Settings(baseline_days=BASELINE_DAYS))
        return registry.get_sample_value(PREFIX + name, labels)
    finally:
        engine.dispose()


def fr(k: int = 10) -> dict[str, str]:
    return {"segment": "locale=fr", "locale": "fr", "judge": "ensemble", "k": str(k)}


def test_a_persisting_regression_pages_on_every_regressed_day(database: Database) -> None:
    """The drop holds on days 15 to 21 for the broken segment and all traffic, never before."""
    seed_days(database.engine, 21)
    for n in range(1, 22):
        expected = n >= REGRESSION_DAY
        assert dropped(database, n, "locale=fr") == expected, n
        assert dropped(database, n, "all") == expected, n
        assert not dropped(database, n, "locale=de"), n


def test_the_exported_baseline_keeps_the_level_before_the_regression(database: Database) -> None:
    """On day 21 the French baseline is the mean of days 1-14, not of the regressed week."""
    seed_days(database.engine, 21)
    before = [ndcg("locale=fr", n, None) for n in range(1, REGRESSION_DAY)]
    assert exported(database, "ndcg_baseline", **fr()) == pytest.approx(statistics.fmean(before))
    newest = exported(database, "baseline_newest_timestamp_seconds", segment="locale=fr")
    day_14 = day_of(REGRESSION_DAY - 1)
    assert newest == dt.datetime(day_14.year, day_14.month, day_14.day, tzinfo=dt.UTC).timestamp()
    assert exported(database, "baseline_reference_points", segment="locale=fr") == 14
    # the precision baseline leaves the same days out (one baseline per segment)
    precision = statistics.fmean(v - 0.1 for v in before)
    assert exported(database, "precision_baseline", **fr()) == pytest.approx(precision)


def test_the_page_resolves_the_day_quality_returns(database: Database) -> None:
    """Fixed on day 22: no drop that day, and day 22 counts in the baseline of day 23."""
    seed_days(database.engine, 23, fixed_on=22)
    assert dropped(database, 21, "locale=fr")
    assert not dropped(database, 22, "locale=fr")
    assert not dropped(database, 23, "locale=fr")
    with database.engine.connect() as conn:
        reference = reference_for(conn, day=day_of(23), baseline_days=BASELINE_DAYS)
    days = reference.days_for("locale=fr")
    assert day_of(22) in days and day_of(21) not in days and day_of(15) not in days
    assert reference.excluded["locale=fr"][day_of(15)] == DROP


def test_accepting_the_new_level_restarts_the_baseline(database: Database) -> None:
    """After `baseline accept --from day 15`, the French baseline is the new level: no page."""
    seed_days(database.engine, 21)
    with database.engine.begin() as conn:
        record_acceptance(conn, segment="locale=fr", from_day=day_of(15), by="alice", why="new")
    assert not dropped(database, 21, "locale=fr")
    assert dropped(database, 21, "all"), "an acceptance is for its segment only"
    after = statistics.fmean(ndcg("locale=fr", n, None) for n in range(15, 21))
    assert exported(database, "ndcg_baseline", **fr()) == pytest.approx(after)


def test_change_point_lead_in_days_leave_the_baseline(database: Database) -> None:
    """Days the change point dates a shift back to are left out, though no drop held on them."""
    seed_days(database.engine, 16)
    with database.engine.begin() as conn:
        day = day_of(17)
        upsert_daily_metrics(
            conn,
            day=day,
            rows=[
                ("ndcg", "all", "ensemble", 10, 0.88, 0.86, 0.90, 120, None),
                ("changepoint_cusum", "all", "ensemble", 10, 6.0, None, None, 17, None),
                ("changepoint_start_days_ago", "all", "ensemble", 10, 4.0, None, None, 17, None),
            ],
        )
    with database.engine.connect() as conn:
        reference = reference_for(conn, day=day_of(18), baseline_days=BASELINE_DAYS)
    excluded = reference.excluded["all"]
    assert excluded[day_of(13)] == "change point lead-in"
    assert excluded[day_of(14)] == "change point lead-in"
    assert day_of(12) in reference.days_for("all")
    assert day_of(13) not in reference.days_for("all")


def test_severity_comes_from_the_rules_file(database: Database) -> None:
    """The change point fires as info (the YAML's severity), the drop as page."""
    seed_days(database.engine, 16)
    with database.engine.connect() as conn:
        all_firing = firing_alerts(conn, day_of(16), baseline_days=14)
    firing = {f.alert: f for f in all_firing}
    assert firing["JudgeMonitorChangePoint"].severity == "info"
    assert firing[DROP].severity == "page"
    drop = next(f for f in all_firing if f.alert == DROP and f.segment == "locale=fr")
    assert drop.value == pytest.approx(ndcg("locale=fr", 16, None))
    assert drop.baseline == pytest.approx(
        statistics.fmean(ndcg("locale=fr", n, None) for n in range(1, 15))
    )
    assert drop.measure == pytest.approx(drop.baseline - drop.value)


def test_a_failed_run_fires_for_its_day(database: Database) -> None:
    """The day whose daily run failed fires JudgeMonitorRunFailed (page) in the day view."""
    seed_days(database.engine, 3)
    with database.engine.begin() as conn:
        conn.execute(
            text("UPDATE runs SET status = 'failed' WHERE run_date = :d"), {"d": day_of(3)}
        )
    with database.engine.connect() as conn:
        on_3 = {f.alert: f for f in firing_alerts(conn, day_of(3), baseline_days=14)}
        on_2 = {f.alert for f in firing_alerts(conn, day_of(2), baseline_days=14)}
    assert on_3["JudgeMonitorRunFailed"].severity == "page"
    assert "JudgeMonitorRunFailed" not in on_2


def test_baseline_accept_command(database: Database) -> None:
    """`baseline accept` records who and why; an unknown segment is one clear error line."""
    seed_days(database.engine, 16)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = database.url

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor", "baseline", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    ok = cli("accept", "--segment", "locale=fr", "--from", str(day_of(15)), "--by", "bob",
             "--why", "catalogue change")  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "accepted locale=fr from" in ok.stdout
    with database.engine.connect() as conn:
        row = conn.execute(
            text("SELECT segment, from_date, accepted_by, reason FROM baseline_acceptances")
        ).one()
    assert tuple(row) == ("locale=fr", day_of(15), "bob", "catalogue change")
    bad = cli("accept", "--segment", "locale=xx", "--from", str(day_of(15)))
    assert bad.returncode == 1
    assert "--segment locale=xx: no figures stored for it" in bad.stderr
    assert "Traceback" not in bad.stderr
    shown = cli("show")
    assert shown.returncode == 0, shown.stderr
    assert "locale=fr" in shown.stdout and str(day_of(15)) in shown.stdout
    assert all(segment in shown.stdout for segment in NORMAL)


def test_the_replayed_chart_is_never_stale(database: Database) -> None:
    """The exporter keeps its replay between scrapes, yet a figure rewritten in place and an
    acceptance each show at the next read."""
    seed_days(database.engine, 18)

    def fr_days() -> tuple[dt.date, ...]:
        with database.engine.connect() as conn:
            return reference_for(conn, day=day_of(18), baseline_days=14).days_for("locale=fr")

    assert day_of(16) not in fr_days()
    with database.engine.begin() as conn:  # day 16 rewritten in place: back to normal
        upsert_daily_metrics(conn, day=day_of(16), rows=[
            ("ndcg", "locale=fr", "ensemble", 10, 0.88, 0.86, 0.90, 120, None)])  # fmt: skip
    assert day_of(16) in fr_days()
    with database.engine.begin() as conn:
        record_acceptance(conn, segment="locale=fr", from_day=day_of(17), by="a", why="")
    assert fr_days() == (day_of(17),)  # the accepted level: from day 17 on
