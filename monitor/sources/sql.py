"""Search logs in a SQL table or view, one row per search, read for a date window.

Supported shape: one row per search with the ranked list in one JSON array column
(``json``/``jsonb`` or text holding JSON; see ``parse_results`` for the element shape).
One-row-per-result layouts are not read directly: put a view in front that aggregates
them with ``json_agg(... ORDER BY position)``.

``columns`` maps our fields to the table's columns. Fields: ``query_id``, ``query``,
``timestamp``, ``results`` (required; default: a column of the same name), ``clicks``,
``zero_result``, ``reformulated``, ``ranker``, ``segment`` (a JSON object column) and
``segment.<name>`` for one segment value per column. Optional fields whose name is a
column of the table are picked up without a mapping. A mapping that names a missing
column fails before any row is read, listing the columns that exist.

Rows are streamed with a server-side cursor (``stream_results`` + ``yield_per``), so a
day of millions of searches never sits in memory at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from monitor.config import SourceConfig, mask_url
from monitor.errors import SourceError
from monitor.sources.base import BadRow, BadRows, Limits, check_window, guarded
from monitor.types import SearchRecord

__all__ = ["FIELDS", "SqlSource"]

REQUIRED = ("query_id", "query", "timestamp", "results")
OPTIONAL = ("clicks", "zero_result", "reformulated", "ranker", "segment")
FIELDS = REQUIRED + OPTIONAL


class SqlSource:
    """Reads a table/view (``table``, may be ``schema.table``) or a custom ``query``.

    A custom query must take ``:start`` and ``:end`` bind parameters and is trusted
    configuration, not user input. ``options``: ``yield_per`` (rows per fetch, 1000).
    """

    def __init__(self, config: SourceConfig) -> None:
        if not config.url:
            raise SourceError("sql source: set source.url to a SQLAlchemy database URL")
        if not config.table and not config.query:
            raise SourceError("sql source: set source.table (or source.query with :start/:end)")
        unknown = sorted(
            k for k in config.columns if k not in FIELDS and not k.startswith("segment.")
        )
        if unknown:
            raise SourceError(
                f"sql source: unknown field(s) in columns: {', '.join(unknown)}; "
                f"known: {', '.join(FIELDS)}, segment.<name>"
            )
        self.config = config
        self.report = BadRows(source=self._label())
        self._engine: sa.Engine | None = None

    def _label(self) -> str:
        where = self.config.table or "custom query"
        return f"sql {where} at {mask_url(self.config.url or '')}"

    def _engine_(self) -> sa.Engine:
        if self._engine is None:
            assert self.config.url is not None
            try:
                self._engine = sa.create_engine(self.config.url)
            except Exception as exc:  # ArgumentError, missing driver…
                raise SourceError(f"{self._label()}: cannot use this URL: {exc}") from None
        return self._engine

    def _available(self, conn: sa.Connection) -> list[str]:
        if self.config.table:
            schema, _, name = self.config.table.rpartition(".")
            try:
                cols = sa.inspect(conn).get_columns(name, schema=schema or None)
            except sa.exc.NoSuchTableError:
                raise SourceError(f"{self._label()}: no such table or view") from None
            return [str(c["name"]) for c in cols]
        probe = sa.text(f"SELECT * FROM ({self.config.query}) AS q LIMIT 0")
        now = dt.datetime.now(dt.UTC)
        return list(conn.execute(probe, {"start": now, "end": now}).keys())

    def mapping(self, available: list[str]) -> dict[str, str]:
        """Field -> column, checked against ``available``; raises listing what exists."""
        mapping: dict[str, str] = {f: self.config.columns.get(f, f) for f in REQUIRED}
        for key, col in self.config.columns.items():
            mapping[key] = col
        for f in OPTIONAL:
            if f not in mapping and f in available:
                mapping[f] = f
        missing = sorted(f"{f} -> {c}" for f, c in mapping.items() if c not in available)
        if missing:
            raise SourceError(
                f"{self._label()}: column mapping names missing column(s): "
                f"{', '.join(missing)}; available columns: {', '.join(available)}"
            )
        return mapping

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        """The window's searches, streamed in timestamp order."""
        s, e = check_window(start, end)
        self.report = BadRows(source=self._label())
        engine = self._engine_()
        yield_per = int(self.config.options.get("yield_per", 1000))
        try:
            with engine.connect() as conn:
                mapping = self.mapping(self._available(conn))
                stmt = self._statement(mapping)
                result = conn.execution_options(stream_results=True, yield_per=yield_per).execute(
                    stmt, {"start": s, "end": e}
                )
                yield from guarded(
                    self._rows(result, mapping),
                    report=self.report,
                    start=s,
                    end=e,
                    max_bad_row_share=self.config.max_bad_row_share,
                    segment_fields=[
                        k.removeprefix("segment.") for k in mapping if k.startswith("segment.")
                    ],
                    limits=Limits.from_options(self.config.options),
                )
        except sa.exc.SQLAlchemyError as exc:
            detail = getattr(exc, "orig", None) or exc
            raise SourceError(f"{self._label()}: {type(exc).__name__}: {detail}") from None
        finally:
            engine.dispose()
            self._engine = None

    def _statement(self, mapping: dict[str, str]) -> sa.TextClause | sa.Select[Any]:
        if self.config.query:
            return sa.text(self.config.query)
        schema, _, name = (self.config.table or "").rpartition(".")
        cols = sorted(set(mapping.values()))
        table = sa.table(name, *(sa.column(c) for c in cols), schema=schema or None)
        ts = table.c[mapping["timestamp"]]
        return (
            sa.select(*(table.c[c] for c in cols))
            .where(ts >= sa.bindparam("start"), ts < sa.bindparam("end"))
            .order_by(ts)
        )

    def _rows(
        self, result: sa.CursorResult[Any], mapping: dict[str, str]
    ) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
        for n, row in enumerate(result.mappings(), start=1):
            out: dict[str, Any] = {}
            for f, col in mapping.items():
                out[f.removeprefix("segment.")] = row[col]
            qid = out.get("query_id")
            yield (f"row {n} (query_id {qid})" if qid is not None else f"row {n}"), out
