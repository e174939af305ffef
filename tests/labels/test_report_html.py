"""`report --html`: one self-contained page with the nDCG trend, grades and agreement."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from monitor.report.daily import grade_shares, load_report, render_html
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

DAY = dt.date(2026, 11, 20)


def _seed(database: Database, seed: Callable[..., None]) -> None:
    with database.engine.begin() as conn:
        for back in range(10):
            value = 0.6 + 0.01 * back
            upsert_daily_metrics(
                conn,
                day=DAY - dt.timedelta(days=back),
                rows=[
                    ("ndcg", "all", "ensemble", 10, value, value - 0.05, value + 0.05, 40, None),
                    ("krippendorff_alpha", "all", "ensemble", 0, 0.7, 0.6, 0.8, 40, None),
                    ("cohen_kappa", "all", "a~b", 0, -0.1, -0.2, 0.1, 40, None),
                ],
            )
    # Today's grades are all 3, the baseline's all 0: the distributions cannot be confused.
    seed(database, DAY, {"hat": ["h1", "h2"]}, {("hat", "h1"): {"a": 3}, ("hat", "h2"): {"a": 3}})
    seed(database, DAY - dt.timedelta(days=1), {"hat": ["h1"]}, {("hat", "h1"): {"a": 0}})


def test_html_is_self_contained_with_inline_svg(
    database: Database, seed: Callable[..., None]
) -> None:
    """The page draws SVG charts inline and references nothing outside itself."""
    _seed(database, seed)
    daily = load_report(database, day=DAY, baseline_days=14)
    page = render_html(daily)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") >= 3
    assert "http" not in page
    assert "<script" not in page and "src=" not in page and "<link" not in page
    assert "<polygon" in page  # the CI band of the trend
    assert "krippendorff_alpha" in page and "a~b" in page
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        assert ET.fromstring(svg).tag == "svg"  # each chart is well-formed markup


def test_trend_and_grade_distribution_come_from_the_store(
    database: Database, seed: Callable[..., None]
) -> None:
    """The trend holds the stored nDCG@10 days; grade counts split today from the baseline."""
    _seed(database, seed)
    daily = load_report(database, day=DAY, baseline_days=14)
    assert daily.trend_k == 10
    assert daily.trend[-1].day == DAY
    assert sum(p.value is not None for p in daily.trend) == 10
    assert dict(daily.grades_today) == {3: 2}
    assert dict(daily.grades_baseline) == {0: 1}
    assert grade_shares(daily.grades_today)[3] == 1.0
    page = render_html(daily)
    circles = re.findall(r"<circle ", page)
    assert len(circles) == 10
