"""TREC runs and qrels, from the real DL19 data (when present) and from small files in tmp_path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from real_data import DL19

from monitor.config import SourceConfig
from monitor.errors import InputError
from monitor.sources.base import BadRows
from monitor.sources.trec import TrecSource, read_qrels

START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)


@pytest.mark.dl19
def test_dl19_jsonl_run_and_qrels() -> None:
    """The real DL19 bm25 run reads as 43 ranked queries whose docids the qrels judge."""
    source = TrecSource(
        SourceConfig(kind="trec", path=str(DL19 / "run.bm25.jsonl"), options={"depth": 10})
    )
    records = list(source.fetch(START, END))
    assert len(records) == 43 and source.report.bad == 0
    assert records[0].ranker == "bm25" and len(records[0].results) == 10
    qrels = read_qrels(DL19 / "qrels.dl19-passage.txt")
    judged = {(q, d) for q, d, _ in qrels}
    assert all((r.query_id, x.id) in judged for r in records for x in r.results)
    assert {g for _, _, g in qrels} == {0, 1, 2, 3}


def test_standard_run_with_topics_and_passages(tmp_path: Path) -> None:
    """The `qid Q0 docid rank score tag` format joins topics and passage texts."""
    (tmp_path / "run.txt").write_text("1 Q0 b 2 1.0 t\n1 Q0 a 1 2.0 t\n2 Q0 c 1 1.0 t\nbroken\n")
    (tmp_path / "topics.tsv").write_text("1\tred shoes\n2\tblue hats\n")
    (tmp_path / "passages.tsv").write_text("a\tshoe text\nb\tother\nc\that text\nz\tunused\n")
    config = SourceConfig(
        kind="trec",
        path=str(tmp_path / "run.txt"),
        max_bad_row_share=0.5,
        options={
            "topics": str(tmp_path / "topics.tsv"),
            "passages": str(tmp_path / "passages.tsv"),
        },
    )
    source = TrecSource(config)
    records = list(source.fetch(START, END))
    assert [r.query for r in records] == ["red shoes", "blue hats"]
    assert [(x.id, x.text) for x in records[0].results] == [("a", "shoe text"), ("b", "other")]
    assert source.report.examples["bad run line"] == ["line 4"]


def test_qrels_bad_lines_named(tmp_path: Path) -> None:
    """Malformed qrels lines are reported with their line numbers."""
    path = tmp_path / "qrels.txt"
    path.write_text("1 0 a 2\n1 0 b x\n1 0 c\n")
    with pytest.raises(InputError, match="lines 2, 3"):
        read_qrels(path)
    report = BadRows(source="qrels")
    assert read_qrels(path, report) == [("1", "a", 2)]
    assert report.examples["bad qrels line"] == ["line 2", "line 3"]
