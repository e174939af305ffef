"""A daily ceiling on paid judge calls: past it, the lists that need calls are subsampled.

Why: most days cost little (unchanged lists are answered by the verdict cache), but a day
an index is rebuilt or a ranker rolled out serves mostly new results, and every one of
them is a paid call for every judge. ``sampling.paid_calls_per_day`` caps that day.

Design (pure; ``pipeline.budget_step`` reads the cache and keeps the decision):

* **Who gives way.** Only rows (sampled lists) that need a call: a list the cache answers
  whole costs nothing and is always judged. The step leaves the paired panel out
  (``pipeline.budget_step``): only the fresh sample's rows are subsampled.
* **How.** Within each stratum, of its N_h rows that need calls, n_h are judged, a
  simple random sample (the n_h with the smallest draws ``row_draw(seed, day, row)``),
  so each is judged with probability p_h = n_h / N_h exactly and its weight is raised by
  1/p_h (Horvitz–Thompson): the day's estimates stay unbiased, with a wider CI. n_h is
  N_h times the one probability q whose expected calls meet the ceiling (a call that m
  rows need is paid when any of them is judged: 1 − (1 − q)^m), at least 1, and enough
  to keep the stratum's ``min_per_stratum``: a capped day still reads every segment.
  A fixed n_h, not one coin per row: a row costs up to ``top_k`` calls per judge, and
  coins would let a day pay several times its ceiling.
* **Reruns.** The first run's decision (each stratum's n_h and rows) is kept with the
  day's design: the same rows, seed and day give the same draws, so a rerun judges the
  same rows, though they are cached by then. A row that needs calls and that the first
  run did not see (the logs changed) is judged with its stratum's p_h on its own draw.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from monitor.sampling import DailySample
from monitor.types import SampledQuery

__all__ = [
    "ANY_STRATUM",
    "BudgetDecision",
    "apply_decision",
    "budget_probability",
    "decide",
    "reweighted",
    "row_draw",
    "row_key",
    "within_budget",
]

_BISECTIONS = 50


#: The stratum of a costly row a decision stored before decisions were per stratum: one
#: stratum for them all, judged with the decision's overall p.
ANY_STRATUM = "*"


@dataclass(frozen=True, slots=True)
class BudgetDecision:
    """The day's ceiling at work: of the rows that needed calls when the day was first
    run (``costly``, by ``row_key``), ``judged[h]`` of stratum h's were judged (a simple
    random sample within each stratum, ``strata`` naming each costly row's); ``p`` the
    overall share judged, None when every call fitted. Given ``p`` alone, every costly
    row is of one stratum, a share ``p`` of them judged."""

    p: float | None
    costly: frozenset[str]
    strata: Mapping[str, str] = field(default_factory=dict)
    judged: Mapping[str, int] = field(default_factory=dict)
    _sizes: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.p is not None and not self.strata:  # one p for every costly row
            object.__setattr__(self, "strata", dict.fromkeys(self.costly, ANY_STRATUM))
            object.__setattr__(self, "judged", {ANY_STRATUM: round(self.p * len(self.costly))})
        object.__setattr__(self, "_sizes", dict(Counter(self.strata.values())))

    def p_of(self, stratum: str) -> float:
        """The probability a costly row of ``stratum`` was judged with (one the decision
        did not see, of a stratum new on a rerun, takes the overall p)."""
        if self.p is None:
            return 1.0
        n, total = self.judged.get(stratum), self._sizes.get(stratum)
        return n / total if n is not None and total else self.p

    def chosen(self, seed: int, day: dt.date) -> frozenset[str]:
        """The costly rows judged: in each stratum, its ``judged`` with the smallest draws."""
        if self.p is None:
            return self.costly
        by_stratum: dict[str, list[str]] = defaultdict(list)
        for key in sorted(self.costly):
            by_stratum[self.strata.get(key, ANY_STRATUM)].append(key)
        chosen: set[str] = set()
        for stratum, keys in by_stratum.items():
            keys.sort(key=lambda k: row_draw(seed, day, k))
            chosen.update(keys[: self.judged.get(stratum, 0)])
        return frozenset(chosen)


def decide(
    calls: Sequence[Collection[str]],
    keys: Sequence[str],
    ceiling: int,
    strata: Sequence[str] | None = None,
    *,
    floor: int = 0,
) -> BudgetDecision:
    """The first run's decision for rows ``keys`` needing ``calls``, of ``strata`` (one
    stratum if None).

    Each stratum's costly rows are judged in the share q whose expected calls meet the
    ceiling (n_h = round(q × N_h), so p_h = n_h / N_h exactly), at least one of them
    (a stratum left without any would drop its traffic from every estimate), and as
    many as keep ``floor`` rows of the stratum judged with its free ones
    (``min_per_stratum``): those floors can take the day past its ceiling, as the panel
    can.
    """
    strata = list(strata) if strata is not None else [ANY_STRATUM] * len(keys)
    costly = frozenset(k for k, c in zip(keys, calls, strict=True) if c)
    of = {k: h for k, h in zip(keys, strata, strict=True) if k in costly}
    q = budget_probability(calls, ceiling)
    if q is None or not costly:
        return BudgetDecision(p=None, costly=costly, strata=of)
    free = Counter(h for k, h in zip(keys, strata, strict=True) if k not in costly)
    judged = {}
    for stratum, size in Counter(of.values()).items():
        wanted = max(1, round(q * size), min(floor, free[stratum] + size) - free[stratum])
        judged[stratum] = min(size, wanted)
    return BudgetDecision(
        p=sum(judged.values()) / len(costly), costly=costly, strata=of, judged=judged
    )


def row_key(sq: SampledQuery) -> str:
    """A sampled list's identity within its day: ranker, query, list number, results."""
    r = sq.record
    ids = "\x1f".join(x.id for x in r.results)
    blob = "|".join((r.ranker, r.normalized_query, str(sq.list_no), ids))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def row_draw(seed: int, day: dt.date, key: str) -> float:
    """The row's uniform draw in [0, 1): the same seed, day and row give the same one."""
    digest = hashlib.sha256(f"{seed}|{day.isoformat()}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def budget_probability(calls: Sequence[Collection[str]], ceiling: int) -> float | None:
    """The p whose expected paid calls are ``ceiling``, ``calls[i]`` being the cache keys
    row i would pay for; None when all of them fit."""
    needed = Counter(key for row in calls for key in set(row))
    if len(needed) <= ceiling:
        return None
    low, high = 0.0, 1.0
    for _ in range(_BISECTIONS):
        mid = (low + high) / 2
        expected = sum(1.0 - (1.0 - mid) ** m for m in needed.values())
        low, high = (mid, high) if expected <= ceiling else (low, mid)
    return low


def within_budget(
    queries: Sequence[SampledQuery],
    decision: BudgetDecision,
    *,
    seed: int,
    day: dt.date,
    later: Collection[str] = frozenset(),
    exempt: Collection[str] = frozenset(),
    keys: Sequence[str] | None = None,
) -> list[int]:
    """Indexes of the rows judged under ``decision``: the free ones, the ``exempt`` ones
    (the panel's, whatever the decision says of them: a rerun can move a row into the
    panel), the chosen costly ones, and of ``later`` (rows needing calls that the
    decision did not see) those whose draw is below p. ``keys``: the rows' ``row_key``
    if the caller has them."""
    if decision.p is None:
        return list(range(len(queries)))
    chosen = decision.chosen(seed, day)
    keep = []
    for i, key in enumerate(keys if keys is not None else [row_key(sq) for sq in queries]):
        if key in exempt:
            keep.append(i)
        elif key in decision.costly:
            if key in chosen:
                keep.append(i)
        elif key not in later or row_draw(seed, day, key) < decision.p_of(queries[i].stratum):
            keep.append(i)
    return keep


def reweighted(sq: SampledQuery, p: float) -> SampledQuery:
    """``sq`` judged with probability ``p`` stands for 1/p rows like it."""
    return replace(sq, inclusion_probability=sq.inclusion_probability * p)


def apply_decision(
    sample: DailySample,
    decision: BudgetDecision,
    later: Collection[str] = frozenset(),
    exempt: Collection[str] = frozenset(),
    keys: Sequence[str] | None = None,
) -> DailySample:
    """The day's sample as judged under ``decision``: the rows kept, reweighted (an
    ``exempt`` row never is). ``keys``: the rows' ``row_key`` if the caller has them."""
    if decision.p is None:
        return sample
    subject = (decision.costly | frozenset(later)) - frozenset(exempt)
    keys = keys if keys is not None else [row_key(sq) for sq in sample.queries]
    kept = within_budget(
        sample.queries,
        decision,
        seed=sample.seed,
        day=sample.day,
        later=later,
        exempt=exempt,
        keys=keys,
    )
    return replace(
        sample,
        queries=[
            reweighted(sq, decision.p_of(decision.strata.get(keys[i], sq.stratum)))
            if keys[i] in subject
            else sq
            for i, sq in ((i, sample.queries[i]) for i in kept)
        ],
        searches=[sample.searches[i] for i in kept],
        query_probabilities=[sample.query_probabilities[i] for i in kept],
    )
