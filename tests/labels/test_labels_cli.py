"""`judge-monitor labels import|export` as a user runs them: a real process, real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from monitor.cli.labels import parse_day
from monitor.errors import InputError
from monitor.labels.files import import_labels
from monitor.store.db import Database

DAY = dt.date(2026, 11, 4)
Cli = Callable[..., subprocess.CompletedProcess[str]]


def _count(database: Database) -> int:
    with database.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM human_labels")).scalar_one())


def test_import_prints_counts_and_bad_file_exits_1(
    cli: Cli, database: Database, tmp_path: Path
) -> None:
    """import prints imported/updated/unchanged/unmatched; a bad file lists lines, stores none."""
    good = tmp_path / "good.csv"
    good.write_text("query,result_id,grade,annotator\nhat,d1,2,ann\nhat,d2,1,ann\n")
    out = cli("labels", "import", str(good))
    assert out.returncode == 0, out.stderr
    assert "imported 2, updated 0, unchanged 0, unmatched 0" in out.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("query,result_id,grade,annotator\nhat,d1,7,ann\nhat,d3,1,ann\n")
    failed = cli("labels", "import", str(bad))
    assert failed.returncode == 1
    assert f"{bad}:2: unknown grade 7" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert _count(database) == 2


def test_export_then_import_round_trip(
    cli: Cli, database: Database, tmp_path: Path, seed: Callable[..., None]
) -> None:
    """export prints a table, or with --out a CSV that imports as labels once filled in."""
    grades = {("hat", "h1"): {"a": 0, "b": 3}, ("hat", "h2"): {"a": 1, "b": 1}}
    seed(database, DAY, {"hat": ["h1", "h2"]}, grades)
    shown = cli("labels", "export", "--disagreements", "--date", DAY.isoformat())
    assert shown.returncode == 0, shown.stderr
    assert "h1" in shown.stdout and "a=0" in shown.stdout
    todo = tmp_path / "todo.csv"
    made = cli(
        "labels",
        "export",
        "--disagreements",
        "--date",
        str(DAY),
        "--limit",
        "1",
        "--out",
        str(todo),
    )
    assert made.returncode == 0, made.stderr
    with todo.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["result_id"] for r in rows] == ["h1"]
    rows[0]["grade"] = "2"
    with todo.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    back = import_labels(database, todo, annotator="me")
    assert (back.imported, back.unmatched) == (1, 0)
    assert _count(database) == 1


def test_bad_date_names_the_option() -> None:
    """A malformed --date is an InputError naming the value and the wanted form."""
    with pytest.raises(InputError, match=r"--date '20-11-2026': not a date, want YYYY-MM-DD"):
        parse_day("20-11-2026")
    assert parse_day(DAY.isoformat()) == DAY
