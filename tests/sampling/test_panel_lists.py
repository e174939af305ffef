"""A panel query's every distinct list (``sampling.panel_lists``): one row per list
weighted by the searches it was served, exactly the one-list panel at 1, and on real
PostgreSQL a share of traffic served a worse list read by that share on the day it
starts, paying only for the results that changed."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from panel_seed import day_pairs, fake_judge, write_day
from sqlalchemy import text

from monitor.config import SamplingConfig, Settings, SourceConfig
from monitor.metrics.quality import ndcg_at_k
from monitor.pipeline.day import run_day
from monitor.pipeline.panel_step import panel_queries, panel_rows
from monitor.report.queries import worst_queries
from monitor.sampling import sample_day
from monitor.sampling_panel import PANEL_STRATUM, PanelLists
from monitor.store import metric_reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.reads import daily_series
from monitor.testing import FakeOpenAI
from monitor.types import Result, SampledQuery, SearchRecord, normalize_query

DAY = dt.date(2025, 3, 1)
HEADS = 20


def _record(query: str, qid: str, minute: int, docs: list[str]) -> SearchRecord:
    ts = dt.datetime.combine(DAY, dt.time(1), tzinfo=dt.UTC) + dt.timedelta(minutes=minute)
    results = tuple(Result(id=d, position=k + 1, title=query) for k, d in enumerate(docs))
    return SearchRecord(query_id=qid, query=query, timestamp=ts, results=results)


def _served(lists: dict[str, list[int]]) -> list[SearchRecord]:
    """Head query ``i`` searched once per entry of ``lists[i]``: entry ``n`` means it was
    served list ``n`` (result ids ``q{i}-l{n}-…``); plus 40 one-off queries."""
    out = []
    for query, served in lists.items():
        for j, n in enumerate(served):
            out.append(_record(query, f"{query}-{j}", j, [f"{query}-l{n}-{k}" for k in range(3)]))
    out += [_record(f"tail {i}", f"t{i}", i, [f"t{i}-{k}" for k in range(3)]) for i in range(40)]
    return out


def _panel(sample_queries: list[SampledQuery], query: str) -> list[tuple[int, str, float]]:
    return sorted(
        (q.list_no, q.record.results[0].id.split("-")[1], q.weight)
        for q in sample_queries
        if q.stratum == PANEL_STRATUM and q.record.query == query
    )


def test_every_served_list_is_a_row_weighted_by_its_searches() -> None:
    heads = {f"head {i}": [0, 0, 0, 1] for i in range(HEADS)}
    heads["head 0"] = [0, 1, 2, 0, 1, 0]  # three lists: 3, 2 and 1 searches
    records = _served(heads)
    config = SamplingConfig(size=20, strata=[], panel_share=0.5, panel_lists=3)
    sample = sample_day(records, day=DAY, config=config, history=set(heads))
    panel = {q.record.query for q in sample.queries if q.stratum == PANEL_STRATUM}
    assert len(panel) == 10
    for query in panel:
        rows = _panel(sample.queries, query)
        served = heads[query]
        assert [n for n, _, _ in rows] == list(range(len(set(served))))
        # each list stands for the searches it was served; together, the query's
        assert {lst: w for _, lst, w in rows} == {f"l{n}": served.count(n) for n in served}
    # the fresh strata keep one row per query
    fresh = [q.record.query for q in sample.queries if q.stratum != PANEL_STRATUM]
    assert len(fresh) == len(set(fresh)) == 10
    again = sample_day(list(reversed(records)), day=DAY, config=config, history=set(heads))
    assert again.queries == sample.queries


def test_a_query_served_by_two_rankers_is_sampled_once() -> None:
    """A share of traffic on another ranker gives a panel query a list from each; the
    day's count of sampled queries (the run's ``sampled``) counts the query once."""
    heads = {f"head {i}": [0, 0, 1] for i in range(HEADS)}
    records = [
        replace(r, ranker="bm25") if "-l1-" in r.results[0].id else r for r in _served(heads)
    ]
    config = SamplingConfig(size=20, strata=[], panel_share=0.5, panel_lists=2)
    sample = sample_day(records, day=DAY, config=config, history=set(heads))
    panel = [q for q in sample.queries if q.stratum == PANEL_STRATUM]
    assert {q.record.ranker for q in panel} == {"production", "bm25"}
    assert len(panel) == 20  # ten panel queries, a list from each ranker
    assert sample.sampled == len({q.record.query for q in sample.queries}) == 20


def test_one_list_is_the_one_list_panel_and_past_the_cap_one_list_stands_for_the_rest() -> None:
    heads = {f"head {i}": [0, 1, 2, 0, 1, 0] for i in range(HEADS)}  # 3, 2 and 1 searches
    records = _served(heads)
    one = SamplingConfig(size=20, strata=[], panel_share=0.5, panel_lists=1)
    base = sample_day(records, day=DAY, config=one, history=set(heads))
    capped = one.model_copy(update={"panel_lists": 2})
    two = sample_day(records, day=DAY, config=capped, history=set(heads))
    for query in {q.record.query for q in base.queries if q.stratum == PANEL_STRATUM}:
        (only,) = _panel(base.queries, query)
        assert only[0] == 0 and only[2] == 6.0
        rows = _panel(two.queries, query)
        assert len(rows) == 2 and rows[0][:2] == only[:2]  # list 0 is the one-list pick
        weights = {lst: w for _, lst, w in rows}
        # the most served list for its own 3 searches; l1 or l2 for the other 3
        assert weights.pop("l0") == 3.0
        assert list(weights.values()) == [3.0] and set(weights) <= {"l1", "l2"}


def test_past_the_cap_the_estimate_stays_unbiased() -> None:
    """One list served 50 times and 50 lists served once, a cap of 4: over many days the
    weighted share of the odd single lists is their true share, 25 of 100 searches
    (keeping the lists with the smallest draws and scaling their counts up, as a first
    version did, reads about 5 of 100)."""
    served = [0] * 50 + list(range(1, 51))
    config = SamplingConfig(size=2, strata=[], min_per_stratum=0, panel_share=0.5, panel_lists=4)
    shares = []
    for day in range(300):
        records = _served({"head": served})
        sample = sample_day(
            records, day=DAY + dt.timedelta(days=day), config=config, history={"head"}
        )
        rows = _panel(sample.queries, "head")
        assert len(rows) == 4 and sum(w for _, _, w in rows) == pytest.approx(100.0)
        shares.append(sum(w for _, lst, w in rows if int(lst[1:]) % 2) / 100)
    assert abs(sum(shares) / len(shares) - 0.25) < 0.06  # about 4 sd of the mean


def test_lists_tied_at_the_cap_keep_the_estimate_unbiased() -> None:
    """Lists a and b served twice each, c once, a cap of 2: over every order of the
    five searches' draws the expected estimate is the true total, whichever list is the
    good one (breaking the a/b tie by their draws read 1.8 for 2 with a good, 1.4 for
    1 with c good: the tied list left in the rest had drawn high)."""
    config = SamplingConfig(panel_lists=2, top_k=3)
    searches = [("a", 0), ("a", 1), ("b", 0), ("b", 1), ("c", 0)]
    for good in "abc":
        estimates = []
        for order in itertools.permutations(range(len(searches))):
            lists = PanelLists({"q"}, config)
            for (name, i), draw in zip(searches, order, strict=True):
                lists.add("q", _record("q", f"{name}{i}", i, [name]), draw)
            rows = lists.rows("q", len(searches))
            estimates.append(sum((r.results[0].id == good) / p for r, _, p in rows))
        truth = sum(name == good for name, _ in searches)
        assert sum(estimates) / len(estimates) == pytest.approx(truth)


def test_panel_lists_is_validated() -> None:
    with pytest.raises(ValueError, match="panel_lists"):
        SamplingConfig(panel_lists=0)


# --- on real PostgreSQL, through the daily run and the fake endpoint -------------------

DAY1, DAY2, DAY3 = DAY, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)


def _row(query: str, qid: str, day: dt.date, minute: int, broken: bool) -> dict[str, object]:
    results = [
        {"id": f"{query}-{k}", "title": f"{query} {k}", "text": f"about {query} number {k}"}
        for k in range(3)
    ]
    if broken:  # the fake judge grades by word overlap: this one gets 0
        results[0] = {"id": f"{query}-broken", "title": "lorem", "text": "ipsum dolor sit"}
    start = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
    return {
        "query_id": qid,
        "query": query,
        "timestamp": (start + dt.timedelta(minutes=minute)).isoformat(),
        "results": results,
    }


def _write_logs(folder: Path) -> None:
    """Each day 20 head queries, the even ones searched 5 times and the odd ones 3, the
    same list every day, and 20 one-off queries; on DAY3 one of the 5 searches of every
    even head query is served a list whose first result is irrelevant (a regression on
    a fifth of their traffic)."""
    for day in (DAY1, DAY2, DAY3):
        rows = [
            _row(
                f"head query {i}", f"{day}-h{i}-{j}", day, j, day == DAY3 and i % 2 == 0 and j == 4
            )
            for i in range(HEADS)
            for j in range(5 if i % 2 == 0 else 3)
        ]
        rows += [_row(f"tail {day} {i}", f"{day}-t{i}", day, i, False) for i in range(20)]
        write_day(folder, day, rows)


def _settings(folder: Path, server: FakeOpenAI) -> Settings:
    sampling = SamplingConfig(
        size=20, strata=[], min_per_stratum=0, top_k=3, panel_share=0.5, panel_lists=4, seed=4
    )
    return Settings(
        judges=[fake_judge(server)],
        source=SourceConfig(kind="files", path=str(folder)),
        sampling=sampling,
        ks=[10],
        baseline_days=3,
        canary_size=0,
    )


def _stored(database: Database, day: dt.date) -> list[tuple[str, int, str, float]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT query_norm, list_no, stratum, weight FROM samples "
                "WHERE sample_date = :d ORDER BY query_norm, list_no"
            ),
            {"d": day},
        )
        return [(str(q), int(n), str(s), float(w)) for q, n, s, w in rows]


def test_a_regression_on_a_share_of_traffic_is_read_by_that_share_on_its_first_day(
    database: Database, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    _write_logs(tmp_path)
    settings = _settings(tmp_path, fake_llm)
    run_day(database, settings, DAY1)
    run_day(database, settings, DAY2)
    before = fake_llm.paid_calls

    outcome = run_day(database, settings, DAY3)
    stored = _stored(database, DAY3)
    panel = {q for q, _, s, _ in stored if s == PANEL_STRATUM}
    changed = {q for q in panel if int(q.rsplit(" ", 1)[1]) % 2 == 0}
    assert len(panel) == 10 and changed
    for q in panel:
        rows = [(n, w) for query, n, _, w in stored if query == q]
        assert sorted(w for _, w in rows) == ([1.0, 4.0] if q in changed else [3.0])
    # only what was never judged is paid: of the panel, the changed lists' one new result
    new = (
        set(day_pairs(database, DAY3))
        - set(day_pairs(database, DAY1))
        - set(day_pairs(database, DAY2))
    )
    assert fake_llm.paid_calls - before == len(new) == outcome.counts["judged"]
    assert {(q, r) for q, r in new if q in panel} == {(q, f"{q}-broken") for q in changed}

    (row,) = panel_rows(database, DAY3, settings)
    # a changed query's day: 4/5 of its searches read 1.0, 1/5 read [0, 3, 3] against
    # the pooled ideal [3, 3, 3]; its past days 1.0. The panel's mean weighs each query
    # by its searches of the day: 5 for a changed query, 3 for the others.
    drop = 1.0 - ndcg_at_k([0.0, 3.0, 3.0], 10, ideal=[3.0, 3.0, 3.0])
    weights = [5.0 if q in changed else 3.0 for q in panel]
    assert row.n == 10 and len(changed) < len(panel)  # else both means agree
    assert row.value == pytest.approx(-drop / 5 * 5.0 * len(changed) / sum(weights))

    # the report shows a changed query once: its day is its lists' search-weighted mean
    # (each scored against its own ideal, as the report does), against its two earlier
    # days, with the results of its worst list, whose own figure it names
    with database.engine.connect() as conn:
        lowest, dropped = worst_queries(conn, day=DAY3, baseline_start=DAY1, limit=20)
    assert len({v.query for v in lowest}) == len(lowest)
    assert {normalize_query(v.query) for v in dropped} == changed  # the others held
    broken = ndcg_at_k([0.0, 3.0, 3.0], 10)
    for view in dropped:
        assert (view.history_mean, view.history_n) == (1.0, 2)
        assert view.ndcg == pytest.approx((4 * 1.0 + broken) / 5)
        assert view.shown_ndcg == pytest.approx(broken)
        assert any(r.result_id.endswith("-broken") for r in view.results)
    assert all(v.shown_ndcg is None for v in lowest if normalize_query(v.query) not in changed)

    # a person's label of a result both lists of a changed query showed is one pair
    some = sorted(changed)[0]
    label = repo.NewLabel(None, some, some, f"{some}-1", None, 3, "ann")
    with database.engine.begin() as conn:
        repo.upsert_human_labels(conn, labels=[label], source="test")
    with database.engine.connect() as conn:
        assert len(metric_reads.judge_label_pairs(conn, day=DAY3)) == 1
        assert len(metric_reads.ensemble_label_pairs(conn, day=DAY3)) == 1

    # the day's grade histograms, stored and recounted, count such a result once too
    with database.engine.connect() as conn:
        stored_counts = metric_reads.stored_grade_counts(conn, first=DAY3, last=DAY3)[DAY3]
        recounted = metric_reads.judge_grades_between(conn, first=DAY3, last=DAY3)
        ensemble = metric_reads.ensemble_grades_between(conn, first=DAY3, last=DAY3)
    distinct = len(day_pairs(database, DAY3))
    assert distinct < 3 * len(stored)  # the changed queries' two lists share two results
    for counts in (stored_counts["gpt"], stored_counts["ensemble"]):
        assert sum(counts.values()) == len(recounted) == len(ensemble) == distinct

    again = run_day(database, settings, DAY3)  # a rerun: the same rows, nothing paid
    assert _stored(database, DAY3) == stored and again.counts["judged"] == 0

    # the day's figures count a changed query's two lists as one query
    with database.engine.connect() as conn:
        (point,) = daily_series(
            conn, metric="ndcg", segment="all", judge="ensemble", k=10, first=DAY3, last=DAY3
        )
    assert point.n == len({q for q, *_ in stored}) < len(stored)


def test_a_list_left_unjudged_does_not_weigh_in_the_panel_mean(
    database: Database, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    """A changed query whose four-search list has no grade (every call failed) reads as
    its one judged search, so it weighs 1 in the panel's mean, not 5; a query with no
    list judged is left out, not refused."""
    _write_logs(tmp_path)
    settings = _settings(tmp_path, fake_llm)
    for day in (DAY1, DAY2, DAY3):
        run_day(database, settings, day)
    stored = _stored(database, DAY3)
    changed = sorted({q for q, n, s, _ in stored if s == PANEL_STRATUM and n > 0})
    assert len(changed) >= 2
    ungraded, blank = changed[0], changed[1]
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE ensemble_grades e SET grade = NULL, n_judges = 0 FROM samples s "
                "WHERE e.sample_id = s.id AND s.sample_date = :d "
                "AND ((s.query_norm = :q AND s.weight = 4) OR s.query_norm = :b)"
            ),
            {"d": DAY3, "q": ungraded, "b": blank},
        )
    with database.engine.connect() as conn:
        queries = {q.query_norm: q for q in panel_queries(conn, DAY3, settings)}
    assert queries[ungraded].weight == 1.0
    broken = ndcg_at_k([0.0, 3.0, 3.0], 10, ideal=[3.0, 3.0, 3.0])  # its pooled ideal
    assert queries[ungraded].today == pytest.approx(broken)
    assert all(queries[q].weight == 5.0 for q in changed[2:])
    (row,) = panel_rows(database, DAY3, settings)
    assert row.n == 9  # the query with no list judged is left out
