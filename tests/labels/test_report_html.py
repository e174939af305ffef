"""`report --html`: one self-contained page, in the order a person reads it."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from report_seed import DAY, FIRST, LONG_QUERY, seed_story

from monitor.report.figures import grade_shares
from monitor.report.html import render_html
from monitor.report.model import load_report
from monitor.report.svg import day_label, nice_ticks
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

BASELINE_DAYS = 7
SECTIONS = ["changed", "headline", "trends", "health", "grades", "worst", "disagreements", "all"]


def _page(database: Database) -> str:
    seed_story(database)
    return render_html(load_report(database, day=DAY, baseline_days=BASELINE_DAYS))


def test_html_is_self_contained_with_inline_svg(database: Database) -> None:
    """The page draws well-formed inline SVG and references nothing outside itself."""
    page = _page(database)
    assert page.startswith("<!DOCTYPE html>")
    assert "http" not in page
    assert "<script" not in page and "src=" not in page and "<link" not in page
    charts = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(charts) >= 8  # drops, three trends, three health panels, grades
    for svg in charts:
        root = ET.fromstring(svg)
        assert root.tag == "svg" and float(root.get("width", 0)) > 0
        assert float(root.get("height", 0)) > 0
    assert "<polygon" in page  # CI bands


def test_sections_come_in_reading_order(database: Database) -> None:
    """What changed first, then headline, trends, health, grades, queries, all figures."""
    page = _page(database)
    positions = [page.index(f'id="{name}"') for name in SECTIONS]
    assert positions == sorted(positions)
    summary = page[page.index('id="summary"') : page.index('id="headline"')]
    assert "locale=fr" in summary and "page alert" in summary


def test_small_multiples_cover_every_segment_from_the_first_day(database: Database) -> None:
    """One trend chart per segment, x from the first day with data to the day, the last
    label anchored at its end so it is not cut."""
    page = _page(database)
    for segment in ("all", "locale=en", "locale=fr"):
        assert f'aria-label="nDCG@10 of {segment}"' in page
    big = re.search(r'<svg[^>]*aria-label="nDCG@10 of all".*?</svg>', page, flags=re.S)
    assert big is not None
    labels = re.findall(r'text-anchor="(\w+)"[^>]*>(\w{3} \d+)</text>', big.group(0))
    assert labels[0] == ("start", day_label(FIRST))
    assert labels[-1] == ("end", day_label(DAY))
    assert 'stroke-dasharray="5 3"' in big.group(0)  # the baseline
    assert "change point (CUSUM)" in big.group(0)
    assert "configuration changed" in page


def test_worst_queries_show_results_and_each_judge(database: Database) -> None:
    """The worst queries list their results with both judges' grade and reasoning."""
    page = _page(database)
    worst = page[page.index('id="worst"') : page.index('id="disagreements"')]
    assert "croissant recette" in worst and LONG_QUERY in worst
    assert "judge a on fr1: grade 0 because reasons" in worst
    assert "Title of fr1" in worst
    assert "its mean over 1 earlier day(s)" in worst  # the drop against its own history
    split = page[page.index('id="disagreements"') : page.index('id="all"')]
    assert "baguette" in split and "judge b on fr5" in split


def test_empty_sections_say_why(database: Database) -> None:
    """A day with one figure and nothing else says why each panel is empty."""
    with database.engine.begin() as conn:
        upsert_daily_metrics(
            conn,
            day=DAY,
            rows=[
                ("ndcg", "all", "ensemble", 10, 0.6, 0.5, 0.7, 40, None),
                ("krippendorff_alpha", "all", "ensemble", 0, None, None, None, 0, "one judge"),
            ],
        )
    page = render_html(load_report(database, day=DAY, baseline_days=BASELINE_DAYS))
    assert "Nothing to draw: krippendorff_alpha: one judge" in page
    assert "No result of the day has two judges who disagree" in page
    assert "No query of the day has a judged result" in page
    assert "No alert rule holds" in page


def test_grade_distribution_comes_from_the_store(
    database: Database, seed: Callable[..., None]
) -> None:
    """Grade counts split today from the baseline days."""
    with database.engine.begin() as conn:
        for back in range(3):
            upsert_daily_metrics(
                conn,
                day=DAY - dt.timedelta(days=back),
                rows=[("ndcg", "all", "ensemble", 10, 0.6, 0.55, 0.65, 40, None)],
            )
    seed(database, DAY, {"hat": ["h1", "h2"]}, {("hat", "h1"): {"a": 3}, ("hat", "h2"): {"a": 3}})
    seed(database, DAY - dt.timedelta(days=1), {"hat": ["h1"]}, {("hat", "h1"): {"a": 0}})
    daily = load_report(database, day=DAY, baseline_days=BASELINE_DAYS)
    assert dict(daily.grades_today) == {3: 2}
    assert dict(daily.grades_baseline) == {0: 1}
    assert grade_shares(daily.grades_today)[3] == 1.0
    assert f"{DAY} (n=2)" in render_html(daily)


def test_ticks_are_round_numbers_covering_the_range() -> None:
    """Axis ticks fall on 1-2-2.5-5 steps inside the range."""
    assert nice_ticks(0.0, 1.0) == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert nice_ticks(0.13, 0.87) == [0.2, 0.4, 0.6, 0.8]
    assert nice_ticks(0.0, 0.031) == [0.0, 0.01, 0.02, 0.03]
    assert nice_ticks(-0.3, 0.05) == [-0.3, -0.2, -0.1, 0.0]
