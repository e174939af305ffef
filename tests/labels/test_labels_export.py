"""`labels export --disagreements`: the most disagreed pairs first, in a re-importable shape."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.errors import InputError
from monitor.labels.files import export_disagreements, import_labels, write_disagreements
from monitor.store.db import Database

DAY = dt.date(2026, 11, 3)
QUERIES = {"hat": ["h1", "h2", "h3"], "coat": ["c1", "c2"]}
GRADES: dict[tuple[str, str], dict[str, int | None]] = {
    ("hat", "h1"): {"a": 0, "b": 3, "c": 3},  # spread 3, a lone dissenter against two
    ("hat", "h2"): {"a": 2, "b": 2, "c": 2},  # unanimous
    ("hat", "h3"): {"a": 1, "b": 1, "c": None},  # unanimous among valid answers
    ("coat", "c1"): {"a": 0, "b": 3, "c": 1},  # spread 3, grades spread out (smaller stddev)
    ("coat", "c2"): {"a": 1, "b": 2, "c": 2},  # spread 1
}


def _expected_order() -> list[tuple[str, str]]:
    def key(pair: tuple[str, str]) -> tuple[float, float]:
        valid = [g for g in GRADES[pair].values() if g is not None]
        return (-(max(valid) - min(valid)), -statistics.pstdev(valid))

    return sorted(GRADES, key=key)


@pytest.fixture
def seeded(database: Database, seed: Callable[..., None]) -> Database:
    seed(database, DAY, QUERIES, GRADES)
    seed(database, DAY - dt.timedelta(days=1), {"old": ["o1"]}, {("old", "o1"): {"a": 0, "b": 3}})
    return database


def test_most_disagreed_pairs_come_first(seeded: Database) -> None:
    """Pairs are ordered by disagreement, ties broken by the spread of the judges' grades."""
    rows = export_disagreements(seeded, day=DAY, limit=10)
    assert [(r.query, r.result_id) for r in rows] == _expected_order()
    top = rows[0]
    assert {o.judge: o.grade for o in top.judges} == GRADES[(top.query, top.result_id)]
    assert all(o.reasoning.startswith(o.judge) for o in top.judges)
    assert top.title == f"title {top.result_id}" and top.text == f"body of {top.result_id}"


def test_limit_and_day_are_respected(seeded: Database) -> None:
    """Only the asked day's pairs are exported, at most ``limit`` of them."""
    rows = export_disagreements(seeded, day=DAY, limit=2)
    assert [(r.query, r.result_id) for r in rows] == _expected_order()[:2]
    assert all(r.query != "old" for r in export_disagreements(seeded, day=DAY, limit=50))
    assert export_disagreements(seeded, day=DAY + dt.timedelta(days=5)) == []
    with pytest.raises(InputError, match="limit"):
        export_disagreements(seeded, day=DAY, limit=0)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_reimports_once_grades_are_filled(
    seeded: Database, tmp_path: Path, fmt: str
) -> None:
    """The export's file, with grade and annotator filled in, imports as labels for those pairs."""
    rows = export_disagreements(seeded, day=DAY, limit=3)
    buffer = io.StringIO()
    write_disagreements(rows, buffer, fmt=fmt)
    path = tmp_path / f"todo.{fmt}"
    if fmt == "csv":
        records = list(csv.DictReader(io.StringIO(buffer.getvalue())))
        assert all(r["grade"] == "" for r in records)
        for i, r in enumerate(records):
            r["grade"] = str(i % 4)
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    else:
        parsed = [json.loads(line) for line in buffer.getvalue().splitlines()]
        assert all(r["grade"] is None for r in parsed)
        for i, r in enumerate(parsed):
            r["grade"] = i % 4
        path.write_text("\n".join(json.dumps(r) for r in parsed), encoding="utf-8")
    report = import_labels(seeded, path, annotator="reviewer")
    assert (report.imported, report.unmatched) == (len(rows), 0)
    with seeded.engine.connect() as conn:
        got = conn.execute(
            text("SELECT query_norm, result_id, grade, result_text FROM human_labels")
        ).all()
    assert {(g.query_norm, g.result_id) for g in got} == {(r.query, r.result_id) for r in rows}
    assert all(g.result_text.startswith("body of") for g in got)


def test_unfilled_export_is_refused_on_import(seeded: Database, tmp_path: Path) -> None:
    """Importing an export whose grades are still empty reports each line's missing grade."""
    path = tmp_path / "todo.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        write_disagreements(export_disagreements(seeded, day=DAY, limit=2), fh, fmt="csv")
    with pytest.raises(InputError) as caught:
        import_labels(seeded, path, annotator="x")
    assert f"{path}:2: missing field 'grade'" in str(caught.value)
    assert f"{path}:3: missing field 'grade'" in str(caught.value)
