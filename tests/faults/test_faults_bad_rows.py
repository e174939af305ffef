"""Bad rows never kill a day: each is refused with its reason and line, the rest is judged.

One JSONL drop holds good searches and, on one line each, what production logs really
contain: a NUL byte (PostgreSQL cannot store it), ``Infinity`` and ``NaN`` numbers,
a NaN or an object where a text belongs. The day completes on the good rows, and the
run's counts name every bad row's reason and line.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monitor.config import JudgeConfig, SourceConfig, load_settings
from monitor.pipeline.day import run_day
from monitor.sources import base
from monitor.store.db import Database

DAY = dt.date(2026, 3, 2)
STAMP = "2026-03-02T10:00:00Z"


def _row(qid: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "query_id": qid,
        "query": f"red shoes {qid}",
        "timestamp": STAMP,
        "locale": "en",
        "results": [
            {"id": f"{qid}-1", "title": "red shoes", "text": "red running shoes"},
            {"id": f"{qid}-2", "title": "blue shoes", "text": "blue shoes for running"},
        ],
    }
    row.update(overrides)
    return row


def _bad_result(qid: str, **fields: Any) -> dict[str, Any]:
    return _row(qid, results=[{"id": f"{qid}-1", "title": "shoes", **fields}])


#: (line content, the reason it must be counted under)
BAD_LINES: list[tuple[str, str]] = [
    (json.dumps(_row("nul", query="red\u0000shoes")), base.NUL_BYTE),
    (json.dumps(_bad_result("nultext", text="a\u0000b")), base.NUL_BYTE),
    (json.dumps(_row("inf", clicks=float("inf"))), base.NON_FINITE),
    (json.dumps(_bad_result("nanscore", score=float("nan"))), base.NON_FINITE),
    (json.dumps(_bad_result("nantext", text=float("nan"))), base.BAD_TEXT),
    (json.dumps(_bad_result("objtext", text={"html": "<b>shoes</b>"})), base.BAD_TEXT),
    (json.dumps(_row("nanquery", query=float("nan"))), base.BAD_TEXT),
]


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """A day's drop: 20 good rows with the bad ones spread among them."""
    lines = [json.dumps(_row(str(i))) for i in range(20)]
    for offset, (line, _) in enumerate(BAD_LINES):
        lines.insert(2 * offset + 1, line)
    # one bad row outside the day still counts as read and bad, and never fails the day
    lines.append(json.dumps(_row("late", timestamp="2026-03-05T10:00:00Z", clicks=float("inf"))))
    path = tmp_path / "day.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_day_with_bad_rows_completes_on_the_good_ones(database: Database, drop: Path) -> None:
    """Every bad row is counted under its reason with its line; 20 searches are sampled."""
    settings = load_settings(
        source=SourceConfig(kind="files", path=str(drop), max_bad_row_share=0.5),
        judges=[JudgeConfig(name="lex", kind="lexical", api_key_env=None)],
    )
    outcome = run_day(database, settings, DAY)
    assert outcome.status == "completed"
    assert outcome.counts["sampled"] == 20
    expected: dict[str, int] = {}
    for _, reason in BAD_LINES:
        expected[reason] = expected.get(reason, 0) + 1
    expected[base.NON_FINITE] += 1  # the row outside the day
    assert outcome.counts["bad_rows_by_reason"] == expected
    with database.engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM samples")).scalar_one()
        bad_queries = conn.execute(
            text("SELECT count(*) FROM samples WHERE query_id IN ('nul', 'inf', 'nantext')")
        ).scalar_one()
    assert stored == 20 and bad_queries == 0


@pytest.mark.parametrize(("line", "reason"), BAD_LINES)
def test_each_bad_row_names_its_reason_and_line(tmp_path: Path, line: str, reason: str) -> None:
    """Read alone, a bad row is reported as ``file:line`` under its reason."""
    from monitor.sources.files import FilesSource

    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(_row("ok")) + "\n" + line + "\n")
    source = FilesSource(SourceConfig(kind="files", path=str(path), max_bad_row_share=1.0))
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    records = list(source.fetch(start, start + dt.timedelta(days=1)))
    assert [r.query_id for r in records] == ["ok"]
    assert dict(source.report.counts) == {reason: 1}
    assert source.report.examples[reason] == ["one.jsonl:2"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_labels_file_with_a_nul_byte_is_reported_by_line(
    database: Database, tmp_path: Path, fmt: str
) -> None:
    """A labels file with a NUL byte names the line and field, and imports nothing."""
    from monitor.errors import InputError
    from monitor.labels.files import import_labels

    rows = [
        {"query": "red shoes", "result_id": "r1", "grade": 2, "annotator": "ann"},
        {"query": "red\u0000shoes", "result_id": "r2", "grade": 1, "annotator": "ann"},
    ]
    path = tmp_path / f"labels.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        lines = ["query,result_id,grade,annotator"]
        lines += [f"{r['query']},{r['result_id']},{r['grade']},{r['annotator']}" for r in rows]
        path.write_text("\n".join(lines) + "\n")
    line = 2 if fmt == "jsonl" else 3  # the CSV's header is line 1
    with pytest.raises(InputError, match=rf"labels\.{fmt}:{line}: field 'query' holds a NUL byte"):
        import_labels(database, path)
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM human_labels")).scalar_one() == 0
