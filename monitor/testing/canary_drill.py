"""A drill for the judge canary: an endpoint that silently swaps its model, day after day.

``SwappableModel`` is a policy for ``FakeOpenAI``: before the swap it grades like the fake's
default (word overlap), with a little day-to-day sampling noise as a real LLM at
temperature 0 has; after ``swap()`` a different model answers under the same name — it
grades a share of the items differently, the same way every day. ``run_drill`` runs the
real canary (``monitor.pipeline.canary``: an LLM judge through the ``openai`` client, no
cache) for a number of days against it, stores each day's canary figures, and reads back
with ``monitor.export.alerts.firing_alerts`` — the rules YAML — whether
``JudgeMonitorJudgeChanged`` fired. ``bench/judge_canary.py`` and the canary test use it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from typing import Any

from monitor.config import JudgeConfig, Settings
from monitor.export.alerts import firing_alerts
from monitor.judges.factory import build_ensemble, close_judges
from monitor.pipeline.canary import canary_rows, judge_canary
from monitor.pipeline.steps import StoredSample
from monitor.store.db import Database
from monitor.store.repository import upsert_daily_metrics
from monitor.testing.fake_openai import Reply, default_policy, prompt_fields
from monitor.types import Result

__all__ = ["ALERT", "DrillDay", "SwappableModel", "anchor_samples", "run_drill"]

ALERT = "JudgeMonitorJudgeChanged"
_KEY_ENV = "JUDGE_MONITOR_DRILL_KEY"
_GENRES = ("jazz", "rock", "ambient", "classical", "hip hop", "folk", "techno", "blues")
_MOODS = ("calm", "upbeat", "dark", "happy", "sleepy", "angry")
_USES = ("study", "running", "dinner", "party", "focus", "commute")


def _coin(*parts: object) -> float:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class SwappableModel:
    """A fake endpoint's policy: one model, until ``swap()`` puts another behind the name.

    ``noise``: the share of answers that move by one grade on a given day (sampling
    noise, different each day); ``changed``: the share of items the swapped-in model
    grades differently (the same items every day).
    """

    noise: float = 0.04
    changed: float = 0.5
    seed: int = 0
    day: int = 0
    swapped: bool = False
    #: model names that get the other model's answers (a change the operator configured)
    other_models: tuple[str, ...] = ()
    calls: int = field(default=0, init=False)

    def swap(self) -> None:
        self.swapped = True

    def __call__(self, body: dict[str, Any]) -> Reply:
        self.calls += 1
        fields = prompt_fields(body)
        item = (fields.get("query", ""), fields.get("result", ""))
        base = default_policy(body).grade
        grade = 0 if base is None else base
        other = self.swapped or body.get("model") in self.other_models
        if other and _coin("model-b", *item) < self.changed:
            grade = grade + 1 if grade < 2 else grade - 2  # another model's view of it
        if _coin("noise", self.seed, self.day, *item) < self.noise:
            grade = grade + 1 if grade < 3 else grade - 1
        return Reply.grade_answer(grade, reasoning="drill")


def anchor_samples(n_queries: int = 16, per_query: int = 4) -> list[StoredSample]:
    """Synthetic sampled queries with results of every relevance, to choose anchors from."""
    samples = []
    for q in range(n_queries):
        genre, mood, use = _GENRES[q % 8], _MOODS[q % 6], _USES[(q // 2) % 6]
        query = f"{mood} {genre} for {use}"
        texts = [
            f"{mood} {genre} playlist for {use}",
            f"{genre} hits for {use}",
            f"{mood} songs",
            f"{_GENRES[(q + 3) % 8]} classics",
        ]
        results = tuple(
            Result(f"pl-{q:02d}-{i}", position=i + 1, text=texts[i % len(texts)])
            for i in range(per_query)
        )
        samples.append(StoredSample(q + 1, query, query, {}, 1.0, results))
    return samples


@dataclass(frozen=True)
class DrillDay:
    day: dt.date
    changed_share: float | None
    fired: bool


def run_drill(
    database: Database,
    *,
    base_url: str,
    model: SwappableModel,
    days: int,
    swap_on: int | None = None,
    reconfigure_on: int | None = None,
    first: dt.date = dt.date(2025, 1, 1),
    canary_size: int = 60,
) -> list[DrillDay]:
    """``days`` days of the canary against ``model``: the endpoint swaps its model behind
    the name on day ``swap_on``, or the operator configures another model on day
    ``reconfigure_on`` (1-based; None: never)."""
    os.environ.setdefault(_KEY_ENV, "drill-key")
    judge = JudgeConfig(name="gpt", kind="llm", base_url=base_url, api_key_env=_KEY_ENV,
                        max_retries=1, timeout_s=10)  # fmt: skip
    samples = anchor_samples()
    out: list[DrillDay] = []
    for n in range(1, days + 1):
        day = first + dt.timedelta(days=n - 1)
        model.day = n
        if swap_on is not None and n == swap_on:
            model.swap()
        if reconfigure_on is not None and n == reconfigure_on:
            judge = judge.model_copy(update={"model": "gpt-4o"})
            model.other_models = ("gpt-4o",)
        settings = Settings(judges=[judge], canary_size=canary_size)
        asyncio.run(_canary_day(database, settings, samples, day))
        rows = canary_rows(database, day)
        with database.engine.begin() as conn:
            upsert_daily_metrics(
                conn,
                day=day,
                rows=[
                    (r.metric, r.segment, r.judge, r.k, r.value, r.ci_low, r.ci_high, r.n, r.reason)
                    for r in rows
                ],
            )
        with database.engine.connect() as conn:
            fired = any(f.alert == ALERT for f in firing_alerts(conn, day, baseline_days=14))
        share = next((r.value for r in rows if r.metric == "canary_changed_share"), None)
        out.append(DrillDay(day, share, fired))
    return out


async def _canary_day(
    database: Database, settings: Settings, samples: list[StoredSample], day: dt.date
) -> None:
    judges = build_ensemble(settings.judges)
    try:
        await judge_canary(database, settings, judges, samples, day)
    finally:
        await close_judges(judges)
