"""`report` shows the figure corrected by human labels next to the judge-only one of the
same metric (the headline pooled ``ndcg`` beside the ensemble's, not the list-ideal
``ndcg_list``), and nothing new on a day without labels."""

from __future__ import annotations

import datetime as dt
import io
import re

from rich.console import Console
from sqlalchemy import Connection

from monitor.metrics.daily import MetricRow
from monitor.report.data import as_json
from monitor.report.html import render_html
from monitor.report.model import DailyReport, load_report
from monitor.report.table import report_renderables
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics

DAY = dt.date(2026, 11, 20)


def _put(conn: Connection, day: dt.date, rows: list[MetricRow]) -> None:
    upsert_daily_metrics(
        conn,
        day=day,
        rows=[
            (r.metric, r.segment, r.judge, r.k, r.value, r.ci_low, r.ci_high, r.n, r.reason)
            for r in rows
        ],
    )


#: the judge-only nDCG@10: pooled (the headline, what the summary's corrected figure
#: corrects) and with the list's own ideal, at different levels so that a mix-up shows
POOLED = MetricRow("ndcg", "all", "ensemble", 10, 0.7, 0.68, 0.72, 200, None)
LIST = MetricRow("ndcg_list", "all", "ensemble", 10, 0.8, 0.78, 0.82, 200, None)


def _seed(database: Database, today: list[MetricRow]) -> DailyReport:
    with database.engine.begin() as conn:
        for back in range(1, 5):
            _put(conn, DAY - dt.timedelta(days=back), [POOLED, LIST])
        _put(conn, DAY, [POOLED, LIST,
                         MetricRow("precision", "all", "ensemble", 10, 0.5, 0.45, 0.55, 200, None),
                         *today])  # fmt: skip
    return load_report(database, day=DAY, baseline_days=4, worst=0)


def _terminal(report: DailyReport) -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    for item in report_renderables(report):
        console.print(item)
    return out.getvalue()


CORRECTED = MetricRow("ndcg", "all", "corrected", 10, 0.61, 0.55, 0.67, 40, None)
HUMANS = MetricRow("ndcg", "all", "humans", 10, 0.6, 0.5, 0.7, 40, None)
LIST_CORRECTED = MetricRow("ndcg_list", "all", "corrected", 10, 0.66, 0.6, 0.72, 40, None)


def test_corrected_figure_sits_next_to_the_judge_only_one(database: Database) -> None:
    report = _seed(database, [HUMANS, CORRECTED, LIST_CORRECTED])
    order = [(ln.current.metric, ln.current.judge) for ln in report.headline]
    assert order[:5] == [
        ("ndcg", "ensemble"),
        ("ndcg", "corrected"),
        ("ndcg", "humans"),
        ("ndcg_list", "ensemble"),
        ("ndcg_list", "corrected"),
    ]
    sentence = (  # against the judge-only pooled 0.700, not the list-ideal 0.800
        "Corrected by 40 human labels, nDCG@10 of all is 0.610 "
        "[95% CI 0.550, 0.670] (judge-only 0.700)."
    )
    assert sentence in as_json(report)["summary"]
    text = _terminal(report)
    # the name may wrap at a space within its column (report.table._MAX_NAME)
    wrap = r"(?: |[^\n]*\n *)"
    assert re.search(rf"ndcg@10 \(corrected, 40{wrap}labels\)", text), text
    assert re.search(r"ndcg@10 \(corrected, 40[^\n]*0\.610 +\[0\.550, 0\.670\] +40\b", text)
    assert re.search(rf"ndcg@10 \(humans, 40{wrap}labels\)", text), text
    page = render_html(report)
    assert "corrected by 40 human labels" in page and "humans only, 40 labels" in page
    assert sentence in page


def test_without_labels_the_report_says_nothing_new(database: Database) -> None:
    report = _seed(database, [])
    assert not [s for s in as_json(report)["summary"] if "orrected" in s]
    text = _terminal(report)
    assert "corrected" not in text and "labels" not in text
    page = render_html(report)
    assert "corrected by" not in page and "humans only" not in page


def test_too_few_labels_say_why(database: Database) -> None:
    null = MetricRow("ndcg", "all", "corrected", 10, None, None, None, 3, "3 labelled queries < 5")
    report = _seed(database, [null])
    summary = as_json(report)["summary"]
    assert "No corrected nDCG@10 of all: 3 labelled queries < 5." in summary
    assert "3 labelled queries < 5" in _terminal(report)
