"""Choose a day's queries to judge so that weighted metrics estimate all of the traffic.

Design (stratified probability-proportional-to-size, exact inclusion probabilities):

1. **Dedup.** The unit judged is the distinct normalized query of the day; a query
   searched 500 times is judged once. Its *size* ``f`` is how often it was searched.
   A query searched in several segments belongs to the stratum where it was searched
   most (ties: the first in sorted order) — the store keeps one row per query and day.
   Its record is one of its searches chosen pseudo-randomly (hash of seed, day and query
   id), so the judged list is a fair draw of what its searches saw.
2. **Strata** from ``config.strata`` (key like ``locale=de|surface=app``; a missing
   field reads ``unknown``). ``size`` is allocated proportionally to each stratum's
   searches, equally, or by Neyman allocation (``allocation = "neyman"``: in
   proportion to searches × the stratum's stored per-query sd of nDCG@10, which
   minimises the variance of the weighted mean for the same size; see
   ``neyman_sizes``); every stratum gets at least ``min_per_stratum`` (or all its
   queries if it has fewer) even if that takes the total above ``size``. Whatever the
   allocation, step 3 gives each query its exact inclusion probability for its
   stratum's ``n_h``, so the weighted estimates stay unbiased.
3. **Within a stratum**, systematic PPS: queries in a seeded random order laid end to
   end with length ``f`` (times ``hard_oversample`` for hard queries), ``n_h`` equally
   spaced points with a random start. Query ``i`` is chosen with probability exactly
   ``pi_i = n_h * s_i / S_h``; queries with ``pi_i >= 1`` are taken with certainty
   first. No query can be hit twice.
4. **Weights are in searches.** ``SampledQuery.inclusion_probability`` is
   ``pi_i / f_i``, so ``weight = f_i / pi_i`` is the number of the day's searches the
   query stands for, and ``sum(w * y)`` is the Horvitz–Thompson estimate of the total of
   a per-search quantity ``y`` over all searches (unbiased); divided by the known number
   of searches it is an unbiased per-search mean. Without oversampling the weights of a
   stratum add up to exactly its searches. The query-level ``pi_i`` and ``f_i`` are kept
   in ``DailySample`` for per-distinct-query estimates (weight ``1 / pi_i``).

A query is *hard* when most of its searches had no results, no clicks or a
reformulation. Same (seed, day) and records → same sample; the RNG comes from a SHA-256
of both, never from Python's salted ``hash()``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from monitor.config import SamplingConfig
from monitor.sampling_panel import PANEL_STRATUM, PanelLists, select_panel
from monitor.types import SampledQuery, SearchRecord

__all__ = [
    "DailySample",
    "StratumCounts",
    "allocate",
    "is_hard",
    "neyman_sizes",
    "sample_day",
    "stratum_key",
    "stratum_sd",
]


@dataclass(frozen=True, slots=True)
class StratumCounts:
    """Population and sample sizes of one stratum."""

    searches: int
    distinct: int
    hard_distinct: int
    sampled: int
    hard_sampled: int
    weight_sum: float


@dataclass(frozen=True)
class DailySample:
    """A day's sample. ``searches[i]`` and ``query_probabilities[i]`` belong to ``queries[i]``."""

    day: dt.date
    seed: int
    queries: list[SampledQuery]
    searches: list[int]
    query_probabilities: list[float]
    strata: dict[str, StratumCounts]
    total_searches: int
    distinct_queries: int
    duplicates_removed: int = field(default=0)

    @property
    def sampled(self) -> int:
        """Distinct queries sampled: a panel query judged on several lists counts once,
        whichever rankers served them (``len(queries)`` counts the rows)."""
        return len({q.record.normalized_query for q in self.queries})


def stratum_key(segment: Mapping[str, Any], fields: Sequence[str]) -> str:
    """``locale=de|surface=app`` for a search in ``segment``; ``all`` without fields."""
    if not fields:
        return "all"
    return "|".join(f"{f}={segment.get(f, 'unknown')}" for f in fields)


def is_hard(record: SearchRecord) -> bool:
    """A search that went badly by the user's own signals."""
    return record.zero_result or record.reformulated or record.clicks == 0


def _seed(seed: int, day: dt.date, *extra: str) -> int:
    blob = "|".join([str(seed), day.isoformat(), *extra]).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


def allocate(
    sizes: dict[str, float], capacity: dict[str, int], *, total: int, minimum: int
) -> dict[str, int]:
    """Split ``total`` over strata by ``sizes``, each within [min(minimum, cap), cap].

    Largest-remainder rounding; the minimum wins over ``total`` when they conflict.
    """
    keys = sorted(sizes)
    floor = {k: min(minimum, capacity[k]) for k in keys}
    n = dict(floor)
    budget = min(total, sum(capacity.values())) - sum(floor.values())
    while budget > 0:
        open_keys = [k for k in keys if n[k] < capacity[k]]
        weight = sum(sizes[k] for k in open_keys)
        if not open_keys:
            break
        if weight <= 0:
            shares = {k: budget / len(open_keys) for k in open_keys}
        else:
            shares = {k: budget * sizes[k] / weight for k in open_keys}
        given = 0
        for k in open_keys:
            add = min(int(shares[k]), capacity[k] - n[k])
            n[k] += add
            given += add
        if given == 0:  # hand out the remainder one by one, largest fraction first
            ranked = sorted(open_keys, key=lambda k: (-(shares[k] - int(shares[k])), k))
            for k in ranked[:budget]:
                n[k] += 1
                given += 1
        budget -= given
    return n


def neyman_sizes(
    searches: dict[str, float], sd: dict[str, float] | None
) -> tuple[dict[str, float], str]:
    """What to allocate a Neyman sample in proportion to: N_h × S_h per stratum.

    ``searches``: each stratum's searches today (N_h); ``sd``: the stored per-query sd
    of nDCG@10 in each stratum (S_h). A stratum with no stored sd (new, or too few
    queries stored) gets the searches-weighted mean sd of the strata that have one, so
    it is sampled as an average stratum, not starved. With no usable sd at all (no
    history, or every stored sd 0) this is proportional allocation. Returns the sizes
    and how they were chosen ("neyman" or "proportional (no stored sd)").
    """
    known = {k: v for k, v in (sd or {}).items() if k in searches and math.isfinite(v) and v >= 0}
    weight = sum(searches[k] for k in known)
    if not known or weight <= 0:
        return dict(searches), "proportional (no stored sd)"
    typical = sum(searches[k] * known[k] for k in known) / weight
    if typical <= 0:
        return dict(searches), "proportional (no stored sd)"
    return {k: n * known.get(k, typical) for k, n in searches.items()}, "neyman"


def stratum_sd(rows: Iterable[tuple[str, float]], *, min_n: int = 10) -> dict[str, float]:
    """Per-stratum sample sd of a per-query figure from (stratum, value) pairs; NaN values
    are left out and a stratum with fewer than ``min_n`` values has no sd."""
    values: dict[str, list[float]] = {}
    for key, value in rows:
        if math.isfinite(value):
            values.setdefault(key, []).append(value)
    return {k: float(np.std(v, ddof=1)) for k, v in values.items() if len(v) >= max(min_n, 2)}


def _pps(sizes: np.ndarray, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Systematic PPS of ``n`` units: chosen indexes and their exact probabilities."""
    count = sizes.size
    if n >= count:
        return np.arange(count), np.ones(count)
    probs = np.zeros(count)
    certain = np.zeros(count, dtype=bool)
    while True:  # take-all units: their share of the rest would give pi >= 1
        rest = ~certain
        n_rest = n - int(certain.sum())
        pi = n_rest * sizes / sizes[rest].sum()
        new = rest & (pi >= 1)
        if not new.any():
            break
        certain |= new
    probs[certain] = 1.0
    rest_idx = np.flatnonzero(~certain)
    n_rest = n - int(certain.sum())
    chosen = list(np.flatnonzero(certain))
    if n_rest > 0:
        total = sizes[rest_idx].sum()
        probs[rest_idx] = n_rest * sizes[rest_idx] / total
        order = rest_idx[rng.permutation(rest_idx.size)]
        ends = np.cumsum(sizes[order])
        step = total / n_rest
        points = rng.uniform(0, step) + step * np.arange(n_rest)
        hit = np.searchsorted(ends, points, side="right")
        chosen.extend(order[np.minimum(hit, order.size - 1)].tolist())
    idx = np.array(sorted(chosen), dtype=np.int64)
    return idx, probs[idx]


@dataclass
class _Unit:
    norm: str
    searches: int = 0
    hard: int = 0
    by_stratum: dict[str, int] = field(default_factory=dict)
    pick: tuple[int, SearchRecord] | None = None


def sample_day(
    records: Iterable[SearchRecord],
    *,
    day: dt.date,
    config: SamplingConfig,
    sd: dict[str, float] | None = None,
    history: set[str] | None = None,
) -> DailySample:
    """The day's sample, by the design in the module docstring.

    ``sd``: the stored per-query sd of nDCG@10 per stratum, used when
    ``config.allocation`` is "neyman" (``neyman_sizes``; proportional without it).
    ``history``: queries seen on earlier days; ``panel_share`` of them are taken with
    certainty as stratum "panel" (``sampling_panel``), the fresh strata get the rest;
    with ``panel_lists`` > 1 a panel query gives one row per distinct list it was
    served (``sampling_panel.PanelLists``), the fresh strata one per query.
    """
    seed_text = str(_seed(config.seed, day))
    units: dict[str, _Unit] = {}
    lists = PanelLists(history, config) if history and config.panel_lists > 1 else None
    total = 0
    for record in records:
        total += 1
        norm = record.normalized_query
        unit = units.get(norm)
        if unit is None:
            unit = units[norm] = _Unit(norm)
        unit.searches += 1
        unit.hard += is_hard(record)
        key = stratum_key(record.segment, config.strata)
        unit.by_stratum[key] = unit.by_stratum.get(key, 0) + 1
        tag = f"{seed_text}|{record.query_id}|{record.timestamp.isoformat()}"
        draw = int.from_bytes(hashlib.blake2b(tag.encode(), digest_size=8).digest(), "big")
        if unit.pick is None or draw < unit.pick[0]:
            unit.pick = (draw, record)
        if lists is not None:
            lists.add(norm, record, draw)

    panel = select_panel(
        {n: u.searches for n, u in units.items()}, history or (), day=day, config=config
    )
    strata: dict[str, list[_Unit]] = (
        {PANEL_STRATUM: [units[n] for n in sorted(panel)]} if panel else {}
    )
    for norm in sorted(set(units) - panel):
        u = units[norm]
        home = max(sorted(u.by_stratum), key=u.by_stratum.__getitem__)
        strata.setdefault(home, []).append(u)

    searches_of = {k: sum(u.searches for u in us) for k, us in strata.items()}
    fresh = {k: float(v) for k, v in searches_of.items() if k != PANEL_STRATUM}
    if config.allocation == "equal":
        sizes = {k: 1.0 for k in fresh}
    elif config.allocation == "neyman":
        sizes, _ = neyman_sizes(fresh, sd)
    else:
        sizes = fresh
    n_of = allocate(
        sizes,
        {k: len(strata[k]) for k in fresh},
        total=config.size - len(panel),
        minimum=config.min_per_stratum,
    ) | ({PANEL_STRATUM: len(panel)} if panel else {})

    chosen: list[tuple[SampledQuery, int, float]] = []
    counts: dict[str, StratumCounts] = {}
    for key in sorted(strata):
        us = strata[key]
        hard = np.array([u.hard * 2 > u.searches for u in us])
        freq = np.array([u.searches for u in us], dtype=np.float64)
        size = freq * np.where(hard, config.hard_oversample, 1.0)
        rng = np.random.default_rng(_seed(config.seed, day, key))
        idx, probs = _pps(size, n_of[key], rng)
        wsum = 0.0
        for i, pi in zip(idx.tolist(), probs.tolist(), strict=True):
            unit = us[i]
            assert unit.pick is not None
            rows = [(unit.pick[1], unit.searches, pi / unit.searches)]
            if lists is not None and key == PANEL_STRATUM:  # taken whole: pi is 1
                rows = lists.rows(unit.norm, unit.searches)
            for list_no, (record, searches, prob) in enumerate(rows):
                record = dataclasses.replace(record, results=record.results[: config.top_k])
                sq = SampledQuery(record, key, prob, bool(hard[i]), list_no)
                wsum += sq.weight
                chosen.append((sq, searches, pi))
        counts[key] = StratumCounts(
            searches=searches_of[key],
            distinct=len(us),
            hard_distinct=int(hard.sum()),
            sampled=int(idx.size),
            hard_sampled=int(hard[idx].sum()) if idx.size else 0,
            weight_sum=wsum,
        )
    return DailySample(
        day=day,
        seed=config.seed,
        queries=[c[0] for c in chosen],
        searches=[c[1] for c in chosen],
        query_probabilities=[c[2] for c in chosen],
        strata=counts,
        total_searches=total,
        distinct_queries=len(units),
        duplicates_removed=total - len(units),
    )
