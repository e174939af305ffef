"""`judge-monitor db prune` as a user runs it: a real process, real PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import create_engine, text
from test_cli_db import run_cli

from monitor.store import repository as repo
from monitor.types import Result, SampledQuery, SearchRecord, Verdict, VerdictStatus


def _seed(url: str, days: list[dt.date]) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            judge = repo.ensure_judge(
                conn,
                name="j",
                kind="llm",
                model="m",
                prompt_version="p",
                config_hash="h",
                params={},
            )
            for day in days:
                stamp = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
                query = SampledQuery(
                    record=SearchRecord(
                        query_id="q",
                        query="q",
                        timestamp=stamp,
                        results=(Result(id="r", position=1, text="t"),),
                    ),
                    stratum="all",
                    inclusion_probability=1.0,
                )
                (sample_id,) = repo.upsert_samples(conn, day=day, queries=[query], top_k=1).values()
                verdict = Verdict(
                    judge="j", cache_key=f"{day}".ljust(64, "0"), status=VerdictStatus.OK, grade=1
                )
                repo.write_verdicts(
                    conn, verdicts=[repo.StoredVerdict(sample_id, judge, "r", 1, verdict)]
                )
    finally:
        engine.dispose()


def _verdicts(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM verdicts")).scalar_one())
    finally:
        engine.dispose()


def test_prune_dry_run_then_drop(database_url: str) -> None:
    """--dry-run lists the whole months before the cutoff and drops nothing; the real
    run drops them and says how many rows went; the straddled month is kept."""
    _seed(database_url, [dt.date(2025, 1, 10), dt.date(2025, 1, 11), dt.date(2025, 2, 20)])
    env = {"DATABASE_URL": database_url}
    dry = run_cli("db", "prune", "--older-than", "2025-02-10", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "would drop 1 month(s): 5 partitions, 4 rows" in dry.stdout
    assert "verdicts_y2025m01" in dry.stdout
    assert "kept verdicts_y2025m02" in dry.stdout
    assert _verdicts(database_url) == 3
    done = run_cli("db", "prune", "--older-than", "2025-02-10", env=env)
    assert done.returncode == 0, done.stderr
    assert "dropped 1 month(s): 5 partitions, 4 rows" in done.stdout
    assert _verdicts(database_url) == 1


def test_prune_uses_retention_days_or_asks_for_a_cutoff(database_url: str) -> None:
    """Without --older-than, prune takes retention_days; with neither it exits 1 with one
    line saying what to give."""
    _seed(database_url, [dt.date(2020, 3, 1)])
    env = {"DATABASE_URL": database_url}
    missing = run_cli("db", "prune", env=env)
    assert missing.returncode == 1
    assert "give --older-than DAYS|DATE, or set retention_days" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = run_cli("db", "prune", "--older-than", "soon", env=env)
    assert bad.returncode == 1 and "--older-than 'soon'" in bad.stderr
    kept = run_cli("db", "prune", env={**env, "JUDGE_MONITOR_RETENTION_DAYS": "365"})
    assert kept.returncode == 0, kept.stderr
    # March 2020 and the April created ahead of it: a sample and its verdict
    assert "dropped 2 month(s): 10 partitions, 2 rows" in kept.stdout
    assert _verdicts(database_url) == 0
