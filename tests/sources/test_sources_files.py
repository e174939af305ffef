"""JSONL and Parquet drops read from real files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.sources.files import FilesSource

LogRow = Callable[..., dict[str, Any]]
DAY = dt.date(2024, 5, 1)
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
END = dt.datetime(2024, 5, 2, tzinfo=dt.UTC)

WriteJsonl = Callable[[str, list[Any]], Path]


def test_jsonl_window_and_bad_lines(
    write_jsonl: WriteJsonl, tmp_path: Path, log_row: LogRow
) -> None:
    """Rows outside the day are skipped, broken lines counted by reason with line numbers."""
    rows: list[Any] = [log_row(i) for i in range(20)]
    rows.append(log_row(99, day=DAY + dt.timedelta(days=1)))
    rows += [b"{not json", b"\xff\xfe broken", log_row(50, results=None)]
    write_jsonl("2024-05-01.jsonl", rows)
    source = FilesSource(SourceConfig(kind="files", path=str(tmp_path)))
    got = list(source.fetch(START, END))
    assert [r.query_id for r in got] == [f"q{i}" for i in range(20)]
    assert got[1].segment == {"locale": "de"}
    assert dict(source.report.counts) == {"bad json": 1, "invalid utf-8": 1, "no results": 1}
    assert source.report.examples["invalid utf-8"] == ["2024-05-01.jsonl:23"]


def test_parquet_with_list_of_structs(tmp_path: Path, log_row: LogRow) -> None:
    """A Parquet drop with a nested results column reads like JSONL, flat segments included."""
    rows = [log_row(i) for i in range(10)]
    for row in rows:
        row["locale"] = row.pop("segment")["locale"]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "day.parquet")
    config = SourceConfig(
        kind="files",
        path=str(tmp_path / "*.parquet"),
        options={"segment_fields": ["locale"], "batch_size": 3},
    )
    got = list(FilesSource(config).fetch(START, END))
    assert len(got) == 10
    assert got[2].segment["locale"] == "de"
    assert [r.position for r in got[0].results] == [1, 2, 3]


def test_too_many_bad_lines_raise(write_jsonl: WriteJsonl, log_row: LogRow) -> None:
    """A file that is mostly garbage is refused with the counts."""
    path = write_jsonl("x.jsonl", [b"nope"] * 5 + [log_row(1)])
    with pytest.raises(SourceError, match="5 of 6 rows bad"):
        list(FilesSource(SourceConfig(kind="files", path=str(path))).fetch(START, END))


def test_no_matching_files_is_a_clear_error(tmp_path: Path) -> None:
    """A path that matches nothing names the path."""
    with pytest.raises(SourceError, match=r"no \.jsonl"):
        list(
            FilesSource(SourceConfig(kind="files", path=str(tmp_path / "*.jsonl"))).fetch(
                START, END
            )
        )


def test_empty_day(write_jsonl: WriteJsonl, log_row: LogRow) -> None:
    """A file with no rows in the window yields nothing and reports nothing bad."""
    path = write_jsonl("d.jsonl", [log_row(1)])
    source = FilesSource(SourceConfig(kind="files", path=str(path)))
    later = START + dt.timedelta(days=3)
    assert list(source.fetch(later, later + dt.timedelta(days=1))) == []
    assert source.report.bad == 0
