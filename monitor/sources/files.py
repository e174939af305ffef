"""Search logs dropped as files: JSONL (one search per line) or Parquet, one file per day.

Each row has the common shape of ``monitor.sources.base.record_from_mapping``; in Parquet
``results`` is a list of structs or a JSON string. Every file matching ``path`` (a file,
a glob, or a directory holding ``*.jsonl``/``*.ndjson``/``*.parquet``) is read and its
rows filtered to the window; a line that is not JSON or not UTF-8 is a bad row.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.sources.base import (
    BAD_JSON,
    INVALID_UTF8,
    BadRow,
    BadRows,
    Limits,
    check_window,
    guarded,
)
from monitor.types import SearchRecord

__all__ = ["FilesSource", "find_files"]

_SUFFIXES = (".jsonl", ".ndjson", ".parquet")


def find_files(path: str) -> list[Path]:
    """The log files ``path`` names, sorted; none at all is a configuration error."""
    p = Path(path)
    if p.is_dir():
        found = sorted(f for f in p.iterdir() if f.is_file() and f.name.endswith(_SUFFIXES))
    elif p.is_file():
        found = [p]
    else:
        found = sorted(Path(f) for f in glob.glob(path) if Path(f).is_file())
    if not found:
        raise SourceError(f"files source: no .jsonl/.ndjson/.parquet files match {path!r}")
    return found


def _jsonl_rows(path: Path) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            where = f"{path.name}:{n}"
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield where, BadRow(INVALID_UTF8)
                continue
            try:
                row = json.loads(line)
            except ValueError:
                yield where, BadRow(BAD_JSON)
                continue
            if not isinstance(row, dict):
                yield where, BadRow(BAD_JSON, "line is not an object")
                continue
            yield where, row


def _parquet_rows(path: Path, batch_size: int) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and friends for a broken file
        raise SourceError(f"files source: {path} is not a readable Parquet file: {exc}") from exc
    n = 0
    for batch in handle.iter_batches(batch_size=batch_size):
        for row in batch.to_pylist():
            n += 1
            yield f"{path.name}:{n}", row


class FilesSource:
    """Reads JSONL/Parquet drops; ``options``: ``segment_fields``, ``batch_size``, limits."""

    def __init__(self, config: SourceConfig) -> None:
        if not config.path:
            raise SourceError("files source: set source.path to a file, glob or directory")
        self.config = config
        self.report = BadRows(source=f"files {config.path}")

    def _rows(self) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
        batch_size = int(self.config.options.get("batch_size", 4096))
        assert self.config.path is not None
        for path in find_files(self.config.path):
            if path.suffix == ".parquet":
                yield from _parquet_rows(path, batch_size)
            else:
                yield from _jsonl_rows(path)

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        """The window's searches from every matching file, streamed row by row."""
        s, e = check_window(start, end)
        self.report = BadRows(source=f"files {self.config.path}")
        options = self.config.options
        yield from guarded(
            self._rows(),
            report=self.report,
            start=s,
            end=e,
            max_bad_row_share=self.config.max_bad_row_share,
            segment_fields=list(options.get("segment_fields", [])),
            limits=Limits.from_options(options),
            ranker=str(options.get("ranker", "production")),
        )
