"""Writes are idempotent and bulk writes round-trip exactly, on real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from sqlalchemy import text

from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import Result, SampledQuery, SearchRecord, Verdict, VerdictStatus

DAY = dt.date(2026, 11, 1)


def _queries(n: int) -> list[SampledQuery]:
    stamp = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    return [
        SampledQuery(
            record=SearchRecord(
                query_id=f"q{i}",
                query=f"Query number {i}",
                timestamp=stamp,
                results=tuple(
                    Result(id=f"doc{i}-{p}", position=p, title=f"t{p}", text="ümlaut ✓ text")
                    for p in range(1, 4)
                ),
                segment={"locale": "de" if i % 2 else "en"},
                clicks=i % 3,
            ),
            stratum="locale=de" if i % 2 else "locale=en",
            inclusion_probability=0.25,
        )
        for i in range(n)
    ]


def _judge(db: Database) -> int:
    with db.engine.begin() as conn:
        return repo.ensure_judge(
            conn,
            name="j1",
            kind="llm",
            model="m",
            prompt_version="p1",
            config_hash="c1",
            params={"temperature": 0},
        )


def _count(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_samples_written_twice_are_stored_once(database: Database) -> None:
    """Upserting the same day's sample twice keeps one row per query and the same ids."""
    queries = _queries(20)
    with database.engine.begin() as conn:
        first = repo.upsert_samples(conn, day=DAY, queries=queries, top_k=10)
    with database.engine.begin() as conn:
        second = repo.upsert_samples(conn, day=DAY, queries=queries, top_k=10)
    assert first == second
    assert len(first) == 20
    assert _count(database, "samples") == 20
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT results, weight, segment FROM samples LIMIT 1")).one()
    assert row.results[0]["text"] == "ümlaut ✓ text"
    assert row.weight == 4.0


def test_replacing_stale_samples_touches_only_the_same_sample(database: Database) -> None:
    """A production rerun replaces production's changed rows and leaves the compare flow's
    of the day alone; a compare rerun replaces its own rankers' rows, no other's."""
    prod = _queries(4)
    a = [replace(q, record=replace(q.record, ranker="compare:a")) for q in prod]
    b = [replace(q, record=replace(q.record, ranker="compare:b")) for q in prod]
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=DAY, queries=prod + a + b, top_k=10)
    other = replace(prod[1].record, results=prod[1].record.results[:2])
    # q0 weighs 2 where it weighed 4, q1 shows other results, q2 is the same, q3 is gone
    moved = [replace(prod[0], inclusion_probability=0.5), replace(prod[1], record=other), prod[2]]
    with database.engine.begin() as conn:
        after = repo.upsert_samples(conn, day=DAY, queries=moved, top_k=10, replace_stale=True)
        weights = dict(
            conn.execute(text("SELECT query_norm, weight FROM samples WHERE ranker = 'production'"))
            .tuples()
            .all()
        )

    def of(found: dict[tuple[str, str, int], int], ranker: str) -> dict[str, int]:
        return {q: i for (r, q, _), i in found.items() if r == ranker}

    assert sorted(of(after, "production")) == [f"query number {i}" for i in range(3)]
    assert of(after, "production")["query number 1"] not in ids.values()  # a new row
    for kept in ("query number 0", "query number 2"):  # the same results: the same row
        assert of(after, "production")[kept] == of(ids, "production")[kept]
    assert weights == {"query number 0": 2.0, "query number 1": 4.0, "query number 2": 4.0}
    assert of(after, "compare:a") == of(ids, "compare:a")
    assert of(after, "compare:b") == of(ids, "compare:b")
    with database.engine.begin() as conn:
        again = repo.upsert_samples(conn, day=DAY, queries=a[:2], top_k=10, replace_stale=True)
    kept_a = {q: i for q, i in of(ids, "compare:a").items() if q[-1] in "01"}
    assert of(again, "compare:a") == kept_a
    assert of(again, "compare:b") == of(ids, "compare:b")
    assert of(again, "production") == of(after, "production")
    with database.engine.begin() as conn:  # an empty sample replaces nothing
        empty = repo.upsert_samples(conn, day=DAY, queries=[], top_k=10, replace_stale=True)
    assert empty == again


def test_judge_rows_are_reused(database: Database) -> None:
    """The same judge configuration gets the same id; a new prompt version a new row."""
    a = _judge(database)
    b = _judge(database)
    with database.engine.begin() as conn:
        c = repo.ensure_judge(
            conn, name="j1", kind="llm", model="m", prompt_version="p2", config_hash="c1", params={}
        )
    assert a == b != c


def _verdicts(sample_ids: list[int], judge_id: int, per_sample: int) -> list[repo.StoredVerdict]:
    rng = random.Random(7)
    out = []
    for sid in sample_ids:
        for pos in range(1, per_sample + 1):
            ok = rng.random() > 0.1
            out.append(
                repo.StoredVerdict(
                    sample_id=sid,
                    judge_id=judge_id,
                    result_id=f"r{pos}",
                    position=pos,
                    verdict=Verdict(
                        judge="j1",
                        cache_key=f"{sid:08d}{pos:04d}".ljust(64, "0"),
                        status=VerdictStatus.OK if ok else VerdictStatus.INVALID,
                        grade=rng.randint(0, 3) if ok else None,
                        reasoning=f"because {sid}/{pos}\ttab \\ backslash, 'quote' \"dq\"",
                        raw='{"grade": 1}',
                        input_tokens=rng.randint(50, 500),
                        output_tokens=rng.randint(5, 50),
                        latency_ms=rng.random() * 1000,
                        cost_usd=rng.random() / 1000,
                        expected_grade=rng.random() * 3 if ok else None,
                    ),
                )
            )
    return out


def test_verdicts_written_twice_are_counted_once(database: Database) -> None:
    """Writing the same verdicts again inserts nothing new."""
    judge_id = _judge(database)
    with database.engine.begin() as conn:
        ids = list(repo.upsert_samples(conn, day=DAY, queries=_queries(5), top_k=10).values())
    verdicts = _verdicts(ids, judge_id, 3)
    with database.engine.begin() as conn:
        assert repo.write_verdicts(conn, verdicts=verdicts) == 15
    with database.engine.begin() as conn:
        assert repo.write_verdicts(conn, verdicts=verdicts) == 0
    assert _count(database, "verdicts") == 15


def test_a_batch_repeating_a_verdict_stores_it_once(database: Database) -> None:
    """A repeated row inside one first write falls back to the upsert: stored once."""
    judge_id = _judge(database)
    with database.engine.begin() as conn:
        ids = list(repo.upsert_samples(conn, day=DAY, queries=_queries(3), top_k=10).values())
    verdicts = _verdicts(ids, judge_id, 2)
    with database.engine.begin() as conn:
        assert repo.write_verdicts(conn, verdicts=[*verdicts, verdicts[0]]) == 6
    assert _count(database, "verdicts") == 6


def test_copy_of_100k_verdicts_round_trips_exactly(database: Database) -> None:
    """100,000 verdicts written with COPY read back field for field."""
    judge_id = _judge(database)
    with database.engine.begin() as conn:
        ids = list(repo.upsert_samples(conn, day=DAY, queries=_queries(10_000), top_k=10).values())
    verdicts = _verdicts(ids, judge_id, 10)
    assert len(verdicts) == 100_000
    with database.engine.begin() as conn:
        assert repo.write_verdicts(conn, verdicts=verdicts) == 100_000
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT sample_id, result_id, position, status, grade, expected_grade, reasoning,"
                " raw, input_tokens, output_tokens, latency_ms, cost_usd, cache_key FROM verdicts"
            )
        ).all()
    stored = {(r.sample_id, r.result_id): r for r in rows}
    assert len(stored) == 100_000
    for sv in verdicts:
        row = stored[(sv.sample_id, sv.result_id)]
        v = sv.verdict
        assert (row.position, row.status, row.grade) == (sv.position, v.status.value, v.grade)
        assert row.expected_grade == v.expected_grade
        assert (row.reasoning, row.raw, row.cache_key) == (v.reasoning, v.raw, v.cache_key)
        assert (row.input_tokens, row.output_tokens) == (v.input_tokens, v.output_tokens)
        assert row.latency_ms == v.latency_ms and row.cost_usd == v.cost_usd


def test_cache_lookup_returns_the_paid_answer(database: Database) -> None:
    """A stored verdict is found by its cache key and comes back marked as a cache hit."""
    judge_id = _judge(database)
    with database.engine.begin() as conn:
        ids = list(repo.upsert_samples(conn, day=DAY, queries=_queries(2), top_k=10).values())
        verdicts = _verdicts(ids, judge_id, 2)
        assert repo.store_cache(conn, verdicts=[v.verdict for v in verdicts]) == 4
        assert repo.store_cache(conn, verdicts=[v.verdict for v in verdicts]) == 0
    keys = [v.verdict.cache_key for v in verdicts] + ["missing".ljust(64, "0")]
    with database.engine.connect() as conn:
        found = repo.lookup_cache(conn, keys=keys)
    assert set(found) == {v.verdict.cache_key for v in verdicts}
    for sv in verdicts:
        hit = found[sv.verdict.cache_key]
        assert hit.cache_hit and hit.grade == sv.verdict.grade and hit.status == sv.verdict.status


def test_cache_lookups_past_one_statement_find_every_answer(database: Database) -> None:
    """More keys than one statement binds (a big day's), each asked for twice: every
    stored answer is found by both reads, whichever chunk its key falls in."""
    n = 2 * repo._LOOKUP_CHUNK + 7
    answers = [
        Verdict(judge="j", cache_key=f"{i:064x}", status=VerdictStatus.OK, grade=i % 4)
        for i in range(0, 2 * n, 2)  # every other key stored
    ]
    with database.engine.begin() as conn:
        repo.store_cache(conn, verdicts=answers)
    keys = [f"{i:064x}" for i in range(2 * n)] * 2
    with database.engine.connect() as conn:
        found = repo.lookup_cache(conn, keys=keys)
        cached = repo.cached_keys(conn, keys=keys)
    assert set(found) == cached == {v.cache_key for v in answers}
    assert all(found[v.cache_key].grade == v.grade for v in answers)


def test_run_rerun_reuses_the_row(database: Database) -> None:
    """Starting the same flow for the same day twice reopens one run row."""
    with database.engine.begin() as conn:
        first = repo.start_run(conn, flow="daily", run_date=DAY, config_hash="h")
        repo.finish_run(
            conn,
            run_id=first,
            status="failed",
            counts={"sampled": 3},
            cost_usd=0.5,
            duration_s=1.0,
            error="boom",
        )
    with database.engine.begin() as conn:
        second = repo.start_run(conn, flow="daily", run_date=DAY, config_hash="h")
    assert first == second
    with database.engine.connect() as conn:
        row = conn.execute(text("SELECT status, error FROM runs")).one()
    assert (row.status, row.error) == ("running", None)
    assert _count(database, "runs") == 1


def test_daily_metrics_recomputed_replace_old_values(database: Database) -> None:
    """Writing a day's metrics again updates the figures instead of adding rows."""
    rows = [("ndcg", "all", "ensemble", 10, 0.5, 0.4, 0.6, 100, None)]
    with database.engine.begin() as conn:
        repo.upsert_daily_metrics(conn, day=DAY, rows=rows)
    with database.engine.begin() as conn:
        repo.upsert_daily_metrics(
            conn, day=DAY, rows=[("ndcg", "all", "ensemble", 10, 0.7, 0.6, 0.8, 120, None)]
        )
    with database.engine.connect() as conn:
        got = conn.execute(text("SELECT value, n FROM daily_metrics")).all()
    assert [(r.value, r.n) for r in got] == [(0.7, 120)]
