"""`labels import`: CSV, JSONL and qrels into human_labels, all or nothing, on real PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from monitor.errors import InputError
from monitor.labels import files as labels
from monitor.labels.files import import_labels, read_labels
from monitor.store.db import Database
from monitor.types import normalize_query

DAY = dt.date(2026, 11, 2)
HEADER = ("query", "result_id", "grade", "annotator")


def write_csv(path: Path, rows: Sequence[Sequence[Any]], header: Sequence[str] = HEADER) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def stored(database: Database) -> dict[tuple[str, str, str], int]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT query_norm, result_id, annotator, grade FROM human_labels")
        )
        return {(r.query_norm, r.result_id, r.annotator): r.grade for r in rows}


def test_public_names_exist() -> None:
    """Every name in monitor.labels.__all__ is defined."""
    missing = [name for name in labels.__all__ if not hasattr(labels, name)]
    assert missing == []


def test_csv_import_counts_and_reimport_adds_nothing(database: Database, tmp_path: Path) -> None:
    """A CSV imports each row once; re-importing it stores no duplicate and counts all unchanged."""
    rows = [("Red  Shoes", "d1", 3, "ann"), ("red shoes", "d2", 0, "ann"), ("hat", "d3", 2, "bob")]
    path = write_csv(tmp_path / "labels.csv", rows)
    first = import_labels(database, path)
    assert (first.format, first.rows, first.imported, first.updated) == ("csv", 3, 3, 0)
    assert stored(database) == {(normalize_query(q), r, a): g for q, r, g, a in rows}
    again = import_labels(database, path)
    assert (again.imported, again.updated, again.unchanged) == (0, 0, len(rows))
    assert len(stored(database)) == len(rows)


def test_changed_grade_updates_the_stored_label(database: Database, tmp_path: Path) -> None:
    """Re-importing with one grade changed updates that label in place and counts it."""
    rows = [("hat", "d1", 1, "ann"), ("hat", "d2", 2, "ann")]
    import_labels(database, write_csv(tmp_path / "a.csv", rows))
    changed = [("hat", "d1", 3, "ann"), ("hat", "d2", 2, "ann")]
    report = import_labels(database, write_csv(tmp_path / "b.csv", changed))
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 1)
    assert stored(database)[("hat", "d1", "ann")] == 3
    assert len(stored(database)) == 2


def test_same_pair_from_two_annotators_is_two_labels(database: Database, tmp_path: Path) -> None:
    """The key includes the annotator: two people grading one pair are both kept."""
    rows = [("hat", "d1", 1, "ann"), ("hat", "d1", 2, "bob")]
    report = import_labels(database, write_csv(tmp_path / "a.csv", rows))
    assert report.imported == 2
    assert set(stored(database).values()) == {1, 2}


def test_jsonl_import_with_default_annotator_and_extra_keys(
    database: Database, tmp_path: Path
) -> None:
    """JSONL rows import; --annotator fills rows without one; unknown keys are ignored."""
    path = tmp_path / "labels.jsonl"
    records = [
        {"query": "hat", "result_id": "d1", "grade": 2, "note": "x"},
        {"query": "hat", "result_id": "d2", "grade": "0", "annotator": "eve"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    report = import_labels(database, path, annotator="ann")
    assert (report.format, report.imported) == ("jsonl", 2)
    assert stored(database) == {("hat", "d1", "ann"): 2, ("hat", "d2", "eve"): 0}


def test_qrels_with_and_without_topics(database: Database, tmp_path: Path) -> None:
    """qrels take their query text from --topics; without topics the qid is the query."""
    qrels = tmp_path / "judged.qrels"
    qrels.write_text("101 0 docA 3\n101 0 docB 0\n102 Q0 docC 1\n", encoding="utf-8")
    topics = tmp_path / "topics.tsv"
    topics.write_text("101\tHow Tall is Everest\n102\tbest pizza\n", encoding="utf-8")
    with_topics = import_labels(database, qrels, topics=topics, annotator="nist")
    assert with_topics.imported == 3
    labels_now = stored(database)
    assert labels_now[("how tall is everest", "docA", "nist")] == 3
    assert labels_now[("best pizza", "docC", "nist")] == 1
    bare = read_labels(qrels, fmt="qrels")
    assert {r.query_text for r in bare} == {"101", "102"}
    assert {r.annotator for r in bare} == {qrels.name}


def test_bad_csv_lists_every_bad_line_and_imports_nothing(
    database: Database, tmp_path: Path
) -> None:
    """Unknown grades, a missing field and a duplicate are each reported; the table is unchanged."""
    import_labels(database, write_csv(tmp_path / "good.csv", [("hat", "d1", 1, "ann")]))
    before = stored(database)
    rows = [
        ("hat", "d1", 3, "ann"),  # line 2: fine (would update d1)
        ("hat", "d2", 5, "ann"),  # line 3: grade out of range
        ("hat", "d3", "high", "ann"),  # line 4: not a number
        ("", "d4", 1, "ann"),  # line 5: no query
        ("coat", "d5", 2, "ann"),  # line 6: fine
        ("Coat", "d5", 1, "ann"),  # line 7: duplicate of 6 (same normalized query)
        ("coat", "d6", "2.5", "ann"),  # line 8: not an integer
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    with pytest.raises(InputError) as caught:
        import_labels(database, path)
    message = str(caught.value)
    assert "nothing imported" in message
    for line, reason in [
        (3, "unknown grade 5"),
        (4, "unknown grade 'high'"),
        (5, "missing field 'query'"),
        (7, "duplicate of line 6"),
        (8, "unknown grade '2.5'"),
    ]:
        assert f"{path}:{line}: {reason}" in message
    assert f"{path}:2:" not in message and f"{path}:6:" not in message
    assert stored(database) == before


def test_bad_jsonl_and_missing_annotator_are_reported(database: Database, tmp_path: Path) -> None:
    """Broken JSON, a non-object and a row without annotator are bad lines; nothing is stored."""
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"query": "hat", "result_id": "d1", "grade": 1, "annotator": "a"}\n'
        "{not json\n"
        "[1, 2]\n"
        '{"query": "hat", "result_id": "d2", "grade": 1}\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError) as caught:
        import_labels(database, path)
    message = str(caught.value)
    assert f"{path}:2: not valid JSON" in message
    assert f"{path}:3: not a JSON object" in message
    assert f"{path}:4: missing field 'annotator'" in message
    assert stored(database) == {}


def test_bad_qrels_lines_are_reported(database: Database, tmp_path: Path) -> None:
    """qrels lines with the wrong field count, a bad grade or an unknown topic are listed."""
    qrels = tmp_path / "q.txt"
    qrels.write_text("1 0 a 1\n1 0 b\n1 0 c 4\n9 0 d 1\n", encoding="utf-8")
    topics = tmp_path / "t.tsv"
    topics.write_text("1\tfirst\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_labels(database, qrels, fmt="qrels", topics=topics, annotator="x")
    message = str(caught.value)
    assert f"{qrels}:2: 3 fields" in message
    assert f"{qrels}:3: unknown grade 4" in message
    assert f"{qrels}:4: qid 9 is not in the topics file" in message
    assert stored(database) == {}


def test_long_error_lists_are_cut_with_a_total(database: Database, tmp_path: Path) -> None:
    """With many bad lines the message lists the first ones and says how many more there are."""
    bad = 35
    path = write_csv(tmp_path / "many.csv", [("q", f"d{i}", 9, "a") for i in range(bad)])
    with pytest.raises(InputError) as caught:
        import_labels(database, path)
    message = str(caught.value)
    assert f"{bad} bad line(s)" in message
    assert message.count("unknown grade 9") == labels.MAX_LISTED
    assert f"and {bad - labels.MAX_LISTED} more" in message


def test_header_without_grade_is_one_clear_error(database: Database, tmp_path: Path) -> None:
    """A CSV whose header lacks a required column is rejected naming the column."""
    path = write_csv(tmp_path / "h.csv", [("hat", "d1", "a")], header=("query", "result_id", "x"))
    with pytest.raises(InputError, match="header lacks column"):
        import_labels(database, path)


def test_unmatched_pairs_are_counted_when_samples_exist(
    database: Database,
    tmp_path: Path,
    seed: Callable[..., None],
) -> None:
    """Labels whose (query, result) no stored sample has are counted, but still imported."""
    path = write_csv(
        tmp_path / "l.csv",
        [("hat", "h1", 2, "a"), ("hat", "zz", 1, "a"), ("never sampled", "h1", 0, "a")],
    )
    no_samples = import_labels(database, path)
    assert (no_samples.samples_checked, no_samples.unmatched) == (False, 0)
    seed(database, DAY, {"hat": ["h1", "h2"]}, {("hat", "h1"): {"j1": 2}})
    report = import_labels(database, path)
    assert report.samples_checked
    assert report.unmatched == 2
    assert len(stored(database)) == 3


def test_text_only_label_takes_the_sampled_result_id(
    database: Database, tmp_path: Path, seed: Callable[..., None]
) -> None:
    """A row with result_text but no id gets the id of the sampled result with that text."""
    seed(database, DAY, {"hat": ["h1", "h2"]}, {("hat", "h2"): {"j1": 1}})
    path = write_csv(
        tmp_path / "t.csv",
        [("hat", "body of h2", 3, "a"), ("hat", "never shown", 1, "a")],
        header=("query", "result_text", "grade", "annotator"),
    )
    report = import_labels(database, path)
    assert (report.imported, report.unmatched) == (2, 1)
    ids = {rid for _, rid, _ in stored(database)}
    assert "h2" in ids
    assert any(rid.startswith("text:") for rid in ids)


def test_missing_files_and_unknown_format_are_named(database: Database, tmp_path: Path) -> None:
    """A missing label or topics file, or an unknown --format, is an error naming it."""
    with pytest.raises(InputError, match=r"nope\.csv: label file not found"):
        import_labels(database, tmp_path / "nope.csv")
    qrels = tmp_path / "q.qrels"
    qrels.write_text("1 0 a 1\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"topics file .*missing\.tsv: not found"):
        import_labels(database, qrels, topics=tmp_path / "missing.tsv")
    with pytest.raises(InputError, match="unknown label format 'xml'"):
        import_labels(database, qrels, fmt="xml")
