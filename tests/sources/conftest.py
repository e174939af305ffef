"""Fixtures for the source and sampling tests: log rows and writers for real files."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

DAY = dt.date(2024, 5, 1)
START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
END = dt.datetime(2024, 5, 2, tzinfo=dt.UTC)


def _log_row(i: int, *, hour: int = 12, day: dt.date = DAY, **over: Any) -> dict[str, Any]:
    """One well-formed search-log row in the common shape."""
    row: dict[str, Any] = {
        "query_id": f"q{i}",
        "query": f"red shoes {i % 7}",
        "timestamp": dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).isoformat(),
        "results": [
            {"id": f"d{i}-{p}", "position": p, "title": f"title {p}", "text": f"text {p}"}
            for p in range(1, 4)
        ],
        "segment": {"locale": "de" if i % 3 else "en"},
        "clicks": i % 2,
    }
    row.update(over)
    return row


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[[str, list[Any]], Path]:
    """Write rows (dicts, or raw bytes for broken lines) as a JSONL file in tmp_path."""

    def write(name: str, rows: list[Any]) -> Path:
        path = tmp_path / name
        with path.open("wb") as fh:
            for row in rows:
                fh.write(row if isinstance(row, bytes) else json.dumps(row).encode())
                fh.write(b"\n")
        return path

    return write


@pytest.fixture
def log_row() -> Callable[..., dict[str, Any]]:
    """Build well-formed log rows: ``log_row(i, **overrides)``."""
    return _log_row
