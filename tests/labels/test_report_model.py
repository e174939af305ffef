"""What the daily report holds for a day worth reporting: read from real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import statistics

import pytest
from report_seed import BEFORE, CONFIG_CHANGE, DAY, DAYS, FIRST, LONG_QUERY, fr_ndcg, seed_story

from monitor.errors import InputError
from monitor.export.alerts import firing_alerts
from monitor.report.data import as_json
from monitor.report.model import load_report
from monitor.report.summary import summary
from monitor.store.db import Database

BASELINE_DAYS = 7


@pytest.fixture
def story(database: Database) -> Database:
    seed_story(database)
    return database


def test_what_changed_ranks_the_broken_segment_first(story: Database) -> None:
    """The French locale leads the segments by drop, its whole CI below the baseline."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    first = report.segments[0]
    assert first.segment == "locale=fr" and first.clear
    before = [fr_ndcg(DAY - dt.timedelta(days=i)) for i in range(1, BASELINE_DAYS + 1)]
    assert first.baseline == pytest.approx(statistics.mean(before))
    assert first.change == pytest.approx(0.18 - statistics.mean(before))
    assert first.change_ci is not None and first.change_ci[1] < 0
    en = next(s for s in report.segments if s.segment == "locale=en")
    assert not en.clear


def test_alerts_and_baseline_agree_with_the_alert_rules(story: Database) -> None:
    """The page alerts are the rules' own, with the same baseline the report shows."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    with story.engine.connect() as conn:
        rules = firing_alerts(conn, DAY, baseline_days=BASELINE_DAYS)
    assert {(a.alert, a.segment) for a in report.alerts} == {(f.alert, f.segment) for f in rules}
    drop = next(
        a
        for a in report.page_alerts
        if a.alert == "JudgeMonitorQualityDropVsBaseline" and a.segment == "locale=fr"
    )
    assert drop.since == DAY
    fr = next(s for s in report.segments if s.segment == "locale=fr")
    assert drop.baseline == pytest.approx(fr.baseline)


def test_trend_starts_at_the_first_day_with_figures(story: Database) -> None:
    """The small multiples cover the days with data only, one per segment, all first."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    assert report.first_day == FIRST
    assert {t.segment for t in report.trends} == {"all", "locale=en", "locale=fr"}
    for trend in report.trends:
        assert trend.points[0].day == FIRST
        assert len(trend.points) == DAYS and trend.points[-1].day == DAY
    fr = next(t for t in report.trends if t.segment == "locale=fr")
    assert fr.points[-1].value == pytest.approx(0.18)
    assert len(report.reference_days["locale=fr"]) == BASELINE_DAYS


def test_annotations_mark_change_point_config_change_and_first_alert(story: Database) -> None:
    """The charts' annotations: the change point, the configuration change, the alerts."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    kinds = {(a.kind, a.day) for a in report.annotations}
    assert ("changepoint", DAY) in kinds
    assert ("config", CONFIG_CHANGE) in kinds
    assert ("alert", DAY) in kinds
    assert report.changepoint == DAY


def test_judge_health_has_series_and_says_why_a_panel_is_empty(story: Database) -> None:
    """Agreement, invalid rate and cost are drawn per judge; human kappa (all NULL) is not."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    health = report.health
    assert {s.metric for s in health.agreement} == {"krippendorff_alpha", "cohen_kappa"}
    assert {s.judge for s in health.invalid} == {"a", "b"}
    assert {s.judge for s in health.cost} == {"a", "b"}
    assert set(health.empty) == {"humans"}  # human_kappa is stored, but without a value
    assert "no human labels of the day" in health.empty["humans"]
    assert all(len(s.points) == DAYS for s in health.invalid)


def test_empty_panels_say_why(database: Database) -> None:
    """With one judge and no labels, the agreement panel carries the stored reason."""
    from monitor.store.repository import upsert_daily_metrics

    with database.engine.begin() as conn:
        upsert_daily_metrics(
            conn,
            day=DAY,
            rows=[
                ("ndcg", "all", "ensemble", 10, 0.6, 0.5, 0.7, 40, None),
                ("krippendorff_alpha", "all", "ensemble", 0, None, None, None, 0, "one judge"),
                ("cost_usd", "all", "lexical", 0, 0.0, None, None, 40, None),
            ],
        )
    report = load_report(database, day=DAY, baseline_days=BASELINE_DAYS)
    assert "krippendorff_alpha: one judge" in report.health.empty["agreement"]
    assert "human labels" in report.health.empty["agreement"]
    assert "no judge made a paid call" in report.health.empty["cost"]
    assert "invalid" in report.health.empty
    assert report.worst == () and report.disagreements == ()


def test_worst_queries_come_with_results_grades_and_reasoning(story: Database) -> None:
    """The lowest query shows its results, and each judge's grade and reasoning."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    lowest = report.worst[0]
    assert lowest.query == "croissant recette" and lowest.ndcg == 0.0
    assert lowest.segment == "locale=fr"
    assert [r.result_id for r in lowest.results] == ["fr1", "fr2", "fr3"]
    first = lowest.results[0]
    assert [(o.judge, o.grade) for o in first.opinions] == [("a", 0), ("b", 0)]
    assert "judge a on fr1" in first.opinions[0].reasoning
    assert LONG_QUERY in {q.query for q in report.worst}


def test_biggest_drop_is_against_the_query_own_history(story: Database) -> None:
    """A query sampled before with a good nDCG and now at 0 is the biggest drop."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    assert report.drops, "no query dropped against its history"
    drop = report.drops[0]
    assert drop.query == "croissant recette"
    assert drop.history_n == 1 and drop.history_mean is not None and drop.history_mean > 0.9
    assert drop.drop == pytest.approx(drop.history_mean)
    assert BEFORE < DAY


def test_disagreements_need_two_judges_and_show_both(story: Database) -> None:
    """The result the judges split on most leads, with both judges' answers."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    top = report.disagreements[0]
    assert (top.query, top.result.result_id) == ("baguette", "fr5")
    assert {(o.judge, o.grade) for o in top.result.opinions} == {("a", 3), ("b", 0)}
    assert all(d.result.result_id != "fr4" for d in report.disagreements)  # one valid grade


def test_segment_narrows_the_report(story: Database) -> None:
    """--segment keeps that segment's figures and queries, and all traffic's judges."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS, segment="locale=fr")
    quality = {ln.current.segment for ln in report.lines if ln.section.startswith("quality")}
    assert quality == {"locale=fr"}
    assert any(ln.current.metric == "invalid_rate" for ln in report.lines)
    assert [s.segment for s in report.segments] == ["locale=fr"]
    assert {q.segment for q in report.worst} == {"locale=fr"}
    assert {a.segment for a in report.alerts} <= {"locale=fr", "all"}
    with pytest.raises(InputError, match=r"locale=de.*locale=en"):
        load_report(story, day=DAY, baseline_days=BASELINE_DAYS, segment="locale=de")


def test_without_a_day_the_latest_with_figures_is_reported(story: Database) -> None:
    """No day given: the newest day that has figures."""
    assert load_report(story, baseline_days=BASELINE_DAYS).day == DAY


def test_no_figures_at_all_says_how_to_get_some(database: Database) -> None:
    """An empty store: the error names the commands that fill it."""
    with pytest.raises(InputError, match="judge-monitor run"):
        load_report(database, baseline_days=BASELINE_DAYS)


def test_json_holds_the_same_content(story: Database) -> None:
    """as_json is plain data with the summary, the alerts, the segments and the queries."""
    report = load_report(story, day=DAY, baseline_days=BASELINE_DAYS)
    data = json.loads(json.dumps(as_json(report)))
    assert data["day"] == DAY.isoformat()
    assert data["summary"] == summary(report)
    assert data["page_alerts"] == len(report.page_alerts) > 0
    assert data["segments"][0]["segment"] == "locale=fr"
    assert data["segments"][0]["change"] == pytest.approx(report.segments[0].change)
    assert data["worst"][0]["results"][0]["opinions"][0]["reasoning"]
    assert len(data["lines"]) == len(report.lines)
    assert {ln["current"]["metric"] for ln in data["headline"]} >= {"ndcg"}


def test_summary_answers_what_where_since_when_how_sure(story: Database) -> None:
    """The sentences name the alerts, the broken segment with its CI, the change point."""
    text = " ".join(summary(load_report(story, day=DAY, baseline_days=BASELINE_DAYS)))
    assert "page alert" in text and "QualityDropVsBaseline" in text
    assert "Biggest drop: nDCG@10 of locale=fr is 0.180" in text
    assert "95% CI" in text and "the whole CI below the baseline" in text
    assert f"shift on {DAY}" in text
    assert "croissant recette" in text
