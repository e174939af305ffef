"""The paid-call ceiling over a day's sample (``sampling.paid_calls_per_day``).

Counts the calls each sampled list would pay (its cache keys, per judge, that the cache
cannot answer), lets ``monitor.sampling_budget`` decide which lists are judged, and keeps
the decision beside the day's design (``day_designs``): a rerun judges the same lists with
the same weights, though the lists the first run judged are cached by then.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from monitor.config import Settings
from monitor.judges.base import Judge, item_key, key_prefix
from monitor.sampling import DailySample
from monitor.sampling_budget import BudgetDecision, apply_decision, decide, row_key
from monitor.store import day_designs
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import JudgeItem, SampledQuery

__all__ = ["apply_budget", "uncached_calls"]

log = logging.getLogger(__name__)

_LOOKUP_CHUNK = 5_000


def _items(sq: SampledQuery, top_k: int) -> list[JudgeItem]:
    """What the judges will be asked about the row, as it is stored (its top ``top_k``, a
    result shown twice judged once: ``steps.load_samples``)."""
    seen: set[str] = set()
    items = []
    for result in sq.record.results[:top_k]:
        if result.id not in seen:
            seen.add(result.id)
            items.append(JudgeItem(query=sq.record.query, result=result))
    return items


def uncached_calls(
    database: Database, queries: Sequence[SampledQuery], judges: Sequence[Judge], top_k: int
) -> list[set[str]]:
    """Per row, the cache keys (one per judge and result) the cache cannot answer."""
    prefixes = [key_prefix(j.config, j.prompt_version, j.mode) for j in judges]
    keys = [{item_key(p, item) for p in prefixes for item in _items(sq, top_k)} for sq in queries]
    every = sorted(set().union(*keys)) if keys else []
    cached: set[str] = set()
    with database.engine.connect() as conn:
        for start in range(0, len(every), _LOOKUP_CHUNK):
            cached |= repo.cached_keys(conn, keys=every[start : start + _LOOKUP_CHUNK])
    return [row - cached for row in keys]


def apply_budget(
    database: Database,
    settings: Settings,
    day: dt.date,
    sample: DailySample,
    judges: Sequence[Judge],
) -> tuple[DailySample, BudgetDecision | None]:
    """The day's sample as judged under the ceiling (unchanged without one), and the
    decision. The first run decides; a rerun takes that decision, and judges a row the
    first run did not see (the logs changed) with the same p on its own draw."""
    ceiling = settings.sampling.paid_calls_per_day
    if ceiling is None:
        return sample, None
    calls = uncached_calls(database, sample.queries, judges, settings.sampling.top_k)
    keys = [row_key(sq) for sq in sample.queries]
    with database.engine.connect() as conn:
        kept = day_designs.read_budget(conn, day=day)
    if kept is not None:  # a rerun: the first run's rows, and p for rows it did not see
        decision = BudgetDecision(p=kept[0], costly=kept[1])
        later = frozenset(k for k, c in zip(keys, calls, strict=True) if c) - decision.costly
        return apply_decision(sample, decision, later), decision
    decision = decide(calls, keys, ceiling)
    with database.engine.begin() as conn:
        day_designs.write_budget(conn, day=day, p=decision.p, rows=decision.costly)
    if decision.p is not None:
        log.info(
            "paid-call ceiling: the day's lists need %d calls, the ceiling is %d: %d of the "
            "%d lists that need calls are judged (p = %.3f) and weighted up",
            len(set().union(*calls)),
            ceiling,
            len(decision.chosen(sample.seed, day)),
            len(decision.costly),
            decision.p,
        )
    return apply_decision(sample, decision), decision
