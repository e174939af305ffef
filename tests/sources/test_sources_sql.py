"""The SQL source against a real PostgreSQL table of search logs."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.sources.sql import SqlSource

pytestmark = pytest.mark.integration

START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)
LogRow = Callable[..., dict[str, Any]]


@pytest.fixture
def log_table(database_url: str, log_row: LogRow) -> Iterator[str]:
    """A fresh table of 30 searches on the day, 2 the day after and 2 bad rows."""
    name = f"search_log_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(database_url)
    rows = [log_row(i) for i in range(30)]
    rows += [log_row(i, day=dt.date(2024, 5, 2)) for i in range(30, 32)]
    rows += [log_row(40, query=""), log_row(41, results=[{"id": "x", "position": 5}])]
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                f"CREATE TABLE {name} (qid text, q text, ts timestamptz, hits jsonb, "
                "locale text, clicks int)"
            )
        )
        conn.execute(
            sa.text(f"INSERT INTO {name} VALUES (:qid, :q, :ts, CAST(:hits AS jsonb), :loc, :c)"),
            [
                {
                    "qid": r["query_id"],
                    "q": r["query"],
                    "ts": r["timestamp"],
                    "hits": json.dumps(r["results"]),
                    "loc": r["segment"]["locale"],
                    "c": r["clicks"],
                }
                for r in rows
            ],
        )
    yield name
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {name}"))
    engine.dispose()


COLUMNS = {
    "query_id": "qid",
    "query": "q",
    "timestamp": "ts",
    "results": "hits",
    "segment.locale": "locale",
}


def test_reads_the_window_with_mapping_and_counts_bad_rows(
    database_url: str, log_table: str
) -> None:
    """Mapped columns become records for the day only; bad rows are counted by reason."""
    source = SqlSource(
        SourceConfig(
            kind="sql", url=database_url, table=log_table, columns=COLUMNS, options={"yield_per": 7}
        )
    )
    records = list(source.fetch(START, END))
    assert sorted(r.query_id for r in records) == sorted(f"q{i}" for i in range(30))
    assert {r.segment["locale"] for r in records} == {"de", "en"}
    assert all(r.clicks is not None for r in records)
    assert dict(source.report.counts) == {"missing query": 1, "positions not 1..k": 1}
    assert source.report.read == 32


def test_missing_columns_listed_before_reading(database_url: str, log_table: str) -> None:
    """A mapping naming absent columns fails with the list of available ones."""
    source = SqlSource(
        SourceConfig(
            kind="sql",
            url=database_url,
            table=log_table,
            columns={**COLUMNS, "query": "query_text"},
        )
    )
    with pytest.raises(SourceError, match=r"query -> query_text.*available columns: qid, q, ts"):
        next(source.fetch(START, END))


def test_custom_query_and_empty_day(database_url: str, log_table: str) -> None:
    """A custom SQL with :start/:end works, and a day with no rows yields nothing."""
    sql = f"SELECT qid, q, ts, hits FROM {log_table} WHERE ts >= :start AND ts < :end"
    source = SqlSource(
        SourceConfig(
            kind="sql", url=database_url, query=sql, columns=COLUMNS | {"segment.locale": "qid"}
        )
    )
    assert len(list(source.fetch(START, END))) == 30
    later = START + dt.timedelta(days=30)
    assert list(source.fetch(later, later + dt.timedelta(days=1))) == []


def test_unknown_table_is_named(database_url: str) -> None:
    """A table that does not exist is a SourceError, without the password."""
    source = SqlSource(SourceConfig(kind="sql", url=database_url, table="nope_missing"))
    with pytest.raises(SourceError, match="no such table") as info:
        next(source.fetch(START, END))
    password = sa.make_url(database_url).password
    assert not password or password not in str(info.value)
