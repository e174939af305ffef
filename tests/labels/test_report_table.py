"""`report`: a day's figures against the mean of the baseline window, with arrows."""

from __future__ import annotations

import datetime as dt
import importlib
import statistics

import pytest
from sqlalchemy import Connection

from monitor.errors import InputError
from monitor.metrics.catalog import SECTIONS
from monitor.metrics.daily import MetricRow
from monitor.report.figures import compare_to_baseline, trend_arrow
from monitor.report.model import load_report
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

DAY = dt.date(2026, 11, 20)
BASELINE_DAYS = 7


def mv(metric: str, value: float | None, **kw: object) -> MetricRow:
    fields: dict[str, object] = {
        "segment": "all",
        "judge": "ensemble",
        "k": 0,
        "ci_low": None,
        "ci_high": None,
        "n": 50,
        "reason": None,
    }
    fields.update(kw)
    return MetricRow(metric=metric, value=value, **fields)  # type: ignore[arg-type]


def put(conn: Connection, day: dt.date, rows: list[MetricRow]) -> None:
    upsert_daily_metrics(
        conn,
        day=day,
        rows=[
            (r.metric, r.segment, r.judge, r.k, r.value, r.ci_low, r.ci_high, r.n, r.reason)
            for r in rows
        ],
    )


MODULES = [
    "charts",
    "data",
    "figures",
    "health",
    "html",
    "model",
    "queries",
    "style",
    "summary",
    "svg",
    "table",
]


@pytest.mark.parametrize("name", MODULES)
def test_public_names_exist(name: str) -> None:
    """Every name in each monitor.report module's __all__ is defined."""
    module = importlib.import_module(f"monitor.report.{name}")
    assert module.__all__, f"monitor.report.{name} exports nothing"
    assert [n for n in module.__all__ if not hasattr(module, n)] == []


def test_arrow_respects_the_tolerance() -> None:
    """Moves within the tolerance are →, beyond it ↑ or ↓; a missing side gives no arrow."""
    base = 0.5
    assert trend_arrow(base * 1.01, base, tolerance=0.02) == "→"
    assert trend_arrow(base * 1.05, base, tolerance=0.02) == "↑"
    assert trend_arrow(base * 0.95, base, tolerance=0.02) == "↓"
    assert trend_arrow(None, base) == ""
    assert trend_arrow(base, None) == ""


def test_baseline_is_the_mean_of_history_and_nulls_are_skipped() -> None:
    """The baseline of a figure is the mean of its non-null past values, matched on its key."""
    past = [0.60, 0.64, 0.62]
    history = [mv("ndcg", v, k=10) for v in past]
    history += [mv("ndcg", None, k=10, reason="too few"), mv("ndcg", 0.1, k=3)]
    today = [mv("ndcg", 0.40, k=10), mv("ndcg", 0.1, k=3), mv("invalid_rate", 0.2, judge="j")]
    lines = {(ln.current.metric, ln.current.k): ln for ln in compare_to_baseline(today, history)}
    ten = lines[("ndcg", 10)]
    assert ten.baseline == pytest.approx(statistics.mean(past), abs=1e-9)
    assert ten.baseline_n_days == len(past)
    assert (ten.arrow, ten.assessment) == ("↓", "worse")
    assert lines[("ndcg", 3)].arrow == "→"
    assert lines[("invalid_rate", 0)].baseline is None
    assert lines[("invalid_rate", 0)].arrow == ""


def test_lines_follow_the_section_order() -> None:
    """Overall quality comes first, then per segment, judge health, drift."""
    today = [
        mv("grade_psi", 0.1),
        mv("invalid_rate", 0.0, judge="j"),
        mv("ndcg", 0.5, segment="locale=de", k=10),
        mv("ndcg", 0.5, k=10),
    ]
    sections = [ln.section for ln in compare_to_baseline(today, [])]
    assert sections == sorted(sections, key=SECTIONS.index)
    assert sections[0] == "quality" and sections[-1] == "drift"


def test_load_report_uses_only_the_baseline_window(database: Database) -> None:
    """Days before the window and the day itself do not count in the baseline."""
    window = [0.70 + 0.01 * i for i in range(BASELINE_DAYS)]
    with database.engine.begin() as conn:
        put(conn, DAY - dt.timedelta(days=BASELINE_DAYS + 1), [mv("ndcg", 0.0, k=10)])
        for i, value in enumerate(window):
            put(conn, DAY - dt.timedelta(days=BASELINE_DAYS - i), [mv("ndcg", value, k=10)])
        today_ndcg = statistics.mean(window) * 0.8
        put(
            conn,
            DAY,
            [
                mv("ndcg", today_ndcg, k=10, ci_low=today_ndcg - 0.05, ci_high=today_ndcg + 0.05),
                mv("human_kappa", None, judge="j1", n=3, reason="fewer than 10 labelled pairs"),
            ],
        )
    daily = load_report(database, day=DAY, baseline_days=BASELINE_DAYS)
    assert daily.baseline_end == DAY - dt.timedelta(days=1)
    ndcg = next(ln for ln in daily.lines if ln.current.metric == "ndcg")
    assert ndcg.baseline == pytest.approx(statistics.mean(window), abs=1e-9)
    assert ndcg.arrow == "↓"
    null = next(ln for ln in daily.lines if ln.current.metric == "human_kappa")
    assert null.current.value is None and null.current.reason == "fewer than 10 labelled pairs"


def test_missing_day_names_the_nearest_days(database: Database) -> None:
    """Asking for a day without metrics says so and lists the nearest days that have some."""
    with pytest.raises(InputError, match="none are stored"):
        load_report(database, day=DAY, baseline_days=BASELINE_DAYS)
    days = [DAY - dt.timedelta(days=10), DAY - dt.timedelta(days=2), DAY + dt.timedelta(days=1)]
    far = DAY - dt.timedelta(days=30)
    with database.engine.begin() as conn:
        for d in [*days, far]:
            put(conn, d, [mv("ndcg", 0.5, k=10)])
    with pytest.raises(InputError) as caught:
        load_report(database, day=DAY, baseline_days=BASELINE_DAYS)
    message = str(caught.value)
    assert f"no metrics for {DAY}" in message
    assert all(d.isoformat() in message for d in days)
    assert far.isoformat() not in message
