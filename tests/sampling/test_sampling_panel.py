"""The paired panel's selection: deterministic, rotating, within the budget, exact weights."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from monitor.config import SamplingConfig, load_settings
from monitor.errors import ConfigError
from monitor.sampling import sample_day
from monitor.sampling_panel import PANEL_STRATUM, panel_epoch, panel_size, select_panel
from monitor.types import Result, SearchRecord

DAY = dt.date(2025, 3, 1)


def _records(day: dt.date, heads: int = 40, tails: int = 60) -> list[SearchRecord]:
    """``heads`` queries searched 5 times a day, ``tails`` distinct one-off queries."""
    start = dt.datetime.combine(day, dt.time(1), tzinfo=dt.UTC)
    out = []
    for i in range(heads):
        for j in range(5):
            out.append(_record(f"head {i}", f"h{i}-{j}", start + dt.timedelta(minutes=j)))
    for i in range(tails):
        out.append(_record(f"tail {day} {i}", f"t{i}", start + dt.timedelta(minutes=i)))
    return out


def _record(query: str, qid: str, ts: dt.datetime) -> SearchRecord:
    results = tuple(Result(id=f"{query}/{k}", position=k + 1, title=query) for k in range(3))
    return SearchRecord(query_id=qid, query=query, timestamp=ts, results=results)


HEADS = {f"head {i}" for i in range(40)}


def test_panel_share_is_validated() -> None:
    """A share of 1 (or more, or below 0) is refused with the setting's name."""
    for bad in (1.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="panel_share"):
            SamplingConfig(panel_share=bad)
    with pytest.raises(ConfigError, match="panel_share"):
        load_settings(sampling={"panel_share": 1.0})
    assert SamplingConfig(panel_share=0.5).panel_share == 0.5


def test_selection_is_deterministic_and_only_from_history() -> None:
    config = SamplingConfig(size=20, panel_share=0.5, panel_rotation_days=28)
    searches = {q: 5 for q in HEADS} | {"never seen": 9}
    first = select_panel(searches, HEADS, day=DAY, config=config)
    assert len(first) == panel_size(config) == 10
    assert first <= HEADS
    assert select_panel(dict(reversed(searches.items())), HEADS, day=DAY, config=config) == first
    assert select_panel(searches, set(), day=DAY, config=config) == set()
    off = SamplingConfig(size=20)
    assert select_panel(searches, HEADS, day=DAY, config=off) == set()


def test_the_panel_rotates_slowly() -> None:
    """Day to day the panel changes a little; over a rotation, most of it."""
    config = SamplingConfig(size=40, panel_share=0.5, panel_rotation_days=10)
    searches = {q: 5 for q in HEADS} | {f"more {i}": 5 for i in range(60)}
    history = set(searches)
    days = [DAY + dt.timedelta(days=i) for i in range(31)]
    panels = [select_panel(searches, history, day=d, config=config) for d in days]
    kept = [len(a & b) / len(a) for a, b in itertools.pairwise(panels)]
    assert min(kept) >= 0.7, kept  # about a tenth re-drawn a day
    assert len(panels[0] & panels[30]) <= 0.5 * len(panels[0])
    # each query's epoch moves once every rotation
    epochs = {panel_epoch("head 1", d, 10) for d in days[:10]}
    assert len(epochs) == 2


def test_sample_day_takes_the_panel_with_certainty_and_keeps_the_budget() -> None:
    config = SamplingConfig(size=30, strata=[], panel_share=0.5, min_per_stratum=0)
    records = _records(DAY)
    sample = sample_day(records, day=DAY, config=config, history=HEADS)
    panel = [q for q in sample.queries if q.stratum == PANEL_STRATUM]
    fresh = [q for q in sample.queries if q.stratum != PANEL_STRATUM]
    assert len(panel) == 15 and len(fresh) == 15 and sample.sampled == 30
    # certainty: each panel query stands for exactly its own 5 searches
    assert all(q.weight == pytest.approx(5.0) for q in panel)
    assert {q.record.normalized_query for q in panel} <= HEADS
    assert not {q.record.normalized_query for q in panel} & {
        q.record.normalized_query for q in fresh
    }
    # the weights still add up to the day's searches (no oversampling): unbiased totals
    assert sum(q.weight for q in sample.queries) == pytest.approx(len(records))
    assert sample.strata[PANEL_STRATUM].sampled == 15
    again = sample_day(list(reversed(records)), day=DAY, config=config, history=HEADS)
    assert [q.record.normalized_query for q in again.queries] == [
        q.record.normalized_query for q in sample.queries
    ]


def test_panel_share_zero_is_todays_sample() -> None:
    records = _records(DAY)
    base = sample_day(records, day=DAY, config=SamplingConfig(size=30, strata=[]))
    off = sample_day(records, day=DAY, config=SamplingConfig(size=30, strata=[]), history=HEADS)
    assert [q.record.query_id for q in off.queries] == [q.record.query_id for q in base.queries]
    assert PANEL_STRATUM not in off.strata


def test_too_few_candidates_leave_the_budget_to_the_fresh_sample() -> None:
    config = SamplingConfig(size=30, strata=[], panel_share=0.5, min_per_stratum=0)
    history = {"head 1", "head 2", "head 3"}
    sample = sample_day(_records(DAY), day=DAY, config=config, history=history)
    assert sample.strata[PANEL_STRATUM].sampled == 3
    assert sample.sampled == 30
