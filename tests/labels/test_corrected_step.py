"""The metrics step adds the corrected (PPI++) and humans-only rows from the picked samples'
labels, over the label window; none without labels, NULL with a reason when too few."""

from __future__ import annotations

import datetime as dt
import statistics

import pytest
from corrected_seed import label_day, seed_judged, show_earlier

from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.labels.annotation import select_for_annotation
from monitor.metrics.daily import MetricRow
from monitor.metrics.quality import query_figures
from monitor.pipeline.corrected_step import agreement_pairs, read_window
from monitor.pipeline.metrics_step import compute_day_metrics
from monitor.store import label_reads, pool, reads
from monitor.store import repository as repo
from monitor.store.db import Database

DAY = dt.date(2026, 10, 7)


def _seed(database: Database, day: dt.date) -> None:
    seed_judged(database, day)


def _label(database: Database, day: dt.date, *, picked: int, labelled: int) -> dict[int, float]:
    return label_day(database, day, picked=picked, labelled=labelled)


def _pick(rows: list[MetricRow], judge: str, metric: str = "ndcg_list", k: int = 10) -> MetricRow:
    (row,) = [r for r in rows if (r.metric, r.judge, r.k, r.segment) == (metric, judge, k, "all")]
    return row


@pytest.mark.parametrize("metric", ["ndcg", "ndcg_list"])
def test_labels_correct_the_judge_only_ndcg(database: Database, metric: str) -> None:
    """The judge says every result is perfect; people disagree: the corrected nDCG@10 (the
    pooled headline one and the list-ideal one: with no other label of the queries they
    agree) follows the people, and the humans-only row is their plain mean."""
    _seed(database, DAY)
    truth = _label(database, DAY, picked=12, labelled=12)
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0))
    judge_only = _pick(rows, "ensemble", metric)
    humans = _pick(rows, "humans", metric)
    corrected = _pick(rows, "corrected", metric)
    assert judge_only.value == pytest.approx(1.0)
    assert humans.n == corrected.n == len(truth) == 12
    assert humans.value == pytest.approx(statistics.mean(truth.values()))
    assert corrected.value is not None and corrected.value < judge_only.value - 0.1
    assert corrected.ci_low is not None and corrected.ci_high is not None
    assert corrected.ci_low <= humans.value <= corrected.ci_high
    assert {r.segment for r in rows if r.judge == "corrected"} == {"all", "locale=en"}
    labelled = [r for r in rows if r.judge in {"corrected", "humans"}]
    assert {r.metric for r in labelled} == {"ndcg", "ndcg_list", "precision", "bad_top1_rate"}
    with database.engine.connect() as conn:
        stored = [f for f in reads.figures_between(conn, first=DAY, last=DAY)]
    assert sum(f.judge == "corrected" for f in stored) == sum(r.judge == "corrected" for r in rows)


def test_the_human_pool_is_every_label_of_what_production_showed(database: Database) -> None:
    """People also graded a 3 for each labelled query that production showed the day
    before, and a 3 it never showed: the humans-only pooled nDCG@10 counts the first
    (computed here by hand), not the second, and lies below the list-ideal figure, which
    neither changes."""
    _seed(database, DAY)
    truth = label_day(database, DAY, picked=10, labelled=10, human_top=lambda n, i: 1)
    show_earlier(database, DAY, set(truth), labelled=3)
    with database.engine.begin() as conn:
        labelled = [s for s in label_reads.day_samples(conn, day=DAY) if s.id in truth]
        unseen = [
            repo.NewLabel(None, s.query_text, s.query_norm, f"{s.id}-unseen", None, 3, "ann")
            for s in labelled
        ]
        repo.upsert_human_labels(conn, labels=unseen, source="qrels")
    given = [1.0, 2.0, 1.0]  # each labelled list, as label_day grades it
    by_hand = query_figures(given, (10,), 2, pool=[*given, 3.0])["ndcg@10"]
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0))
    pooled = _pick(rows, "humans", "ndcg")
    assert len(labelled) == 10 and pooled.n == 10
    assert pooled.value == pytest.approx(by_hand), "one 3 in the pool: the one shown"
    assert pooled.value < statistics.mean(truth.values()) - 0.05
    assert _pick(rows, "humans").value == pytest.approx(statistics.mean(truth.values()))


def test_rerun_gives_the_same_corrected_rows(database: Database) -> None:
    _seed(database, DAY)
    _label(database, DAY, picked=10, labelled=10)
    first = compute_day_metrics(database, DAY, Settings(canary_size=0))
    again = compute_day_metrics(database, DAY, Settings(canary_size=0))
    wanted = {"corrected", "humans"}
    assert [r for r in first if r.judge in wanted] == [r for r in again if r.judge in wanted]
    with database.engine.connect() as conn:
        stored = reads.figures_between(conn, first=DAY, last=DAY)
    keys = [(f.metric, f.segment, f.judge, f.k) for f in stored if f.judge in wanted]
    assert keys and len(keys) == len(set(keys)), "no duplicate rows on a rerun"


def test_no_labels_no_rows(database: Database) -> None:
    """A day nobody labelled gets no corrected row at all, not a NULL one."""
    _seed(database, DAY)
    with database.engine.begin() as conn:  # picked but nothing came back
        samples = label_reads.day_samples(conn, day=DAY)
        picks, _ = select_for_annotation(samples, queries=5, seed=1, day=DAY)
        label_reads.record_selection(conn, day=DAY, picks=picks)
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0))
    assert rows and not [r for r in rows if r.judge in {"corrected", "humans"}]


def test_too_few_labels_are_null_rows_with_the_reason(database: Database) -> None:
    _seed(database, DAY)
    _label(database, DAY, picked=6, labelled=3)
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0))
    corrected = _pick(rows, "corrected")
    assert corrected.value is None and corrected.n == 3
    assert corrected.reason is not None and "3 labelled queries < 5" in corrected.reason


def test_label_window_carries_earlier_days_labels(database: Database) -> None:
    """Labels of the day before count on the day with a 7-day window, not with 1 day."""
    before, day = DAY - dt.timedelta(days=1), DAY
    _seed(database, before)
    _seed(database, day)
    truth = _label(database, before, picked=8, labelled=8)
    one_day = compute_day_metrics(database, day, Settings(canary_size=0))
    assert not [r for r in one_day if r.judge == "corrected"]
    week = compute_day_metrics(database, day, Settings(canary_size=0, label_window_days=7))
    humans = _pick(week, "humans")
    assert humans.n == 8 and humans.value == pytest.approx(statistics.mean(truth.values()))


def test_both_labelled_days_of_a_window_count(database: Database) -> None:
    before = DAY - dt.timedelta(days=2)
    _seed(database, before)
    _seed(database, DAY)
    first = _label(database, before, picked=6, labelled=6)
    second = _label(database, DAY, picked=6, labelled=6)
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0, label_window_days=3))
    humans = _pick(rows, "humans")
    assert humans.n == 12
    assert humans.value == pytest.approx(statistics.mean([*first.values(), *second.values()]))


@pytest.mark.parametrize("bad", [0, -3])
def test_label_window_below_one_day_is_a_clear_error(bad: int) -> None:
    with pytest.raises(ConfigError, match=r"label_window_days: .*at least 1 day.*got " + str(bad)):
        load_settings(label_window_days=bad)


def test_partly_labelled_sample_is_left_out(database: Database) -> None:
    """A picked sample with only some of its results graded does not count as labelled."""
    _seed(database, DAY)
    truth = _label(database, DAY, picked=8, labelled=6)
    with database.engine.begin() as conn:
        picked = {s.id for s in label_reads.selected_samples(conn, first=DAY, last=DAY)}
        partial = next(
            s for s in label_reads.day_samples(conn, day=DAY) if s.id in picked - set(truth)
        )
        top = min(partial.results, key=lambda r: r["position"])
        label = repo.NewLabel(
            None, partial.query_text, partial.query_norm, top["id"], None, 0, "ann"
        )
        repo.upsert_human_labels(conn, labels=[label], source="test")
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0))
    assert _pick(rows, "humans").n == len(truth) == 6


def test_the_judge_side_reads_each_days_judgment_pool(database: Database) -> None:
    """A 3-day window whose labelled day is not its last: that day's judge figures take
    their ideal from its judgment pool as of the day (the kept pool less the days after
    it), which holds a 3 the ensemble gave the day before and not the 3 it gave the same
    queries on the window's last day; so the pooled ``ndcg`` pairs differ from the list
    ones, and each matches a hand computation."""
    before = DAY - dt.timedelta(days=2)
    seed_judged(database, before, top=lambda i: 0)
    truth = label_day(database, before, picked=8, labelled=8)
    show_earlier(database, before, set(truth), judged=3.0, labelled=3)
    seed_judged(database, DAY)
    show_earlier(database, before, set(truth), judged=3.0, on=DAY)  # later: not in its pool
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0, label_window_days=3))
    with database.engine.connect() as conn:
        assert pool.serves_as_of(conn, day=before) and not pool.serves_day(conn, day=before)
    window = read_window(database, first=before, last=DAY, top_k=10)
    pools = {q.sample_id: sorted(q.pool) for q in window.queries if q.sample_id in truth}
    assert list(pools.values()) == [[0.0, 3.0, 3.0, 3.0]] * 8
    y, yhat, _, _ = agreement_pairs(window, metric="ndcg")
    y_list, yhat_list, _, _ = agreement_pairs(window, metric="ndcg_list")
    judge_list = query_figures([0, 3, 3], (10,), 2)["ndcg@10"]
    judge_pooled = query_figures([0, 3, 3], (10,), 2, pool=[0, 3, 3, 3])["ndcg@10"]
    assert judge_pooled < judge_list - 0.1
    assert yhat.tolist() == pytest.approx([judge_pooled] * 8)
    assert yhat_list.tolist() == pytest.approx([judge_list] * 8)
    humans_pooled = [
        query_figures([top, 2, 1], (10,), 2, pool=[top, 2, 1, 3])["ndcg@10"]
        for top in (0, 1, 3, 0, 1, 3, 0, 1)
    ]
    assert sorted(y.tolist()) == pytest.approx(sorted(humans_pooled))
    assert sorted(y_list.tolist()) == pytest.approx(sorted(truth.values()))
    assert _pick(rows, "humans", "ndcg").value == pytest.approx(statistics.mean(humans_pooled))


def test_labels_only_of_results_not_shown_give_no_corrected_rows(database: Database) -> None:
    """People graded, for each picked query, a result its list does not hold (a qrels file
    brought in, say): no picked sample is labelled, so the day has no corrected row."""
    _seed(database, DAY)
    with database.engine.begin() as conn:
        samples = label_reads.day_samples(conn, day=DAY)
        picks, _ = select_for_annotation(samples, queries=6, seed=1, day=DAY)
        label_reads.record_selection(conn, day=DAY, picks=picks)
        unseen = [
            repo.NewLabel(None, s.query_text, s.query_norm, f"{s.id}-unseen", None, 3, "ann")
            for s in samples
            if s.id in picks
        ]
        repo.upsert_human_labels(conn, labels=unseen, source="qrels")
    rows = compute_day_metrics(database, DAY, Settings(canary_size=0))
    assert rows and not [r for r in rows if r.judge in {"corrected", "humans"}]
    window = read_window(database, first=DAY, last=DAY, top_k=10)
    assert len(window.selected) == 6 and not window.labelled
