"""Daily sampling: reproducible, stratified, deduplicated, with exact unbiased weights."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

import monitor.sampling as sampling
from monitor.config import SamplingConfig
from monitor.sampling import allocate, sample_day
from monitor.sampling_output import summarize, write_jsonl
from monitor.types import Result, SearchRecord

DAY = dt.date(2024, 5, 1)
T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def population(seed: int = 7) -> tuple[list[SearchRecord], dict[str, float]]:
    """A day of Zipf-like traffic over 200 queries in 3 locales; y is a per-query value."""
    rng = np.random.default_rng(seed)
    freq = np.maximum(1, (300 / np.arange(1, 201) ** 1.2).astype(int))
    y = {f"query {i}": float(rng.uniform(0, 1) + (0.5 if i < 5 else 0)) for i in range(200)}
    records = []
    n = 0
    for i, f in enumerate(freq.tolist()):
        locale = "fr" if i % 10 == 0 else "de" if i % 3 == 0 else "en"
        for j in range(f):
            n += 1
            records.append(
                SearchRecord(
                    query_id=f"s{n}",
                    query=f"Query  {i}" if j % 2 else f"query {i}",
                    timestamp=T0 + dt.timedelta(seconds=n),
                    results=tuple(Result(id=f"d{k}", position=k) for k in range(1, 21)),
                    segment={"locale": locale},
                    clicks=0 if i % 4 == 0 else 1,
                )
            )
    return records, y


RECORDS, Y = population()


def test_exported_members() -> None:
    """Every name in __all__ exists."""
    assert all(hasattr(sampling, name) for name in sampling.__all__)


def test_same_seed_and_day_same_sample_other_day_differs() -> None:
    """(seed, day) fixes the sample; another day draws another one."""
    config = SamplingConfig(size=60)
    a = sample_day(RECORDS, day=DAY, config=config)
    b = sample_day(list(RECORDS), day=DAY, config=config)
    c = sample_day(RECORDS, day=DAY + dt.timedelta(days=1), config=config)
    ids = [q.record.query_id for q in a.queries]
    assert ids == [q.record.query_id for q in b.queries]
    assert ids != [q.record.query_id for q in c.queries]


def test_dedup_counts_and_top_k() -> None:
    """One unit per normalized query, its searches counted, results cut to top_k."""
    s = sample_day(RECORDS, day=DAY, config=SamplingConfig(size=50, top_k=5))
    norms = [q.record.normalized_query for q in s.queries]
    assert len(norms) == len(set(norms))
    assert s.distinct_queries == 200
    assert s.duplicates_removed == len(RECORDS) - 200
    assert all(len(q.record.results) == 5 for q in s.queries)
    assert sum(c.searches for c in s.strata.values()) == len(RECORDS)


def test_stratum_minimum_honoured_and_weights_sum_to_searches() -> None:
    """Small strata get min_per_stratum; each stratum's weights add up to its searches."""
    s = sample_day(RECORDS, day=DAY, config=SamplingConfig(size=30, min_per_stratum=12))
    assert set(s.strata) == {"locale=en", "locale=de", "locale=fr"}
    for counts in s.strata.values():
        assert counts.sampled >= 12
        assert counts.weight_sum == pytest.approx(counts.searches, rel=1e-9)


def test_allocation_equal_and_proportional() -> None:
    """Equal allocation splits evenly, proportional follows sizes, capped by capacity."""
    cap = {"a": 100, "b": 100, "c": 3}
    assert allocate({"a": 1, "b": 1, "c": 1}, cap, total=30, minimum=0) == {
        "a": 14,
        "b": 13,
        "c": 3,
    }
    prop = allocate({"a": 900, "b": 100, "c": 0}, cap, total=50, minimum=2)
    assert prop["c"] == 2 and prop["a"] > 3 * prop["b"] and sum(prop.values()) == 50


@pytest.mark.parametrize("oversample", [1.0, 4.0])
def test_horvitz_thompson_per_search_mean_is_unbiased(oversample: float) -> None:
    """Over 200 seeds the weighted per-search mean of y centres on the true traffic mean."""
    truth = float(np.mean([Y[r.normalized_query] for r in RECORDS]))
    unweighted_query_mean = float(np.mean(list(Y.values())))
    estimates = []
    for seed in range(200):
        s = sample_day(
            RECORDS, day=DAY, config=SamplingConfig(size=30, seed=seed, hard_oversample=oversample)
        )
        total = sum(q.weight * Y[q.record.normalized_query] for q in s.queries)
        estimates.append(total / s.total_searches)
    est = np.array(estimates)
    assert abs(est.mean() - truth) < 3 * est.std() / np.sqrt(est.size) + 1e-9
    assert abs(truth - unweighted_query_mean) > 10 * est.std() / np.sqrt(est.size)


def test_inclusion_probabilities_are_exact() -> None:
    """Empirical inclusion frequencies over many seeds match the stated probabilities."""
    config = SamplingConfig(size=20, strata=[], hard_oversample=3.0)
    hits: dict[str, int] = {}
    stated: dict[str, float] = {}
    runs = 200
    for seed in range(runs):
        s = sample_day(RECORDS, day=DAY, config=config.model_copy(update={"seed": seed}))
        for q, pi in zip(s.queries, s.query_probabilities, strict=True):
            hits[q.record.normalized_query] = hits.get(q.record.normalized_query, 0) + 1
            stated[q.record.normalized_query] = pi
    for norm, pi in stated.items():
        se = np.sqrt(pi * (1 - pi) / runs)
        assert abs(hits[norm] / runs - pi) <= 4 * se + 1e-9, norm


def test_hard_queries_oversampled() -> None:
    """hard_oversample raises the share of hard queries in the sample."""
    plain = sample_day(RECORDS, day=DAY, config=SamplingConfig(size=60))
    over = sample_day(RECORDS, day=DAY, config=SamplingConfig(size=60, hard_oversample=5))
    assert sum(q.hard for q in over.queries) > sum(q.hard for q in plain.queries)


def test_summary_and_jsonl(tmp_path: Path) -> None:
    """The summary has a row per stratum; the JSONL has a line per sampled query."""
    s = sample_day(RECORDS, day=DAY, config=SamplingConfig(size=25))
    assert summarize(s).row_count == len(s.strata) + 1
    path = tmp_path / "sample.jsonl"
    assert write_jsonl(s, path) == s.sampled
    assert len(path.read_text().splitlines()) == s.sampled


def test_empty_day_gives_empty_sample() -> None:
    """No searches means no queries and no strata, not an error."""
    s = sample_day([], day=DAY, config=SamplingConfig())
    assert s.queries == [] and s.strata == {} and s.total_searches == 0
