"""Monthly partitions and retention, on real PostgreSQL: the migration keeps every row
both ways, a day lands in its month, ``prune`` drops whole months and stale cache
entries only."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from monitor.errors import DatabaseError, InputError
from monitor.store import day_designs, metric_reads, partitions
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.migrate import alembic_config, upgrade
from monitor.types import Result, SampledQuery, SearchRecord, Verdict, VerdictStatus

INITIAL = "f34aec8d8e82"
PARTITIONED_AT = "affae5ca3c30"
TABLES = ("samples", "verdicts", "ensemble_grades", "pairwise_judgments", "verdict_cache")


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES
        }


def _schema(engine: Engine) -> dict[str, Any]:
    """Columns, keys and indexes of every table, as the inspector sees them."""
    found = inspect(engine)
    tables = sorted(t for t in found.get_table_names() if not partitions.is_partition_name(t))
    return {
        t: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(t)],
            found.get_pk_constraint(t)["constrained_columns"],
            sorted((u["name"], tuple(u["column_names"])) for u in found.get_unique_constraints(t)),
            sorted(
                (f["name"], tuple(f["constrained_columns"]), f["referred_table"], str(f["options"]))
                for f in found.get_foreign_keys(t)
            ),
            sorted((i["name"], tuple(i["column_names"])) for i in found.get_indexes(t)),
        )
        for t in tables
    }


def _seed_initial_schema(engine: Engine) -> None:
    """Rows in every growing table over three months, written as the initial schema
    took them (plain SQL: the repository writes today's schema)."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO judges (name, kind, model, prompt_version, config_hash, params) "
                "VALUES ('j1', 'llm', 'm', 'p', 'h', '{}')"
            )
        )
        for n, day in enumerate(
            (dt.date(2026, 9, 30), dt.date(2026, 10, 1), dt.date(2026, 11, 15))
        ):
            for q in range(4):
                sample_id = conn.execute(
                    text(
                        "INSERT INTO samples (sample_date, ranker, query_id, query_text, "
                        "query_norm, searched_at, stratum, segment, inclusion_prob, weight, "
                        "hard, results, signals) VALUES (:d, 'production', :q, :q, :q, now(), "
                        "'all', '{}', 0.5, 2, false, '[]', '{}') RETURNING id"
                    ),
                    {"d": day, "q": f"q{n}-{q}"},
                ).scalar_one()
                for p in range(1, 4):
                    key = f"{n}-{q}-{p}".ljust(64, "0")
                    conn.execute(
                        text(
                            "INSERT INTO verdicts (sample_id, judge_id, result_id, position, "
                            "mode, status, grade, reasoning, raw, input_tokens, output_tokens, "
                            "latency_ms, cost_usd, truncated, cache_hit, cache_key) VALUES "
                            "(:s, 1, :r, :p, 'pointwise', 'ok', :g, 'why', '{}', 1, 1, 1, 0, "
                            "false, false, :k)"
                        ),
                        {"s": sample_id, "r": f"r{p}", "p": p, "g": p % 4, "k": key},
                    )
                    conn.execute(
                        text(
                            "INSERT INTO ensemble_grades (sample_id, result_id, position, grade, "
                            "disagreement, n_judges, method) VALUES (:s, :r, :p, :g, 0, 1, "
                            "'median')"
                        ),
                        {"s": sample_id, "r": f"r{p}", "p": p, "g": float(p % 4)},
                    )
                    conn.execute(
                        text(
                            "INSERT INTO verdict_cache (cache_key, judge_name, model, "
                            "prompt_version, mode, status, grade, reasoning, raw, input_tokens, "
                            "output_tokens, latency_ms, cost_usd, truncated) VALUES (:k, 'j1', "
                            "'m', 'p', 'pointwise', 'ok', 1, 'why', '{}', 1, 1, 1, 0, false)"
                        ),
                        {"k": key},
                    )
            conn.execute(
                text(
                    "INSERT INTO pairwise_judgments (judgment_date, query_norm, judge_id, a_id, "
                    "b_id, first, second, winner, consistent, reasoning, input_tokens, "
                    "output_tokens, cost_usd) VALUES (:d, 'q', 1, 'a', 'b', 'a', 'a', 'a', "
                    "true, '', 1, 1, 0)"
                ),
                {"d": day},
            )


def _downgrade(engine: Engine, url: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_migration_keeps_every_row_up_and_down(empty_database_url: str) -> None:
    """Rows stored under the initial schema survive partitioning and its downgrade (same
    counts each way, verdicts dated as their samples, in month partitions), and the
    downgrade gives back the initial schema exactly."""
    engine = create_engine(empty_database_url)
    try:
        upgrade(engine, empty_database_url, INITIAL)
        initial_schema = _schema(engine)
        _seed_initial_schema(engine)
        before = _counts(engine)
        assert before == {
            "samples": 12,
            "verdicts": 36,
            "ensemble_grades": 36,
            "pairwise_judgments": 3,
            "verdict_cache": 36,
        }
        upgrade(engine, empty_database_url, PARTITIONED_AT)
        assert _counts(engine) == before
        with engine.connect() as conn:
            undated = conn.execute(
                text(
                    "SELECT count(*) FROM verdicts v JOIN samples s ON s.id = v.sample_id "
                    "WHERE v.sample_date <> s.sample_date"
                )
            ).scalar_one()
            by_partition = dict(
                conn.execute(
                    text("SELECT tableoid::regclass::text, count(*) FROM verdicts GROUP BY 1")
                ).all()
            )
            in_default = conn.execute(text("SELECT count(*) FROM samples_default")).scalar_one()
        assert undated == 0
        assert by_partition == {
            "verdicts_y2026m09": 12,
            "verdicts_y2026m10": 12,
            "verdicts_y2026m11": 12,
        }
        assert in_default == 0
        with engine.begin() as conn:  # the sequences moved with the rows: ids continue
            next_id = conn.execute(text("SELECT nextval('samples_id_seq')")).scalar_one()
        assert next_id == 13
        _downgrade(engine, empty_database_url, INITIAL)
        assert _counts(engine) == before
        assert _schema(engine) == initial_schema
        with engine.connect() as conn:
            orphans = conn.execute(
                text(
                    "SELECT count(*) FROM verdicts v LEFT JOIN samples s ON s.id = v.sample_id "
                    "WHERE s.id IS NULL"
                )
            ).scalar_one()
        assert orphans == 0
        upgrade(engine, empty_database_url)
        assert _counts(engine) == before
    finally:
        engine.dispose()


def _queries(n: int, day: dt.date, ranker: str = "production") -> list[SampledQuery]:
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    return [
        SampledQuery(
            record=SearchRecord(
                query_id=f"q{i}",
                query=f"query {i}",
                timestamp=stamp,
                results=tuple(Result(id=f"r{p}", position=p, text="text") for p in (1, 2)),
                segment={"locale": "en"},
                ranker=ranker,
            ),
            stratum="locale=en",
            inclusion_probability=0.5,
        )
        for i in range(n)
    ]


def _verdict(key: str, *, hit: bool = False) -> Verdict:
    return Verdict(
        judge="j1", cache_key=key.ljust(64, "0"), status=VerdictStatus.OK, grade=2, cache_hit=hit
    )


def _store_day(db: Database, day: dt.date, judge_id: int, queries: int = 3) -> list[int]:
    """A day's samples, a verdict and an ensemble grade per result."""
    with db.engine.begin() as conn:
        stored = repo.upsert_samples(conn, day=day, queries=_queries(queries, day), top_k=10)
        sample_ids = list(stored.values())
        repo.write_verdicts(
            conn,
            verdicts=[
                repo.StoredVerdict(s, judge_id, f"r{p}", p, _verdict(f"{day}-{s}-{p}"))
                for s in sample_ids
                for p in (1, 2)
            ],
        )
        repo.upsert_ensemble_grades(
            conn, rows=[(s, f"r{p}", p, 2.0, 0.0, 1, "median") for s in sample_ids for p in (1, 2)]
        )
    return sample_ids


def _judge(db: Database) -> int:
    with db.engine.begin() as conn:
        return repo.ensure_judge(
            conn, name="j1", kind="llm", model="m", prompt_version="p", config_hash="h", params={}
        )


def _partition_of(db: Database, table: str) -> dict[str, int]:
    with db.engine.connect() as conn:
        return dict(
            conn.execute(text(f"SELECT tableoid::regclass::text, count(*) FROM {table} GROUP BY 1"))
            .tuples()
            .all()
        )


def test_a_day_lands_in_its_month_partition(database: Database) -> None:
    """Storing a day creates its month's partitions and the next month's (once), and its
    samples, verdicts and ensemble grades land in that month, not the default."""
    judge_id = _judge(database)
    _store_day(database, dt.date(2031, 5, 20), judge_id)
    for table in ("samples", "verdicts", "ensemble_grades"):
        assert set(_partition_of(database, table)) == {f"{table}_y2031m05"}
    with database.engine.begin() as conn:
        assert partitions.ensure_partitions(conn, day=dt.date(2031, 5, 1)) == 0
        july = partitions.ensure_partitions(conn, day=dt.date(2031, 6, 1))
        assert july == len(partitions.PARTITIONED)  # one per partitioned table
    with database.engine.connect() as conn:
        months = {p.name for p in partitions.month_partitions(conn)}
    assert {"verdicts_y2031m05", "verdicts_y2031m06", "verdicts_y2031m07"} <= months


def test_rows_without_a_partition_land_in_default_and_move_to_their_month(
    database: Database,
) -> None:
    """A row whose month has no partition yet is kept by the default partition (no
    insert fails), and moves into its month's partition when that is created."""
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pairwise_judgments (judgment_date, query_norm, judge_id, a_id, "
                "b_id, first, second, winner, consistent, reasoning, input_tokens, "
                "output_tokens, cost_usd) VALUES ('2040-02-03', 'q', :j, 'a', 'b', 'a', 'a', "
                "'a', true, '', 1, 1, 0)"
            ),
            {"j": _judge(database)},
        )
    assert _partition_of(database, "pairwise_judgments") == {"pairwise_judgments_default": 1}
    with database.engine.begin() as conn:
        opened = partitions.ensure_partitions(conn, day=dt.date(2040, 2, 3), months_ahead=0)
        assert opened == len(partitions.PARTITIONED)
    assert _partition_of(database, "pairwise_judgments") == {"pairwise_judgments_y2040m02": 1}


def test_the_day_read_scans_one_month_of_verdicts(database: Database) -> None:
    """With three months stored, the metrics step's verdict read plans a scan of the
    day's month partition of verdicts only."""
    judge_id = _judge(database)
    for day in (dt.date(2026, 1, 10), dt.date(2026, 2, 10), dt.date(2026, 3, 10)):
        _store_day(database, day, judge_id)
    with database.engine.connect() as conn:
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                text(
                    "EXPLAIN SELECT v.grade FROM verdicts v JOIN samples s ON s.id = v.sample_id "
                    "AND s.sample_date = v.sample_date WHERE s.sample_date = '2026-02-10'"
                )
            )
        )
        rows = metric_reads.pointwise_verdicts(conn, day=dt.date(2026, 2, 10))
    assert "verdicts_y2026m02" in plan
    assert "verdicts_y2026m01" not in plan and "verdicts_y2026m03" not in plan
    assert len(rows) == 6


def test_verdicts_for_unstored_samples_are_refused(database: Database) -> None:
    """Writing verdicts or ensemble grades for a sample id that is not stored fails with
    one line naming the ids (the foreign key's job, now the writer's)."""
    judge_id = _judge(database)
    with (
        pytest.raises(DatabaseError, match=r"1 sample id\(s\) that are not stored \(e\.g\. 999"),
        database.engine.begin() as conn,
    ):
        repo.write_verdicts(
            conn, verdicts=[repo.StoredVerdict(999, judge_id, "r1", 1, _verdict("k"))]
        )
    with pytest.raises(DatabaseError, match="not stored"), database.engine.begin() as conn:
        repo.upsert_ensemble_grades(conn, rows=[(999, "r1", 1, 2.0, 0.0, 1, "median")])


def test_deleting_a_days_samples_deletes_their_verdicts_and_grades(database: Database) -> None:
    """Replacing a day's production sample removes its verdicts and ensemble grades too
    (the trigger that stands for ON DELETE CASCADE); other days keep theirs."""
    judge_id = _judge(database)
    _store_day(database, dt.date(2026, 4, 1), judge_id)
    _store_day(database, dt.date(2026, 4, 2), judge_id)
    with database.engine.begin() as conn:
        repo.delete_production_samples(conn, day=dt.date(2026, 4, 1))
    with database.engine.connect() as conn:
        left = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM verdicts), "
                "(SELECT count(*) FROM ensemble_grades), "
                "(SELECT count(DISTINCT sample_date) FROM verdicts)"
            )
        ).one()
    assert tuple(left) == (3, 6, 6, 1)


def _cache_entry(conn: Any, key: str, last_used: dt.date) -> None:
    repo.store_cache(conn, verdicts=[_verdict(key)])
    conn.execute(
        text("UPDATE verdict_cache SET last_used = :d WHERE cache_key = :k"),
        {"d": last_used, "k": key.ljust(64, "0")},
    )


def _last_used(db: Database) -> dict[str, dt.date]:
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT cache_key, last_used FROM verdict_cache")).all()
    return {key.rstrip("0"): day for key, day in rows}


def test_verdicts_from_the_cache_mark_it_used(database: Database) -> None:
    """Storing a cache hit's verdict sets its entry's last_used to today when the mark
    was a week old or more, and leaves a fresher mark as it is (no rewrite a day)."""
    today = dt.datetime.now(dt.UTC).date()
    judge_id = _judge(database)
    with database.engine.begin() as conn:
        _cache_entry(conn, "stale", today - dt.timedelta(days=30))
        _cache_entry(conn, "fresh", today - dt.timedelta(days=2))
        _cache_entry(conn, "unused", today - dt.timedelta(days=30))
        stored = repo.upsert_samples(conn, day=today, queries=_queries(1, today), top_k=5)
        (sample_id,) = stored.values()
        repo.write_verdicts(
            conn,
            verdicts=[
                repo.StoredVerdict(sample_id, judge_id, "r1", 1, _verdict("stale", hit=True)),
                repo.StoredVerdict(sample_id, judge_id, "r2", 2, _verdict("fresh", hit=True)),
            ],
        )
    assert _last_used(database) == {
        "stale": today,
        "fresh": today - dt.timedelta(days=2),
        "unused": today - dt.timedelta(days=30),
    }


def _month_rows(db: Database) -> dict[str, int]:
    return {
        t: sum(_partition_of(db, t).values())
        for t in ("samples", "verdicts", "ensemble_grades", "daily_metrics")
    }


def test_prune_drops_whole_months_before_the_cutoff_only(database: Database) -> None:
    """prune with a cutoff inside February drops January's partitions of every table
    (reporting their rows and bytes), keeps February whole and March, keeps the daily
    figures; a dry run reports the same and drops nothing. The days' designs go with
    their months."""
    judge_id = _judge(database)
    days = (dt.date(2026, 1, 31), dt.date(2026, 2, 1), dt.date(2026, 3, 5))
    for day in days:
        _store_day(database, day, judge_id)
        with database.engine.begin() as conn:
            repo.upsert_daily_metrics(
                conn, day=day, rows=[("ndcg", "all", "ensemble", 10, 0.5, 0.4, 0.6, 3, None)]
            )
            design = day_designs.StoredDesign(
                inputs="x", stratum_sd={"all": 0.2}, panel_history={"q"}
            )
            day_designs.write_design(conn, day=day, design=design)
    before = _month_rows(database)
    dry = partitions.prune(database, cutoff=dt.date(2026, 2, 15), dry_run=True)
    assert _month_rows(database) == before
    report = partitions.prune(database, cutoff=dt.date(2026, 2, 15))
    for result in (dry, report):
        assert {(p.table, p.rows) for p in result.partitions} == {
            ("samples", 3),
            ("verdicts", 6),
            ("ensemble_grades", 6),
            ("pairwise_judgments", 0),
            ("pool_days", 0),
        }
        assert {p.first for p in result.partitions} == {dt.date(2026, 1, 1)}
        assert all(p.bytes > 0 for p in result.partitions)
        assert "verdicts_y2026m02" in result.kept_straddling
    assert _month_rows(database) == {
        "samples": 6,
        "verdicts": 12,
        "ensemble_grades": 12,
        "daily_metrics": 3,
    }
    with database.engine.connect() as conn:
        names = {p.name for p in partitions.month_partitions(conn)}
    assert "verdicts_y2026m01" not in names and "verdicts_y2026m02" in names
    with database.engine.connect() as conn:
        kept = [day for day in days if day_designs.read_design(conn, day=day) is not None]
        assert kept == list(days[1:])
        assert day_designs.read_design(conn, day=days[1]) == design
    assert partitions.prune(database, cutoff=dt.date(2026, 2, 15)).partitions == ()


def test_prune_estimates_the_rows_of_big_partitions(database: Database) -> None:
    """Partitions the planner estimates at the threshold or more report its estimate
    (marked not exact) instead of being counted; smaller ones are counted."""
    judge_id = _judge(database)
    _store_day(database, dt.date(2026, 1, 5), judge_id, queries=50)
    with database.engine.begin() as conn:
        conn.execute(text("ANALYZE verdicts"))
    report = partitions.prune(database, cutoff=dt.date(2026, 2, 1), dry_run=True, exact_below=60)
    by_table = {p.table: p for p in report.partitions}
    assert (by_table["verdicts"].rows, by_table["verdicts"].exact) == (100, False)
    assert (by_table["samples"].rows, by_table["samples"].exact) == (50, True)
    assert not report.exact


def test_prune_forgets_cache_entries_not_used_since_the_cutoff(database: Database) -> None:
    """The cache is pruned by last use, in batches: entries last used before the cutoff
    (less the week last_used is kept to) go, the others stay; a dry run counts them."""
    cutoff = dt.date(2026, 6, 1)
    with database.engine.begin() as conn:
        for i in range(5):
            _cache_entry(conn, f"old{i}", dt.date(2026, 5, 1))
        _cache_entry(conn, "inweek", dt.date(2026, 5, 28))  # within the resolution: kept
        _cache_entry(conn, "recent", dt.date(2026, 6, 2))
    dry = partitions.prune(database, cutoff=cutoff, dry_run=True)
    assert dry.cache is not None and dry.cache.rows == 5 and len(_last_used(database)) == 7
    report = partitions.prune(database, cutoff=cutoff, cache_batch=2)
    assert report.cache is not None and report.cache.rows == 5 and report.cache.bytes > 0
    assert set(_last_used(database)) == {"inweek", "recent"}


def test_retention_setting_drops_months_past_it(database: Database) -> None:
    """apply_retention with retention_days drops the months entirely older than that many
    days before today; None keeps everything."""
    judge_id = _judge(database)
    _store_day(database, dt.date(2026, 1, 15), judge_id)
    _store_day(database, dt.date(2026, 3, 15), judge_id)
    today = dt.date(2026, 4, 10)
    assert partitions.apply_retention(database, None, today=today) is None
    report = partitions.apply_retention(database, 60, today=today)  # cutoff 9 Feb
    assert report is not None
    assert {p.first for p in report.partitions} == {dt.date(2026, 1, 1)}
    assert _month_rows(database)["verdicts"] == 6


def test_older_than_takes_days_or_a_date() -> None:
    """--older-than is a number of days before today or an ISO date; anything else is
    refused with one line naming the option."""
    today = dt.date(2026, 12, 1)
    assert partitions.parse_older_than("30", today=today) == dt.date(2026, 11, 1)
    assert partitions.parse_older_than("2026-01-01", today=today) == dt.date(2026, 1, 1)
    with pytest.raises(InputError, match=r"--older-than 'last year': give a number of days"):
        partitions.parse_older_than("last year", today=today)


def test_window_grades_are_production_and_the_newest_generation_only(
    database: Database,
) -> None:
    """The baseline window's grades (counted by Postgres) are each day's newest
    generation of each judge, valid pointwise verdicts of production samples only."""
    with database.engine.begin() as conn:
        old = repo.ensure_judge(
            conn, name="j1", kind="llm", model="m", prompt_version="p1", config_hash="h", params={}
        )
        new = repo.ensure_judge(
            conn, name="j1", kind="llm", model="m", prompt_version="p2", config_hash="h", params={}
        )
        first, second = dt.date(2026, 5, 30), dt.date(2026, 6, 2)  # two months
        placed = []
        for day, judges in ((first, (old, new)), (second, (old,))):
            for ranker in ("production", "compare:staging"):
                stored = repo.upsert_samples(
                    conn, day=day, queries=_queries(2, day, ranker), top_k=10
                )
                for sample_id in stored.values():
                    for judge in judges:
                        grade = 3 if judge == new else 1 if ranker == "production" else 0
                        for p, status in ((1, VerdictStatus.OK), (2, VerdictStatus.INVALID)):
                            verdict = Verdict(
                                judge="j1",
                                cache_key=f"{day}{sample_id}{judge}{p}".ljust(64, "0"),
                                status=status,
                                grade=grade if status is VerdictStatus.OK else None,
                            )
                            placed.append(repo.StoredVerdict(sample_id, judge, f"r{p}", p, verdict))
        repo.write_verdicts(conn, verdicts=placed)
    with database.engine.connect() as conn:
        grades = metric_reads.judge_grades_between(conn, first=first, last=second)
        only_first = metric_reads.judge_grades_between(conn, first=first, last=first)
    # the first day: the new generation's 3s (2 samples); the second: the old one's 1s
    assert sorted(grades) == [("j1", 1.0), ("j1", 1.0), ("j1", 3.0), ("j1", 3.0)]
    assert sorted(only_first) == [("j1", 3.0), ("j1", 3.0)]
