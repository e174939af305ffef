"""Neyman allocation: the sample goes where nDCG varies most, the weights stay exact."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from monitor.config import SamplingConfig, load_settings
from monitor.pipeline.allocation import stored_stratum_sd
from monitor.sampling import allocate, neyman_sizes, sample_day, stratum_sd
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import Result, SampledQuery, SearchRecord

DAY = dt.date(2024, 5, 1)
T0 = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def _traffic() -> tuple[list[SearchRecord], dict[str, float]]:
    """240 queries in two locales of equal traffic; y is flat in en, spread in de."""
    rng = np.random.default_rng(3)
    records, y, n = [], {}, 0
    for i in range(240):
        locale = "de" if i % 2 else "en"
        y[f"query {i}"] = float(rng.uniform(0, 1)) if locale == "de" else 0.5 + 0.01 * (i % 3)
        for _ in range(1 + i % 4):
            n += 1
            records.append(
                SearchRecord(
                    query_id=f"s{n}",
                    query=f"query {i}",
                    timestamp=T0 + dt.timedelta(seconds=n),
                    results=(Result(id="d1", position=1),),
                    segment={"locale": locale},
                )
            )
    return records, y


RECORDS, Y = _traffic()
TRUE_TOTAL = sum(Y[r.normalized_query] for r in RECORDS)


def test_neyman_sizes_by_hand() -> None:
    """N 100/100 and sd 0.1/0.3 give sizes 10/30, so 40 queries split 10/30."""
    sizes, how = neyman_sizes({"a": 100.0, "b": 100.0}, {"a": 0.1, "b": 0.3})
    assert how == "neyman"
    assert sizes == pytest.approx({"a": 10.0, "b": 30.0})
    assert allocate(sizes, {"a": 50, "b": 50}, total=40, minimum=0) == {"a": 10, "b": 30}


def test_neyman_without_history_is_proportional_and_a_new_stratum_gets_the_mean_sd() -> None:
    """No stored sd gives proportional sizes; a stratum missing from it gets the mean sd."""
    assert neyman_sizes({"a": 30.0, "b": 10.0}, None) == (
        {"a": 30.0, "b": 10.0},
        "proportional (no stored sd)",
    )
    assert neyman_sizes({"a": 30.0}, {"a": 0.0})[1] == "proportional (no stored sd)"
    sizes, _ = neyman_sizes({"a": 10.0, "b": 30.0, "new": 20.0}, {"a": 0.2, "b": 0.4})
    typical = (10 * 0.2 + 30 * 0.4) / 40
    assert sizes["new"] == pytest.approx(20 * typical)


def test_stratum_sd_leaves_out_small_strata_and_nan() -> None:
    """sd with ddof 1 per stratum; under 10 values gives none; NaN is not counted."""
    rows = [("a", float(i % 2)) for i in range(12)] + [("a", math.nan), ("b", 1.0)]
    assert stratum_sd(rows) == {"a": pytest.approx(math.sqrt(12 / 11 * 0.25))}


def test_neyman_sample_follows_the_sd_and_stays_unbiased_with_less_variance() -> None:
    """Over 150 seeds the Neyman sample's weighted total is unbiased (within 1%) and its
    sd is about √(20/38) of the proportional one's (all the spread is in de, which gets 38
    queries instead of 20); its strata get the Neyman split."""
    sd = {"locale=en": 0.01, "locale=de": 0.29}
    estimates: dict[str, list[float]] = {"proportional": [], "neyman": []}
    for seed in range(150):
        for allocation in estimates:
            config = SamplingConfig(size=40, seed=seed, allocation=allocation, min_per_stratum=2)
            sample = sample_day(RECORDS, day=DAY, config=config, sd=sd)
            estimates[allocation].append(
                sum(q.weight * Y[q.record.normalized_query] for q in sample.queries)
            )
            if allocation == "neyman" and seed == 0:
                assert sample.strata["locale=en"].sampled == 2  # only the floor
                assert sample.strata["locale=de"].sampled == 38
    neyman = np.array(estimates["neyman"])
    proportional = np.array(estimates["proportional"])
    assert abs(neyman.mean() / TRUE_TOTAL - 1) < 0.01
    assert neyman.std() < 0.8 * proportional.std()


def _store(database: Database, day: dt.date, locale: str, grades: list[float]) -> None:
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    queries = [
        SampledQuery(
            record=SearchRecord(
                query_id=f"{locale}{i}",
                query=f"{locale} query {i}",
                timestamp=stamp,
                results=(Result(id="r1", position=1),),
                segment={"locale": locale},
            ),
            stratum=f"locale={locale}",
            inclusion_probability=0.5,
        )
        for i in range(len(grades))
    ]
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=day, queries=queries, top_k=10)
        rows = [
            (ids[("production", q.record.normalized_query, 0)], "r1", 1, g, 0.0, 1, "median")
            for q, g in zip(queries, grades, strict=True)
        ]
        repo.upsert_ensemble_grades(conn, rows=rows)


def test_stored_stratum_sd_reads_the_history_before_the_day(database: Database) -> None:
    """12 de queries scoring nDCG 1 or 0 give sd √(12/11·¼); 5 en queries give none; the
    day itself and days past the history window are not read."""
    day = dt.date(2026, 5, 20)
    _store(database, day - dt.timedelta(days=1), "de", [3.0, 0.0] * 6)
    _store(database, day - dt.timedelta(days=2), "en", [3.0] * 5)
    _store(database, day, "fr", [3.0, 0.0] * 6)
    _store(database, day - dt.timedelta(days=30), "it", [3.0, 0.0] * 6)
    settings = load_settings(sampling={"allocation": "neyman", "neyman_history_days": 14})
    assert stored_stratum_sd(database, day, settings) == {
        "locale=de": pytest.approx(math.sqrt(12 / 11 * 0.25))
    }
