"""A day rerun after its logs changed (late rows, a fixed export) stores what the new logs
give: no stale row beside a new one, nothing paid twice, unchanged rows kept as they were;
but a day already sent to annotators keeps its sample.

Every query of the small drop is sampled with certainty, so the stored weights of the
day must add up to exactly its searches: a mix of the first and the second sample would
not.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fault_setup import llm_config, scalar
from sqlalchemy import text

from monitor.config import SamplingConfig, Settings, SourceConfig, load_settings
from monitor.labels.annotation import export_for_annotation, select_for_annotation
from monitor.pipeline.day import run_day
from monitor.pipeline.steps import day_window
from monitor.sampling import sample_day
from monitor.sources.files import FilesSource
from monitor.store import label_reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.testing import FakeOpenAI
from monitor.types import SampledQuery

DAY = dt.date(2026, 3, 9)


def _search(qid: str, results: list[str], minute: int = 0) -> str:
    row: dict[str, Any] = {
        "query_id": f"{qid}-{minute}",
        "query": f"red shoes {qid}",
        "timestamp": f"2026-03-09T10:{minute:02d}:00Z",
        "results": [{"id": r, "title": f"shoe {r}", "text": f"red shoe {r}"} for r in results],
    }
    return json.dumps(row)


def _settings(drop: Path, base_url: str) -> Settings:
    return load_settings(
        judges=[llm_config(base_url)],
        source=SourceConfig(kind="files", path=str(drop)),
        sampling=SamplingConfig(size=50, min_per_stratum=1, top_k=3, strata=[]),
        judge_processes=1,
        canary_size=0,
    )


def _first_run(
    database: Database, server: FakeOpenAI, tmp_path: Path, lines: list[str]
) -> tuple[Path, Settings]:
    """The day's drop of ``lines``, run once: the drop (to change) and the settings."""
    drop = tmp_path / "day.jsonl"
    drop.write_text("\n".join(lines) + "\n")
    settings = _settings(drop, str(server.base_url))
    assert run_day(database, settings, DAY).status == "completed"
    return drop, settings


def _stored(database: Database) -> dict[str, tuple[int, float, list[str]]]:
    with database.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, query_norm, weight, results FROM samples WHERE sample_date = :d"),
            {"d": DAY},
        ).all()
    return {r.query_norm: (r.id, r.weight, [x["id"] for x in r.results]) for r in rows}


def test_a_rerun_over_changed_logs_replaces_only_what_changed(
    database: Database, server: FakeOpenAI, tmp_path: Path
) -> None:
    """Query a's list changed, b got two late searches, c is unchanged, d is new and e
    is gone: the day ends as a first run on the new logs would, paying only new results."""
    first = [_search(q, [f"{q}1", f"{q}2", f"{q}3"]) for q in "abce"]
    drop, settings = _first_run(database, server, tmp_path, first)
    before = _stored(database)
    assert sorted(before) == ["red shoes a", "red shoes b", "red shoes c", "red shoes e"]
    paid = server.total
    assert paid == 12

    second = [
        _search("a", ["a1", "a9", "a3"]),  # a2 replaced by a9
        _search("b", ["b1", "b2", "b3"]),
        _search("b", ["b1", "b2", "b3"], minute=5),  # late rows of b
        _search("b", ["b1", "b2", "b3"], minute=6),
        _search("c", ["c1", "c2", "c3"]),
        _search("d", ["d1", "d2", "d3"]),
    ]
    drop.write_text("\n".join(second) + "\n")
    outcome = run_day(database, settings, DAY)
    assert outcome.status == "completed"
    after = _stored(database)
    assert sorted(after) == ["red shoes a", "red shoes b", "red shoes c", "red shoes d"]
    assert sum(w for _, w, _ in after.values()) == len(second)  # every search once
    assert after["red shoes a"][2] == ["a1", "a9", "a3"]
    assert after["red shoes b"][1] == 3.0  # its late searches: the same row, weighed again
    assert after["red shoes b"][0] == before["red shoes b"][0]
    assert after["red shoes c"][0] == before["red shoes c"][0]  # kept as it was
    assert server.total - paid == 4, "only a9 and d's three results are new"
    # no verdict or ensemble grade is left of the rows that went
    orphans = (
        "SELECT count(*) FROM {t} x "
        "WHERE NOT EXISTS (SELECT 1 FROM samples s WHERE s.id = x.sample_id)"
    )
    assert scalar(database, orphans.format(t="verdicts")) == 0
    assert scalar(database, orphans.format(t="ensemble_grades")) == 0
    assert scalar(database, "SELECT count(*) FROM verdicts") == 12

    again = run_day(database, settings, DAY)  # the same logs again: nothing moves
    assert again.status == "completed" and _stored(database) == after
    assert server.total - paid == 4


def test_a_rerun_whose_source_returns_nothing_keeps_the_stored_day(
    database: Database, server: FakeOpenAI, tmp_path: Path
) -> None:
    """An empty read (a broken export, more likely than an empty day) replaces nothing."""
    drop, settings = _first_run(database, server, tmp_path, [_search("a", ["a1", "a2", "a3"])])
    before = _stored(database)
    drop.write_text("\n")
    run_day(database, settings, DAY)
    assert _stored(database) == before


def test_a_day_sent_for_annotation_keeps_its_sample(
    database: Database, server: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The annotators' files name the day's sample ids and the pick is a random subset
    of that sample: a rerun over changed logs keeps it whole, and says so."""
    abcd = [_search(q, [f"{q}1", f"{q}2", f"{q}3"]) for q in "abcd"]
    drop, settings = _first_run(database, server, tmp_path, abcd)
    export_for_annotation(database, day=DAY, queries=2, seed=1, out_dir=tmp_path / "out")
    before = _stored(database)
    picked = scalar(database, "SELECT count(*) FROM samples WHERE signals ? 'annotation'")
    assert picked == 2
    with caplog.at_level(logging.WARNING, logger="monitor.store.stale_samples"):
        assert run_day(database, settings, DAY).status == "completed"  # the same logs
    assert _stored(database) == before and "sent for annotation" not in caplog.text

    drop.write_text("\n".join(_search(q, [f"{q}1", f"{q}9", f"{q}3"]) for q in "abce") + "\n")
    with caplog.at_level(logging.WARNING, logger="monitor.store.stale_samples"):
        assert run_day(database, settings, DAY).status == "completed"
    assert _stored(database) == before
    assert scalar(database, "SELECT count(*) FROM samples WHERE signals ? 'annotation'") == 2
    assert "sent for annotation" in caplog.text and "4 of its rows" in caplog.text


def _store(database: Database, queries: list[SampledQuery]) -> None:
    with database.engine.begin() as conn:
        repo.upsert_samples(conn, day=DAY, queries=queries, top_k=3, replace_stale=True)


def test_a_pick_being_recorded_holds_a_rerun_until_it_is_done(
    database: Database, server: FakeOpenAI, tmp_path: Path
) -> None:
    """An annotation pick commits while a rerun over changed logs stores the day: the
    rerun waits for it, then keeps the day whole (no picked row is deleted under the
    annotators' files)."""
    abcd = [_search(q, [f"{q}1", f"{q}2", f"{q}3"]) for q in "abcd"]
    _, settings = _first_run(database, server, tmp_path, abcd)
    before = _stored(database)
    changed = [
        replace(q, record=replace(q.record, results=q.record.results[:1]))
        for q in sample_day(
            FilesSource(settings.source).fetch(*day_window(DAY)), day=DAY, config=settings.sampling
        ).queries
    ]
    with database.engine.begin() as conn:  # the export's transaction, mid-way
        label_reads.lock_day_sample(conn, day=DAY)
        samples = label_reads.day_samples(conn, day=DAY)
        picks, _ = select_for_annotation(samples, queries=2, seed=1, day=DAY)
        label_reads.record_selection(conn, day=DAY, picks=picks)
        rerun = threading.Thread(target=_store, args=(database, changed))
        rerun.start()
        rerun.join(timeout=1.0)
        assert rerun.is_alive(), "the rerun went on while the pick was being recorded"
    rerun.join(timeout=30)
    assert not rerun.is_alive()
    assert _stored(database) == before
    assert scalar(database, "SELECT count(*) FROM samples WHERE signals ? 'annotation'") == 2


def test_a_day_sent_for_annotation_keeps_its_sample_under_a_new_configuration(
    database: Database, server: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A change of configuration starts a day's sample afresh, but not one out for
    labelling: its rows and pick stay, and only its grades are given again (from the
    verdict cache, so nothing is paid)."""
    abcd = [_search(q, [f"{q}1", f"{q}2", f"{q}3"]) for q in "abcd"]
    _, settings = _first_run(database, server, tmp_path, abcd)
    export_for_annotation(database, day=DAY, queries=2, seed=1, out_dir=tmp_path / "out")
    before, paid = _stored(database), server.total
    grades = "SELECT count(*) FROM ensemble_grades WHERE sample_date = '2026-03-09'"
    assert scalar(database, "SELECT count(*) FROM verdicts") == scalar(database, grades) == 12

    changed = settings.model_copy(
        update={"sampling": settings.sampling.model_copy(update={"seed": 7})}
    )
    assert changed.config_hash() != settings.config_hash()
    with caplog.at_level(logging.WARNING, logger="monitor.store.repository"):
        assert run_day(database, changed, DAY).status == "completed"
    assert _stored(database) == before
    assert scalar(database, "SELECT count(*) FROM samples WHERE signals ? 'annotation'") == 2
    assert "configuration changed" in caplog.text
    assert scalar(database, "SELECT count(*) FROM verdicts") == scalar(database, grades) == 12
    assert server.total == paid
