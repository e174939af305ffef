"""The compare flow: a clearly worse ranker loses, with a CI that excludes 50%."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from flows.compare import compare
from monitor.errors import ConfigError
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.run_lease import DayBusyError, DayLease
from monitor.store.runs import run_states
from monitor.testing import FakeOpenAI

DAY = dt.date(2026, 10, 5)


@pytest.fixture
def compare_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, fake_llm: FakeOpenAI
) -> None:
    config = tmp_path / "judge-monitor.toml"
    config.write_text(
        f"""
[[judges]]
name = "gpt"
kind = "llm"
model = "fake-model"
base_url = "{fake_llm.base_url}"
api_key_env = "FAKE_OPENAI_KEY"
max_retries = 0

[source]
kind = "demo"
[source.options]
seed = 5
searches_per_day = 400
items = 600
queries_per_locale = 300

[rankers.random_en]
kind = "demo"
[rankers.random_en.options]
seed = 5
searches_per_day = 400
items = 600
queries_per_locale = 300
[rankers.random_en.options.scenario]
broken_segment = "locale=en"

[sampling]
size = 40
min_per_stratum = 3
top_k = 5
"""
    )
    monkeypatch.setenv("JUDGE_MONITOR_CONFIG", str(config))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("FAKE_OPENAI_KEY", "sk-test-not-a-secret")


def test_clearly_better_ranker_wins_and_rerun_pays_nothing(
    compare_env: None, database_url: str, fake_llm: FakeOpenAI
) -> None:
    """Production beats a ranker that serves random items to English users."""
    result = compare(a="production", b="random_en", day=DAY)
    assert result.pairwise_source == "llm"
    assert result.queries > 20 and result.missing_in_b == 0
    assert result.win_rate.ci_low is not None and result.win_rate.ci_low > 0.5
    assert result.ndcg_diff.value is not None and result.ndcg_diff.value > 0
    assert result.wins > result.losses
    pairwise_calls = [r for r in fake_llm.chat_requests() if "result_a" in str(r.body)]
    assert len(pairwise_calls) == 2 * result.queries, "each pair is asked in both orders"

    calls = fake_llm.total
    again = compare(a="production", b="random_en", day=DAY)
    assert fake_llm.total == calls, "a rerun reuses stored verdicts and pairwise judgments"
    assert again.win_rate.value == result.win_rate.value
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM pairwise_judgments")).scalar_one()
            production = conn.execute(
                text("SELECT count(*) FROM samples WHERE ranker NOT LIKE 'compare:%'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert rows == result.queries
    assert production == 0, "compare rankings never mix with production's daily sample"


def test_unknown_ranker_is_named(compare_env: None) -> None:
    """A ranker that is not configured is refused with the list of known ones."""
    with pytest.raises(ConfigError, match="random_en"):
        compare(a="production", b="nope", day=DAY)


def test_a_second_comparison_of_the_day_is_refused_naming_the_pair_that_holds_it(
    compare_env: None, database: Database
) -> None:
    """Two comparisons of one day that share a ranker would replace each other's rows:
    while one holds the day, another is refused with one line naming the held pair,
    and writes nothing; the day free again, it runs."""
    with DayLease(database, flow="compare", day=DAY, lease_s=60) as holder:
        with database.engine.begin() as conn:
            run_id = repo.start_run(
                conn, flow="compare", run_date=DAY, config_hash="x", run_key="production~b"
            )
        holder.claim(run_id)
        with pytest.raises(DayBusyError) as refused:
            compare(a="production", b="random_en", day=DAY)
        message = str(refused.value)
        assert message.startswith(
            f"day {DAY.isoformat()} is being judged by run #{run_id} of compare production~b (pid "
        )
        assert "\n" not in message
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM samples")).scalar() == 0
            assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1
            # `db status` names the pair of a compare run
            assert [r.flow for r in run_states(conn)[1]] == ["compare production~b"]
    # the holder gone (it died: its row still says running), the day is free again; the
    # dead pair's row is left to that pair's next comparison (its heartbeat goes stale)
    assert compare(a="production", b="random_en", day=DAY).queries > 0
    with database.engine.connect() as conn:
        states = dict(
            conn.execute(text("SELECT run_key, status FROM runs WHERE flow = 'compare'")).all()
        )
    assert states == {"production~b": "running", "production~random_en": "completed"}
