"""The demo's regression through the real daily pipeline: the page holds, then resolves.

The demo's source and scenario (the demo's settings, written out here, with its lexical
judge) run day by day through ``run_day`` — sample, judge, store, metrics — on a real Postgres;
the French locale breaks on day 15 and is fixed on day 22 (the demo scenario's ``end``).
The quality-drop rule, read from the rules YAML with the exporter's baseline, must hold
on every regressed day, 15 to 21, for the broken segment and all traffic, and not on
day 22, the day quality is back; never before day 15.
"""

from __future__ import annotations

import datetime as dt

from monitor.config import JudgeConfig, SamplingConfig, Settings, SourceConfig
from monitor.export.alerts import firing_alerts
from monitor.pipeline.day import run_day
from monitor.store.db import Database

DROP = "JudgeMonitorQualityDropVsBaseline"
DAYS = 23
REGRESSION_DAY = 15
FIXED_ON = 22


def demo_settings(first: dt.date) -> Settings:
    """The demo's settings (its source, sampling and lexical judge), fixed on FIXED_ON."""
    scenario = {
        "broken_segment": "locale=fr",
        "start": (first + dt.timedelta(days=REGRESSION_DAY - 1)).isoformat(),
        "end": (first + dt.timedelta(days=FIXED_ON - 1)).isoformat(),
    }
    options = {"seed": 7, "searches_per_day": 1500, "items": 1500, "queries_per_locale": 1200}
    return Settings(
        judges=[
            JudgeConfig(
                name="lexical", kind="lexical", api_key_env=None, thresholds=[0.35, 0.6, 0.72]
            )
        ],
        source=SourceConfig(kind="demo", options={**options, "scenario": scenario}),
        sampling=SamplingConfig(size=120, seed=7, strata=["locale"], min_per_stratum=20),
        baseline_days=14,
        judge_processes=1,
        canary_size=0,
    )


def test_demo_regression_pages_every_day_and_resolves_on_the_fix(database: Database) -> None:
    """Drop fires on days 15-21 (locale=fr and all), not before, and not from day 22."""
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=DAYS - 1)
    settings = demo_settings(first)
    fired: dict[int, set[str]] = {}
    for n in range(1, DAYS + 1):
        day = first + dt.timedelta(days=n - 1)
        run_day(database, settings, day)
        with database.engine.connect() as conn:
            alerts = firing_alerts(conn, day, baseline_days=settings.baseline_days)
        fired[n] = {f.segment for f in alerts if f.alert == DROP}
    for n in range(1, DAYS + 1):
        regressed = REGRESSION_DAY <= n < FIXED_ON
        assert ("locale=fr" in fired[n]) == regressed, (n, fired[n])
        assert ("all" in fired[n]) == regressed, (n, fired[n])
