"""The paid-call ceiling over a day's sample (``sampling.paid_calls_per_day``).

Counts the calls each sampled list would pay (per LLM judge, its results the cache cannot
answer; the local judges cost nothing, and an empty text is answered without a call),
lets ``monitor.sampling_budget`` decide which lists are judged, and keeps the decision
beside the day's design (``day_designs``): a rerun judges the same lists with the same
weights, though the lists the first run judged are cached by then.

The paired panel is never subsampled: its figure compares each query with its own past,
and dropping the queries whose lists changed (the costly ones) would read a regression
as no change. Its calls count against the ceiling first; the fresh sample gives way. A
day sent for annotation keeps its stored sample whole (``reset_production_day``), so the
ceiling does not apply to it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

from monitor.config import Settings
from monitor.judges.base import Judge, item_key, key_prefix
from monitor.judges.prompts import clean_text
from monitor.metrics.daily import ALL, ENSEMBLE, MetricRow
from monitor.sampling import DailySample
from monitor.sampling_budget import BudgetDecision, apply_decision, decide, row_key
from monitor.sampling_panel import PANEL_STRATUM
from monitor.store import day_designs, label_reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import JudgeItem, SampledQuery

__all__ = ["apply_budget", "ceiling_rows", "uncached_calls"]

log = logging.getLogger(__name__)


def _items(sq: SampledQuery, top_k: int) -> list[JudgeItem]:
    """What the judges will be asked about the row, as it is stored (its top ``top_k``, a
    result shown twice judged once: ``steps.load_samples``), less what needs no call (an
    empty query or result text is answered ``invalid`` without one: ``LLMJudge``)."""
    seen: set[str] = set()
    items = []
    for result in sq.record.results[:top_k]:
        if result.id not in seen:
            seen.add(result.id)
            if clean_text(sq.record.query).strip() and clean_text(result.content).strip():
                items.append(JudgeItem(query=sq.record.query, result=result))
    return items


def uncached_calls(
    database: Database, queries: Sequence[SampledQuery], judges: Sequence[Judge], top_k: int
) -> list[set[str]]:
    """Per row, the cache keys (one per LLM judge and result) the cache cannot answer."""
    paid = [j for j in judges if j.config.kind == "llm"]
    prefixes = [key_prefix(j.config, j.prompt_version, j.mode) for j in paid]
    keys = [{item_key(p, item) for p in prefixes for item in _items(sq, top_k)} for sq in queries]
    with database.engine.connect() as conn:
        cached = repo.cached_keys(conn, keys=sorted(set().union(*keys)) if keys else [])
    return [row - cached for row in keys]


def ceiling_rows(database: Database, day: dt.date, settings: Settings) -> list[MetricRow]:
    """The day's ``ceiling_judged_share``: the share of the fresh lists needing calls its
    run judged (1 when they fitted), ``n`` those lists; none without a ceiling or a
    decision kept for the day."""
    if settings.sampling.paid_calls_per_day is None:
        return []
    with database.engine.connect() as conn:
        kept = day_designs.read_budget(conn, day=day)
    if kept is None:
        return []
    share = 1.0 if kept.p is None else kept.p
    return [
        MetricRow("ceiling_judged_share", ALL, ENSEMBLE, 0, share, None, None, len(kept.rows), None)
    ]


def _decision(stored: day_designs.StoredBudget | None) -> BudgetDecision | None:
    if stored is None:
        return None
    # kept before decisions were per stratum (``judged`` empty): one p for all its rows
    strata = stored.rows if stored.judged else {}
    return BudgetDecision(stored.p, frozenset(stored.rows), strata, stored.judged)


def _stored(decision: BudgetDecision) -> day_designs.StoredBudget:
    return day_designs.StoredBudget(decision.p, dict(decision.strata), dict(decision.judged))


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
    with database.engine.connect() as conn:
        kept = _decision(day_designs.read_budget(conn, day=day))
        if label_reads.sent_for_annotation(conn, day=day):
            log.info("%s was sent for annotation: its sample is kept whole", day.isoformat())
            # the stored rows are as its first run judged them: its decision, for the counts
            return sample, kept
    calls = uncached_calls(database, sample.queries, judges, settings.sampling.top_k)
    keys = [row_key(sq) for sq in sample.queries]
    panel = [sq.stratum == PANEL_STRATUM for sq in sample.queries]
    exempt = frozenset(k for k, in_panel in zip(keys, panel, strict=True) if in_panel)
    fresh_calls = [set() if in_panel else c for c, in_panel in zip(calls, panel, strict=True)]
    if kept is not None:  # a rerun: the first run's rows, and p for rows it did not see
        later = frozenset(k for k, c in zip(keys, fresh_calls, strict=True) if c)
        return apply_decision(sample, kept, later - kept.costly, exempt, keys), kept
    panel_calls = set().union(*(c for c, in_panel in zip(calls, panel, strict=True) if in_panel))
    decision = decide(
        fresh_calls,
        keys,
        max(ceiling - len(panel_calls), 0),
        [sq.stratum for sq in sample.queries],
        floor=settings.sampling.min_per_stratum,
    )
    with database.engine.begin() as conn:
        day_designs.write_budget(conn, day=day, budget=_stored(decision))
    if decision.p is not None:
        log.info(
            "paid-call ceiling: the day's lists need %d calls (the panel's %d), the ceiling "
            "is %d: %d of the %d fresh lists that need calls are judged (p = %.3f), "
            "weighted up",
            len(set().union(*calls)),
            len(panel_calls),
            ceiling,
            len(decision.chosen(sample.seed, day)),
            len(decision.costly),
            decision.p,
        )
    return apply_decision(sample, decision, exempt=exempt, keys=keys), decision
