"""The paid-call ceiling (``sampling.paid_calls_per_day``): the lists that need calls are
judged with one probability p, its expected calls meeting the ceiling, and weighted up so
the day's estimates stay unbiased; lists the cache answers are always judged. On real
PostgreSQL: a day over its ceiling pays about the ceiling, its kept lists weigh 1/p more,
and a rerun judges the same lists and pays nothing."""

from __future__ import annotations

import datetime as dt
import statistics
from pathlib import Path

import pytest
from panel_seed import fake_judge, write_day
from sqlalchemy import text

from monitor.config import JudgeConfig, SamplingConfig, Settings, SourceConfig
from monitor.pipeline.day import run_day
from monitor.sampling import sample_day
from monitor.sampling_budget import (
    BudgetDecision,
    apply_decision,
    budget_probability,
    decide,
    row_key,
)
from monitor.sampling_panel import PANEL_STRATUM
from monitor.store.db import Database
from monitor.store.reads import SeriesPoint, daily_series
from monitor.testing import FakeOpenAI
from monitor.types import Result, SearchRecord

DAY = dt.date(2025, 5, 2)


def test_p_meets_the_ceiling_in_expectation_counting_shared_calls_once() -> None:
    calls = [{f"r{i}-{k}" for k in range(4)} for i in range(10)]  # 40 calls, none shared
    p = budget_probability(calls, 10)
    assert p == pytest.approx(0.25, abs=1e-9)
    shared = [{"a", "b"}, {"a", "c"}]  # three calls; "a" is paid if either row is kept
    p = budget_probability(shared, 2)
    assert p is not None and 2 * p + (1 - (1 - p) ** 2) == pytest.approx(2, abs=1e-9)
    assert budget_probability(calls, 40) is None  # everything fits


def _search(query_id: str, query: str, minute: int, doc: str, locale: str = "") -> SearchRecord:
    """A search of DAY with one result, ``doc``."""
    return SearchRecord(
        query_id=query_id,
        query=query,
        timestamp=dt.datetime.combine(DAY, dt.time(3), tzinfo=dt.UTC)
        + dt.timedelta(minutes=minute),
        results=(Result(id=doc, position=1, title=f"doc {doc}"),),
        segment={"locale": locale} if locale else {},
    )


def _records(n: int) -> list[SearchRecord]:
    """Query i searched 1, 2 or 3 times (i % 3 + 1), one result each."""
    return [
        _search(f"q{i}-{j}", f"query {i}", j, f"d{i}") for i in range(n) for j in range(i % 3 + 1)
    ]


def test_kept_costly_rows_stand_for_the_dropped_ones_and_free_rows_always_stay() -> None:
    """Of 40 rows that need calls, p = 0.3 judges exactly 12, and over many seeds their
    weighted searches match all 40's (Horvitz–Thompson); every free row is judged at its
    own weight."""
    config = SamplingConfig(size=200, strata=[], min_per_stratum=0)
    estimates = []
    for seed in range(400):
        sample = sample_day(_records(60), day=DAY, config=config.model_copy(update={"seed": seed}))
        costly = frozenset(row_key(q) for q in sample.queries[:40])
        truth = sum(q.weight for q in sample.queries[:40])
        judged = apply_decision(sample, BudgetDecision(p=0.3, costly=costly))
        kept = {row_key(q): q for q in judged.queries}
        assert len(costly & kept.keys()) == 12
        for q in sample.queries[40:]:  # free: judged, its weight as drawn
            assert kept[row_key(q)].weight == q.weight
        estimates.append(sum(q.weight for q in judged.queries if row_key(q) in costly) / truth)
        assert judged.searches == [
            f for q, f in zip(sample.queries, sample.searches, strict=True) if row_key(q) in kept
        ]
    assert statistics.fmean(estimates) == pytest.approx(1.0, abs=0.03)
    assert statistics.pstdev(estimates) > 0  # which 12 varies with the seed


def test_the_same_decision_keeps_the_same_rows_and_a_later_row_draws_with_p() -> None:
    config = SamplingConfig(size=200, strata=[], min_per_stratum=0, seed=3)
    sample = sample_day(_records(50), day=DAY, config=config)
    keys = [row_key(q) for q in sample.queries]
    decision = decide([{k} for k in keys[:30]] + [set()] * 20, keys, 10)
    assert decision.p == pytest.approx(10 / 30) and decision.costly == frozenset(keys[:30])
    first = apply_decision(sample, decision).queries
    assert len(first) == 10 + 20
    assert apply_decision(sample, decision).queries == first
    # rows 30-49 need calls on a rerun the first run did not see: judged with p each
    later = apply_decision(sample, decision, later=frozenset(keys[30:])).queries
    assert [q for q in later if row_key(q) in decision.costly] == [
        q for q in first if row_key(q) in decision.costly
    ]
    assert 0 < sum(row_key(q) in keys[30:] for q in later) < 20


def _rows(
    day: dt.date, prefix: str, queries: int, searches: int = 1, lists: str = "", locale: str = "en"
) -> list:
    at = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
    return [
        {
            "query_id": f"{prefix}{i}-{j}",
            "query": f"{prefix} query {i}",
            "timestamp": (at + dt.timedelta(minutes=i, seconds=j)).isoformat(),
            "segment": {"locale": locale},
            "results": [
                {"id": f"{prefix}{i}{lists}-{k}", "title": f"{prefix} query {i} {lists}result {k}"}
                for k in range(3)
            ],
        }
        for i in range(queries)
        for j in range(searches)
    ]


def test_a_panel_row_is_never_dropped_or_reweighted_whatever_the_decision_says() -> None:
    """A rerun can move a row the first run drew as fresh (and costly) into the panel:
    it is then judged at its own weight."""
    config = SamplingConfig(size=200, strata=[], min_per_stratum=0, seed=3)
    sample = sample_day(_records(20), day=DAY, config=config)
    keys = [row_key(q) for q in sample.queries]
    decision = BudgetDecision(p=0.25, costly=frozenset(keys))
    judged = apply_decision(sample, decision, exempt=frozenset(keys[:5]))
    by_key = {row_key(q): q for q in judged.queries}
    for key, drawn in zip(keys[:5], sample.queries[:5], strict=True):
        assert by_key[key].weight == drawn.weight
    # the five exempt, and the 5 of the 20 costly ones the decision chose
    assert by_key.keys() == set(keys[:5]) | decision.chosen(sample.seed, DAY)


def _two_locales() -> list[SearchRecord]:
    """36 queries searched in "en" and 6 in "fr", once each, one result each."""
    return [
        _search(f"{locale}{i}", f"{locale} query {i}", i, f"{locale}-d{i}", locale)
        for locale, n in (("en", 36), ("fr", 6))
        for i in range(n)
    ]


def test_each_stratum_is_subsampled_on_its_own_and_keeps_its_floor() -> None:
    """All 36 "en" lists and 4 of the 6 "fr" ones need a call, under a ceiling of 10
    (q = 1/4): "en" judges 9 of its 36; "fr" would judge 1 of its 4, but a floor of 4
    (``min_per_stratum``, its 2 free lists counted) keeps 2. Each stratum's judged lists
    stand for that stratum's alone: over many seeds each stratum's weighted searches
    are its own (one SRS across strata would leave "fr" with none on most days)."""
    config = SamplingConfig(size=200, strata=["locale"], min_per_stratum=0)
    estimates: dict[str, list[float]] = {"locale=en": [], "locale=fr": []}
    for seed in range(300):
        sample = sample_day(
            _two_locales(), day=DAY, config=config.model_copy(update={"seed": seed})
        )
        keys = [row_key(q) for q in sample.queries]
        free = {q.record.query_id for q in sample.queries if q.record.query_id in ("fr4", "fr5")}
        calls = [
            set() if q.record.query_id in free else {k}
            for q, k in zip(sample.queries, keys, strict=True)
        ]
        decision = decide(calls, keys, 10, [q.stratum for q in sample.queries], floor=4)
        assert decision.judged == {"locale=en": 9, "locale=fr": 2}
        assert decision.p == pytest.approx(11 / 40)
        assert decision.p_of("locale=fr") == 0.5 and decision.p_of("locale=en") == 0.25
        judged = apply_decision(sample, decision)
        for stratum, own in estimates.items():
            truth = sum(q.weight for q in sample.queries if q.stratum == stratum)
            own.append(sum(q.weight for q in judged.queries if q.stratum == stratum) / truth)
        assert sum(q.stratum == "locale=fr" for q in judged.queries) == 4  # 2 free, 2 judged
    for own in estimates.values():
        assert statistics.fmean(own) == pytest.approx(1.0, abs=0.03)
    # no floor: "fr" keeps one list (every stratum keeps one), and q stays 1/4
    assert decide(calls, keys, 10, [q.stratum for q in sample.queries]).judged == {
        "locale=en": 9,
        "locale=fr": 1,
    }


def _write_day(folder: Path, queries: int, day: dt.date = DAY, rows: list | None = None) -> None:
    rows = _rows(day, "q", queries) if rows is None else rows
    write_day(folder, day, rows)


def _settings(
    folder: Path,
    server: FakeOpenAI,
    ceiling: int | None,
    *,
    lexical: bool = False,
    panel_share: float = 0.0,
    floor: int = 0,
) -> Settings:
    judges = [fake_judge(server)]
    if lexical:  # a local judge: free, so it does not count against the ceiling
        judges.append(JudgeConfig(name="lex", kind="lexical", api_key_env=None))
    sampling = SamplingConfig(
        size=40,
        strata=["locale"] if floor else [],
        min_per_stratum=floor,
        top_k=3,
        seed=7,
        paid_calls_per_day=ceiling,
        panel_share=panel_share,
        panel_lists=1,
    )
    return Settings(
        judges=judges,
        source=SourceConfig(kind="files", path=str(folder)),
        sampling=sampling,
        canary_size=0,
        baseline_days=3,
    )


def _stored(database: Database) -> list[tuple[str, float]]:
    return [(q, w) for q, w, _ in _stored_rows(database)]


def _stored_rows(database: Database, day: dt.date = DAY) -> list[tuple[str, float, str]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT query_norm, weight, stratum FROM samples WHERE sample_date = :d ORDER BY 1"
            ),
            {"d": day},
        ).all()
    return [(r.query_norm, r.weight, r.stratum) for r in rows]


def test_a_day_over_its_ceiling_pays_about_it_and_a_rerun_pays_nothing(
    tmp_path: Path, database: Database, fake_llm: FakeOpenAI
) -> None:
    """40 queries of 3 new results need 120 LLM calls (the lexical judge beside it is
    free); a ceiling of 30 judges 10 of the 40 lists (p = 0.25), each weighing 4 times
    its drawn weight (1 search each)."""
    _write_day(tmp_path, 40)
    outcome = run_day(database, _settings(tmp_path, fake_llm, ceiling=30, lexical=True), DAY)
    assert outcome.status == "completed"
    assert outcome.counts["budget_p"] == pytest.approx(0.25)
    stored = _stored(database)
    assert len(stored) == 10
    assert fake_llm.paid_calls == 30  # the run's `judged` counts the lexical judge's too
    assert outcome.counts["judged"] == 60
    assert all(w == pytest.approx(4.0) for _, w in stored)

    again = run_day(database, _settings(tmp_path, fake_llm, ceiling=30, lexical=True), DAY)
    assert again.status == "completed" and again.counts["judged"] == 0
    assert _stored(database) == stored
    assert fake_llm.paid_calls == 3 * len(stored)

    # a decision kept before decisions were per stratum (the rows alone) reads as one p
    with database.engine.begin() as conn:
        conn.execute(
            text("UPDATE day_designs SET budget_rows = budget_rows->'rows' WHERE sample_date = :d"),
            {"d": DAY},
        )
        conn.execute(
            text(
                "UPDATE day_designs SET budget_rows = (SELECT jsonb_agg(k ORDER BY k) "
                "FROM jsonb_object_keys(budget_rows) AS k) WHERE sample_date = :d"
            ),
            {"d": DAY},
        )
    legacy = run_day(database, _settings(tmp_path, fake_llm, ceiling=30, lexical=True), DAY)
    assert legacy.counts["judged"] == 0 and legacy.counts["budget_p"] == pytest.approx(0.25)
    assert _stored(database) == stored


def test_a_capped_day_reads_the_traffic_s_share_of_new_queries(
    tmp_path: Path, database: Database, fake_llm: FakeOpenAI
) -> None:
    """20 queries come back with the lists judged the day before (cached, free) beside
    20 new ones (60 calls); a ceiling of 15 judges 5 of the new lists, each standing for
    4. Half the day's searches are of new queries, which the day's new-query share reads
    (counting the judged lists alone would read 5 of 25)."""
    before = DAY - dt.timedelta(days=1)
    _write_day(tmp_path, 0, day=before, rows=_rows(before, "old", 20))
    assert run_day(database, _settings(tmp_path, fake_llm, None), before).status == "completed"
    _write_day(tmp_path, 0, rows=_rows(DAY, "old", 20) + _rows(DAY, "new", 20))
    outcome = run_day(database, _settings(tmp_path, fake_llm, 15), DAY)
    assert outcome.counts["budget_p"] == pytest.approx(0.25)
    assert len(_stored(database)) == 25
    assert _day_figure(database, "new_query_share").value == pytest.approx(0.5)


def test_a_capped_day_keeps_every_stratum_s_floor_and_reads_its_segment(
    tmp_path: Path, database: Database, fake_llm: FakeOpenAI
) -> None:
    """30 "en" and 10 "fr" queries of 3 new results, a ceiling of 30 (q = 1/4) and
    ``min_per_stratum`` 10: "en" judges 10 lists (q alone: 8) at 3 times their weight,
    "fr" all 10 at their own (one random sample across strata would judge about 2 of
    them), so the day's "fr" figures are there; the floors are paid past the ceiling."""
    rows = _rows(DAY, "en", 30) + _rows(DAY, "fr", 10, locale="fr")
    _write_day(tmp_path, 0, rows=rows)
    settings = _settings(tmp_path, fake_llm, ceiling=30, floor=10)
    outcome = run_day(database, settings, DAY)
    assert outcome.status == "completed"
    assert outcome.counts["budget_p"] == pytest.approx(20 / 40)
    stored = _stored_rows(database)
    by_stratum = {h: [w for _, w, s in stored if s == h] for h in ("locale=en", "locale=fr")}
    assert by_stratum["locale=en"] == [pytest.approx(3.0)] * 10
    assert by_stratum["locale=fr"] == [1.0] * 10
    assert fake_llm.paid_calls == 3 * 20
    assert _judged_share(database) == (pytest.approx(0.5), 40)  # in /metrics and report
    fr = _day_figure(database, "ndcg", segment="locale=fr", k=10)
    assert fr.value is not None and fr.n == 10
    again = run_day(database, settings, DAY)
    assert again.counts["judged"] == 0 and _stored_rows(database) == stored


def test_a_day_within_its_ceiling_is_judged_whole(
    tmp_path: Path, database: Database, fake_llm: FakeOpenAI
) -> None:
    _write_day(tmp_path, 10)
    outcome = run_day(database, _settings(tmp_path, fake_llm, ceiling=30), DAY)
    assert outcome.status == "completed" and "budget_p" not in outcome.counts
    assert len(_stored(database)) == 10 and fake_llm.paid_calls == 30
    assert _judged_share(database) == (1.0, 10)  # all 10 lists needed calls: all judged


def _day_figure(database: Database, metric: str, segment: str = "all", k: int = 0) -> SeriesPoint:
    """The stored figure of DAY (the ensemble's)."""
    with database.engine.connect() as conn:
        (point,) = daily_series(
            conn, metric=metric, segment=segment, judge="ensemble", k=k, first=DAY, last=DAY
        )
    return point


def _judged_share(database: Database) -> tuple[float | None, int]:
    point = _day_figure(database, "ceiling_judged_share")
    return point.value, point.n


def test_the_panel_is_never_subsampled_and_its_calls_come_first(
    tmp_path: Path, database: Database, fake_llm: FakeOpenAI
) -> None:
    """20 head queries seen the day before come back with new lists (60 calls) beside 20
    new queries (60 more). Under a ceiling of 30 the panel is judged whole at its own
    weights (dropping its changed queries would read a change as none); the fresh sample
    gives way down to one list, weighted by its 1/p."""
    before = DAY - dt.timedelta(days=1)
    _write_day(tmp_path, 0, day=before, rows=_rows(before, "head", 20, searches=2))
    assert (
        run_day(database, _settings(tmp_path, fake_llm, None, panel_share=0.5), before).status
        == "completed"
    )
    paid = fake_llm.paid_calls
    rows = _rows(DAY, "head", 20, searches=2, lists="new") + _rows(DAY, "tail", 20)
    _write_day(tmp_path, 0, rows=rows)
    settings = _settings(tmp_path, fake_llm, 30, panel_share=0.5)
    outcome = run_day(database, settings, DAY)
    assert outcome.status == "completed"
    stored = _stored_rows(database)
    panel = [(q, w) for q, w, stratum in stored if stratum == PANEL_STRATUM]
    fresh = [(q, w) for q, w, stratum in stored if stratum != PANEL_STRATUM]
    assert len(panel) == 20 and all(w == 2.0 for _, w in panel)
    assert len(fresh) == 1 and fresh[0][1] == pytest.approx(20.0)  # p = 1/20
    assert outcome.counts["budget_p"] == pytest.approx(1 / 20)
    assert fake_llm.paid_calls - paid == 60 + 3
