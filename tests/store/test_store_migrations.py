"""The schema comes from Alembic migrations and matches the models exactly."""

from __future__ import annotations

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from monitor.errors import SchemaError
from monitor.store.migrate import alembic_config, schema_status, upgrade
from monitor.store.models import Base
from monitor.store.partitions import is_partition_name


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """The models' tables, not the month partitions (as migrations/env.py compares)."""
    return not (type_ == "table" and name is not None and is_partition_name(name))


def test_single_head() -> None:
    """The migration history has exactly one head (no forgotten merge)."""
    script = ScriptDirectory.from_config(alembic_config("postgresql+psycopg://x@y/z"))
    assert len(script.get_heads()) == 1


def test_upgrade_fresh_database_creates_every_table(empty_database_url: str) -> None:
    """`db upgrade` on an empty database creates every model's table and records head."""
    engine = create_engine(empty_database_url)
    try:
        before, after = upgrade(engine, empty_database_url)
        assert before is None
        assert (
            after
            == ScriptDirectory.from_config(alembic_config(empty_database_url)).get_current_head()
        )
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        again = upgrade(engine, empty_database_url)
        assert again == (after, after)
    finally:
        engine.dispose()


def test_models_and_migrated_schema_do_not_diverge(database_url: str) -> None:
    """Autogenerate against the migrated schema finds nothing to change."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_name": include_name}
            )
            diff = compare_metadata(ctx, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_downgrade_then_upgrade_round_trips(database_url: str) -> None:
    """Every migration can be undone and redone (base and back to head)."""
    from alembic import command

    engine = create_engine(database_url)
    try:
        config = alembic_config(database_url)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert "verdicts" not in inspect(engine).get_table_names()
        upgrade(engine, database_url)
        assert "verdicts" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_unknown_newer_revision_is_refused(database_url: str) -> None:
    """A database stamped by a newer judge-monitor is refused, not downgraded or guessed."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
        with pytest.raises(SchemaError, match=r"ffffffffffff.*newer version"):
            upgrade(engine, database_url)
        with pytest.raises(SchemaError):
            schema_status(engine, database_url)
    finally:
        engine.dispose()


def test_status_counts_rows(database_url: str) -> None:
    """`db status` reports the revision and a row count per table."""
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO human_labels (query_text, query_norm, result_id, grade, "
                    "annotator, source) VALUES ('q', 'q', 'r1', 2, 'ann', 'test')"
                )
            )
        status = schema_status(engine, database_url)
        assert status.up_to_date
        assert status.row_counts["human_labels"] == 1
        assert status.row_counts["verdicts"] == 0
    finally:
        engine.dispose()


def test_embedded_server_is_real_postgres(embedded_admin_url: str) -> None:
    """The embedded default is a real PostgreSQL server that answers SQL."""
    from sqlalchemy.engine import make_url

    conninfo = make_url(embedded_admin_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()
    assert version is not None and int(version[0]) >= 150000


def test_the_panel_lists_downgrade_keeps_one_row_standing_for_all_searches(
    database_url: str,
) -> None:
    """Undoing ``samples.list_no`` keeps list 0 of a panel query's day, weighted by all of
    the query's searches, and drops the other lists; redoing it keeps that row."""
    import dataclasses
    import datetime as dt

    from alembic import command

    from monitor.store import repository as repo
    from monitor.types import Result, SampledQuery, SearchRecord

    day = dt.date(2026, 11, 1)
    stamp = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    record = SearchRecord(
        query_id="q", query="head query", timestamp=stamp, results=(Result("a", 1),)
    )
    other = dataclasses.replace(record, query_id="q2", results=(Result("b", 1),))
    lists = [
        SampledQuery(record, "panel", 1 / 4, list_no=0),
        SampledQuery(other, "panel", 1 / 1, list_no=1),
        SampledQuery(dataclasses.replace(record, query="tail"), "all", 1 / 9),
    ]
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            assert len(repo.upsert_samples(conn, day=day, queries=lists, top_k=10)) == 3
        config = alembic_config(database_url)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "9b3e5f7a1c20")
        read = "SELECT query_norm, weight, inclusion_prob FROM samples ORDER BY query_norm"
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(text(read))] == [
                ("head query", 5.0, 0.2),
                ("tail", 9.0, pytest.approx(1 / 9)),
            ]
        upgrade(engine, database_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT query_norm, list_no FROM samples ORDER BY 1"))
            assert [tuple(r) for r in rows] == [("head query", 0), ("tail", 0)]
    finally:
        engine.dispose()
