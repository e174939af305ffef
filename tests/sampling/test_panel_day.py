"""A panel day on real PostgreSQL: unchanged panel results cost no LLM call, a rerun picks
the same panel, and the paired figure reads 0 for a ranking that did not change."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from panel_seed import day_pairs, fake_judge, write_day
from sqlalchemy import text

from monitor.config import SamplingConfig, Settings, SourceConfig
from monitor.metrics.quality import ndcg_at_k
from monitor.pipeline.day import run_day
from monitor.pipeline.panel_step import PANEL_METRIC, panel_rows
from monitor.sampling_panel import PANEL_STRATUM
from monitor.store.db import Database
from monitor.store.reads import daily_series
from monitor.testing import FakeOpenAI

DAY1 = dt.date(2025, 3, 1)
DAY2 = DAY1 + dt.timedelta(days=1)
DAY3 = DAY1 + dt.timedelta(days=2)
HEADS = 30


def _write_logs(folder: Path) -> None:
    """Each day: 30 head queries searched 5 times with the same results every day, and
    30 one-off queries of the day with results of their own. On DAY3 the even head
    queries' first result is replaced by an irrelevant one (a regression)."""
    for day in (DAY1, DAY2, DAY3):
        start = dt.datetime.combine(day, dt.time(2), tzinfo=dt.UTC)
        rows = []
        for i in range(HEADS):
            broken = day == DAY3 and i % 2 == 0
            for j in range(5):
                rows.append(
                    _row(f"head query {i}", f"{day}-h{i}-{j}", start, j, f"h{i}", broken=broken)
                )
        for i in range(30):
            rows.append(_row(f"tail query {day} {i}", f"{day}-t{i}", start, i, f"{day}t{i}"))
        write_day(folder, day, rows)


def _row(
    query: str, qid: str, start: dt.datetime, minute: int, doc: str, *, broken: bool = False
) -> dict[str, object]:
    results = [
        {"id": f"{doc}-{k}", "title": f"{query} {k}", "text": f"about {query} number {k}"}
        for k in range(3)
    ]
    if broken:  # the fake judge grades by word overlap: this one gets 0
        results[0] = {"id": f"{doc}-broken", "title": "lorem", "text": "ipsum dolor sit amet"}
    return {
        "query_id": qid,
        "query": query,
        "timestamp": (start + dt.timedelta(minutes=minute)).isoformat(),
        "segment": {"locale": "de" if len(query) % 2 else "en"},
        "results": results,
    }


def _settings(folder: Path, server: FakeOpenAI) -> Settings:
    return Settings(
        judges=[fake_judge(server)],
        source=SourceConfig(kind="files", path=str(folder)),
        sampling=SamplingConfig(
            size=20, strata=[], min_per_stratum=0, top_k=3, panel_share=0.5, seed=4
        ),
        ks=[10],
        baseline_days=3,
        canary_size=0,  # the canary's own calls are counted in its own tests
    )


def _day_samples(database: Database, day: dt.date) -> list[tuple[str, str, int]]:
    with database.engine.connect() as conn:
        return [
            (str(q), str(s), int(r))
            for q, s, r in conn.execute(
                text(
                    "SELECT query_norm, stratum, jsonb_array_length(results) FROM samples "
                    "WHERE sample_date = :d ORDER BY query_norm"
                ),
                {"d": day},
            )
        ]


def test_panel_day_pays_only_for_changed_results_and_reruns_the_same_panel(
    database: Database, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    _write_logs(tmp_path)
    settings = _settings(tmp_path, fake_llm)

    run_day(database, settings, DAY1)
    day1 = _day_samples(database, DAY1)
    assert all(stratum != PANEL_STRATUM for _, stratum, _ in day1)  # no history yet
    judged_day1 = {q for q, _, _ in day1}
    paid_day1 = fake_llm.paid_calls
    assert paid_day1 == sum(n for _, _, n in day1) > 0

    outcome = run_day(database, settings, DAY2)
    day2 = _day_samples(database, DAY2)
    panel = {q for q, stratum, _ in day2 if stratum == PANEL_STRATUM}
    assert len(panel) == 10 and panel <= judged_day1
    # only results of queries not judged yesterday are paid: the panel's cost nothing
    new_results = sum(n for q, _, n in day2 if q not in judged_day1)
    paid_day2 = fake_llm.paid_calls - paid_day1
    assert paid_day2 == new_results == outcome.counts["judged"]
    assert outcome.counts["cached"] >= 3 * len(panel)
    assert len(day2) == 20

    rows = panel_rows(database, DAY2, settings)
    assert [(r.metric, r.k, r.n) for r in rows] == [(PANEL_METRIC, 10, 10)]
    assert rows[0].value == 0.0 and rows[0].ci_low == 0.0 and rows[0].ci_high == 0.0

    again = run_day(database, settings, DAY2)
    assert _day_samples(database, DAY2) == day2  # the same panel, no duplicates
    assert fake_llm.paid_calls == paid_day1 + paid_day2 and again.counts["judged"] == 0


def test_panel_rows_without_history_say_why(
    database: Database, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    _write_logs(tmp_path)
    settings = _settings(tmp_path, fake_llm)
    run_day(database, settings, DAY1)
    rows = panel_rows(database, DAY1, settings)
    assert len(rows) == 1 and rows[0].value is None
    assert rows[0].reason is not None and "panel queries" in rows[0].reason
    off = settings.model_copy(update={"sampling": SamplingConfig(size=20)})
    assert panel_rows(database, DAY1, off) == []


def test_a_regressed_panel_day_pays_for_the_changed_results_only_and_reads_the_drop(
    database: Database, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    _write_logs(tmp_path)
    settings = _settings(tmp_path, fake_llm)
    run_day(database, settings, DAY1)
    run_day(database, settings, DAY2)
    before = fake_llm.paid_calls
    seen = set(day_pairs(database, DAY1)) | set(day_pairs(database, DAY2))

    outcome = run_day(database, settings, DAY3)
    today = day_pairs(database, DAY3)
    new = {pair for pair in today if pair not in seen}
    assert fake_llm.paid_calls - before == len(new) == outcome.counts["judged"]
    panel = {q for (q, _), stratum in today.items() if stratum == PANEL_STRATUM}
    changed = {q for q in panel if int(q.rsplit(" ", 1)[1]) % 2 == 0}
    assert len(panel) == 10 and changed
    # of the panel, only the replaced first results were paid for
    assert {(q, r) for (q, r) in new if q in panel} == {
        (q, f"h{q.rsplit(' ', 1)[1]}-broken") for q in changed
    }

    (row,) = panel_rows(database, DAY3, settings)
    # a changed query reads [0, 3, 3] against its pooled ideal [3, 3, 3], its past 1.0
    drop = 1.0 - ndcg_at_k([0.0, 3.0, 3.0], 10, ideal=[3.0, 3.0, 3.0])
    assert row.n == 10
    assert row.value == pytest.approx(-drop * len(changed) / len(panel))
    assert row.ci_high is not None and row.ci_low is not None
    assert row.ci_low < row.value < row.ci_high


def test_switching_the_panel_on_does_not_move_the_query_mix(
    database: Database, fake_llm: FakeOpenAI, tmp_path: Path
) -> None:
    """Panel samples count in their own locale's share, not in a stratum "panel": the
    same traffic reads no mix drift on the day the panel starts (day 1 has none yet)."""
    _write_logs(tmp_path)
    base = _settings(tmp_path, fake_llm)
    settings = base.model_copy(
        update={"sampling": base.sampling.model_copy(update={"strata": ["locale"]})}
    )
    run_day(database, settings, DAY1)
    run_day(database, settings, DAY2)
    assert any(s == PANEL_STRATUM for _, s, _ in _day_samples(database, DAY2))
    with database.engine.connect() as conn:
        (point,) = daily_series(
            conn, metric="query_mix_psi", segment="all", judge="ensemble", last=DAY2, first=DAY2
        )
    # the same traffic both days: the panel moves queries between strata, not the mix
    assert point.value is not None and point.value < 0.01
