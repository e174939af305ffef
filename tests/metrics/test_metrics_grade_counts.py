"""The stored daily grade histograms are the baseline drift reads, and they change nothing.

Three demo days judged by two local judges on real PostgreSQL: each day stores one
``grade_count`` row per judge and grade, summing to that judge's valid verdicts; the
third day's grade drift against the stored histograms of the first two is exactly the
drift recounted from their verdicts (the histograms deleted, as for days computed before
they existed).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import text

from monitor.config import JudgeConfig, SamplingConfig, Settings, SourceConfig, load_settings
from monitor.pipeline.day import run_day
from monitor.pipeline.metrics_step import (
    _day_grades,
    _graded_queries,
    _grades_by_judge,
    _verdict_rows,
    compute_day_metrics,
)
from monitor.report.model import load_report
from monitor.store.db import Database

DAYS = [dt.date(2026, 4, 6), dt.date(2026, 4, 7), dt.date(2026, 4, 8)]


def _settings() -> Settings:
    return load_settings(
        judges=[
            JudgeConfig(name="lex", kind="lexical", api_key_env=None),
            JudgeConfig(name="lex2", kind="lexical", api_key_env=None, thresholds=[0.05, 0.2, 0.5]),
        ],
        source=SourceConfig(
            kind="demo",
            options={"seed": 5, "searches_per_day": 300, "items": 400, "queries_per_locale": 200},
        ),
        sampling=SamplingConfig(size=20, min_per_stratum=1, top_k=3),
        judge_processes=1,
        canary_size=0,
        baseline_days=2,
    )


def _drift(database: Database, day: dt.date) -> dict[tuple[str, str], float | None]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT metric, judge, value FROM daily_metrics WHERE metric_date = :d "
                "AND metric IN ('grade_psi', 'grade_chi2_pvalue')"
            ),
            {"d": day},
        ).all()
    return {(r.metric, r.judge): r.value for r in rows}


def test_stored_histograms_give_the_same_drift_as_recounting(database: Database) -> None:
    settings = _settings()
    for day in DAYS:
        assert run_day(database, settings, day).status == "completed"
    with database.engine.connect() as conn:
        counted = dict(
            conn.execute(
                text(
                    "SELECT j.name, count(*) FROM verdicts v JOIN judges j ON j.id = v.judge_id "
                    "WHERE v.sample_date = :d AND v.status = 'ok' GROUP BY j.name"
                ),
                {"d": DAYS[0]},
            ).all()
        )
        stored = dict(
            conn.execute(
                text(
                    "SELECT judge, sum(value) FROM daily_metrics WHERE metric = 'grade_count' "
                    "AND metric_date = :d GROUP BY judge"
                ),
                {"d": DAYS[0]},
            ).all()
        )
        per_judge = conn.execute(
            text(
                "SELECT count(*) FROM daily_metrics WHERE metric = 'grade_count' "
                "AND metric_date = :d AND judge = 'lex'"
            ),
            {"d": DAYS[0]},
        ).scalar_one()
    assert per_judge == 4  # one row per grade 0..3
    assert {name: stored[name] for name in counted} == pytest.approx(counted)
    assert stored["ensemble"] > 0
    from_histograms = _drift(database, DAYS[2])
    assert from_histograms and all(v is not None for v in from_histograms.values())

    with database.engine.begin() as conn:
        conn.execute(
            text("DELETE FROM daily_metrics WHERE metric = 'grade_count' AND metric_date < :d"),
            {"d": DAYS[2]},
        )
    compute_day_metrics(database, DAYS[2], settings)
    assert _drift(database, DAYS[2]) == pytest.approx(from_histograms)


def test_the_report_leaves_the_histograms_out(database: Database) -> None:
    """The histograms are stored and exported, but the report's tables do not list them
    (sixteen lines of counts would bury the drift figures they feed)."""
    settings = _settings()
    for day in DAYS[:2]:
        assert run_day(database, settings, day).status == "completed"
    with database.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*) FROM daily_metrics WHERE metric = 'grade_count'")
        ).scalar_one()
    report = load_report(database, day=DAYS[1], baseline_days=2)
    assert stored > 0
    metrics = {ln.current.metric for ln in report.lines}
    assert "grade_psi" in metrics and "grade_count" not in metrics


# --- a result two lists of one query showed, graded apart --------------------------------

SHARED_DAY = dt.date(2026, 3, 2)


def _two_lists(database: Database, verdicts: list[tuple], ensemble: list[tuple]) -> None:
    """Query "q" served two lists (samples 1 and 2) that both show result "r1", and a
    compare:* ranking (sample 3, never counted); ``verdicts`` are (sample, judge id,
    status, grade), ``ensemble`` (sample, grade)."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO judges (id, name, kind, model, prompt_version, config_hash, params) "
                "VALUES (1, 'gpt', 'llm', 'm', 'v1', 'h1', '{}'), "
                "(2, 'other', 'llm', 'm', 'v1', 'h2', '{}')"
            )
        )
        for sample_id, list_no, ranker in [
            (1, 0, "production"),
            (2, 1, "production"),
            (3, 0, "compare:x"),
        ]:
            conn.execute(
                text(
                    "INSERT INTO samples (id, sample_date, ranker, query_id, query_text, "
                    "query_norm, list_no, searched_at, stratum, segment, inclusion_prob, weight, "
                    "hard, results, signals) VALUES (:i, :d, :r, 'q', 'q', 'q', :l, now(), "
                    "'panel', '{}', 1, 1, false, CAST(:res AS jsonb), '{}')"
                ),
                {
                    "i": sample_id,
                    "d": SHARED_DAY,
                    "l": list_no,
                    "r": ranker,
                    "res": json.dumps([{"id": "r1", "title": "t", "text": "x"}]),
                },
            )
        for sample_id, judge_id, status, grade in verdicts:
            conn.execute(
                text(
                    "INSERT INTO verdicts (sample_date, sample_id, judge_id, result_id, position, "
                    "mode, status, grade, cache_key, reasoning, raw, input_tokens, output_tokens, "
                    "latency_ms, cost_usd, truncated, cache_hit) VALUES (:d, :s, :j, 'r1', 0, "
                    "'pointwise', :st, :g, 'k', '', '', 0, 0, 0, 0, false, false)"
                ),
                {"d": SHARED_DAY, "s": sample_id, "j": judge_id, "st": status, "g": grade},
            )
        for sample_id, grade in ensemble:
            conn.execute(
                text(
                    "INSERT INTO ensemble_grades (sample_date, sample_id, result_id, position, "
                    "grade, disagreement, n_judges, method) VALUES (:d, :s, 'r1', 0, :g, 0, 1, "
                    "'mean')"
                ),
                {"d": SHARED_DAY, "s": sample_id, "g": grade},
            )


@pytest.mark.parametrize(
    ("verdicts", "ensemble", "expected"),
    [
        # the two lists asked apart ("Foo" and "foo" are two cache keys): 2 and 3
        (
            [(1, 1, "ok", 2), (2, 1, "ok", 3), (3, 1, "ok", 0)],
            [(1, 2.0), (2, 3.0), (3, 0.0)],
            {"gpt": [2.0], "ensemble": [2.0]},
        ),
        # one judge invalid in the first list: its valid grade is the second list's, and
        # the ensemble, graded by fewer judges there, is the first list's
        (
            [(1, 1, "ok", 2), (2, 1, "ok", 2), (1, 2, "invalid", None), (2, 2, "ok", 0)],
            [(1, 2.0), (2, 1.0)],
            {"gpt": [2.0], "other": [0.0], "ensemble": [2.0]},
        ),
    ],
)
def test_a_result_two_lists_graded_apart_counts_once_alike_stored_and_recounted(
    database: Database, verdicts: list[tuple], ensemble: list[tuple], expected: dict
) -> None:
    """The day's own count (the stored histogram) and the window's recount (a baseline
    day without one) take the same one grade: the lowest-id list's valid one."""
    _two_lists(database, verdicts, ensemble)
    with database.engine.connect() as conn:
        day = _day_grades(_verdict_rows(conn, SHARED_DAY), _graded_queries(conn, SHARED_DAY))
        recounted = _grades_by_judge(conn, SHARED_DAY, SHARED_DAY)
    assert day == recounted == expected
