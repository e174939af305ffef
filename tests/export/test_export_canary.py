"""The judge canary over a real Postgres and a fake endpoint that swaps its model.

``monitor.testing.canary_drill`` runs the real canary (an LLM judge through the openai
client, no verdict cache) day after day; ``JudgeMonitorJudgeChanged`` is read back with
the rules YAML. The unchanged endpoint has a real LLM's day-to-day noise (4% of answers
move by a grade).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from monitor.pipeline.canary import choose_anchors
from monitor.store.db import Database
from monitor.testing.canary_drill import SwappableModel, anchor_samples, run_drill
from monitor.testing.fake_openai import FakeOpenAI


@pytest.fixture
def model() -> SwappableModel:
    return SwappableModel(noise=0.04, changed=0.5)


@pytest.fixture
def endpoint(model: SwappableModel) -> Iterator[FakeOpenAI]:
    with FakeOpenAI(policy=model) as server:
        yield server


def test_sixty_unchanged_days_raise_nothing(
    database: Database, endpoint: FakeOpenAI, model: SwappableModel
) -> None:
    """Sixty days of the same model, noise included: the canary never fires."""
    days = run_drill(database, base_url=endpoint.base_url, model=model, days=60)
    assert not [d.day for d in days if d.fired]
    shares = [d.changed_share for d in days]
    assert all(s is not None and s < 0.2 for s in shares)
    assert any(s for s in shares), "the noise is there: some days differ a little"
    assert model.calls == 60 * 60, "every anchor asked every day: no cache"


def test_a_silent_model_swap_trips_it_the_same_day(
    database: Database, endpoint: FakeOpenAI, model: SwappableModel
) -> None:
    """The endpoint swaps its model on day 12: JudgeChanged fires that day and after."""
    days = run_drill(database, base_url=endpoint.base_url, model=model, days=16, swap_on=12)
    fired = [n for n, d in enumerate(days, start=1) if d.fired]
    assert fired == [12, 13, 14, 15, 16]
    with database.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM canary_grades WHERE canary_date = :d"),
            {"d": days[0].day},
        ).scalar_one()
        cached = conn.execute(text("SELECT count(*) FROM verdict_cache")).scalar_one()
    assert stored == 60
    assert cached == 0, "the canary never goes through the verdict cache"


def test_a_configured_model_change_starts_a_new_reference(
    database: Database, endpoint: FakeOpenAI, model: SwappableModel
) -> None:
    """Changing the judge's model in the config is a new judge: no JudgeChanged."""
    days = run_drill(database, base_url=endpoint.base_url, model=model, days=14, reconfigure_on=8)
    assert not any(d.fired for d in days)
    with database.engine.connect() as conn:
        configs = conn.execute(
            text("SELECT count(DISTINCT judge_id) FROM canary_grades")
        ).scalar_one()
    assert configs == 2


def test_anchors_span_the_result_list() -> None:
    """Anchors take every query's first result, then every second, up to the size."""
    samples = anchor_samples(n_queries=5, per_query=4)
    anchors = choose_anchors(samples, 7)
    assert [a.result_id for a in anchors[:5]] == [s.results[0].id for s in samples]
    assert [a.result_id for a in anchors[5:]] == [s.results[1].id for s in samples[:2]]
    assert len({a.anchor for a in anchors}) == 7
    assert choose_anchors([], 5) == []
