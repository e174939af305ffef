"""The annotation stream: random within-strata picks out, Label Studio (and CSV/JSONL) back in,
linked to the day and sample, never a judge grade shown."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import InputError
from monitor.labels.annotation import export_for_annotation, select_for_annotation
from monitor.labels.annotation_import import import_annotations
from monitor.labels.labelstudio import grade_scale, labeling_config
from monitor.store import label_reads, sample_reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.label_reads import DaySample
from monitor.types import GRADE_LABELS, Result, SampledQuery, SearchRecord, Verdict, VerdictStatus

DAY = dt.date(2026, 11, 3)
#: stratum -> how many of the day's sampled queries it holds
STRATA = {"locale=de": 12, "locale=en": 24, "locale=fr": 4}
JUDGE_TELL = "JUDGE-REASONING-MARKER"


def _sampled(day: dt.date, strata: dict[str, int]) -> list[SampledQuery]:
    stamp = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    out = []
    for stratum, count in strata.items():
        for i in range(count):
            q = f"{stratum} query {i}"
            out.append(
                SampledQuery(
                    record=SearchRecord(
                        query_id=f"{stratum}-{i}",
                        query=q,
                        timestamp=stamp,
                        results=tuple(
                            Result(id=f"{q}/r{p}", position=p, title=f"t{p}", text=f"body {p}")
                            for p in range(1, 4)
                        ),
                        segment={"locale": stratum.split("=")[1]},
                    ),
                    stratum=stratum,
                    inclusion_probability=0.25,
                )
            )
    return out


@pytest.fixture
def seeded(database: Database) -> Database:
    """A day of samples in three strata, each result graded by a judge with reasoning."""
    with database.engine.begin() as conn:
        ids = repo.upsert_samples(conn, day=DAY, queries=_sampled(DAY, STRATA), top_k=10)
        judge = repo.ensure_judge(
            conn, name="j", kind="llm", model="m", prompt_version="p", config_hash="c", params={}
        )
        verdicts = [
            repo.StoredVerdict(
                sample_id,
                judge,
                f"{norm}/r{p}",
                p,
                Verdict(
                    judge="j",
                    cache_key=f"{sample_id}-{p}",
                    status=VerdictStatus.OK,
                    grade=3,
                    reasoning=JUDGE_TELL,
                ),
            )
            for (_, norm, _), sample_id in ids.items()
            for p in range(1, 4)
        ]
        repo.write_verdicts(conn, verdicts=verdicts)
        repo.upsert_ensemble_grades(
            conn,
            rows=[(v.sample_id, v.result_id, v.position, 3.0, 0.0, 1, "median") for v in verdicts],
        )
    return database


def _tasks(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def _annotated(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label Studio's JSON export of the tasks, as two annotators would leave it: the first
    task nobody annotated, the second skipped, the rest graded by position."""
    out = []
    for i, t in enumerate(tasks, start=1):
        exported: dict[str, Any] = {"id": i, "data": t["data"], "project": 1, "annotations": []}
        if i == 2:
            exported["annotations"] = [{"id": 1, "result": [], "was_cancelled": True}]
        elif i > 2:
            grade = str(t["data"]["position"] % 4)
            exported["annotations"] = [
                {
                    "id": 100 + i,
                    "completed_by": 7 if i % 2 else {"id": 8, "email": "ann@example.org"},
                    "was_cancelled": False,
                    "result": [
                        {
                            "id": f"r{i}",
                            "from_name": "grade",
                            "to_name": "result",
                            "type": "choices",
                            "origin": "manual",
                            "value": {"choices": [grade]},
                        }
                    ],
                }
            ]
        out.append(exported)
    return out


def test_label_studio_round_trip_links_labels_to_samples(seeded: Database, tmp_path: Path) -> None:
    """Export → Label Studio export JSON → import stores each grade, linked to its sample."""
    done = export_for_annotation(seeded, day=DAY, queries=8, seed=1, out_dir=tmp_path)
    assert done.queries == 8 and done.results == 24
    tasks = _tasks(tmp_path / "annotation-2026-11-03.labelstudio.json")
    assert len(tasks) == 24
    export = tmp_path / "ls-export.json"
    export.write_text(json.dumps(_annotated(tasks)), encoding="utf-8")
    report = import_annotations(seeded, export)
    assert report.format == "labelstudio" and report.skipped == 2
    assert report.rows == report.imported == report.linked == 22 and report.unexported == 0
    assert report.days == (DAY,)
    with seeded.engine.connect() as conn:
        picked = label_reads.selected_samples(conn, first=DAY, last=DAY)
        keys = [
            (t["data"]["query"].casefold(), t["data"]["result_id"], who)
            for t in tasks[2:]
            for who in ("labelstudio:7", "labelstudio:ann@example.org")
        ]
        stored = sample_reads.label_grades(conn, keys=keys)
    assert {s.id for s in picked} == {t["data"]["sample_id"] for t in tasks}
    by_sample = {s.id: s for s in picked}
    for t in tasks[2:]:
        grades = by_sample[t["data"]["sample_id"]].grades[t["data"]["result_id"]]
        assert grades == [t["data"]["position"] % 4]
    assert len(stored) == 22
    assert all(s.day == DAY and 0 < s.selection["probability"] <= 1 for s in picked)


def test_picks_are_proportional_to_strata_with_one_each(seeded: Database, tmp_path: Path) -> None:
    """N is split over strata by their size (at least one each), and each sample records
    its stratum's selection probability n_h / N_h."""
    done = export_for_annotation(
        seeded, day=DAY, queries=10, seed=3, out_dir=tmp_path, formats=["csv"]
    )
    got = {p.stratum: (p.size, p.picked) for p in done.strata}
    assert got == {"locale=de": (12, 3), "locale=en": (24, 6), "locale=fr": (4, 1)}
    with seeded.engine.connect() as conn:
        samples = label_reads.day_samples(conn, day=DAY)
    marked = collections.Counter(s.stratum for s in samples if s.selection)
    assert marked == {"locale=de": 3, "locale=en": 6, "locale=fr": 1}
    for s in samples:
        if s.selection:
            size, picked = got[s.stratum]
            assert s.selection["probability"] == pytest.approx(picked / size)
            assert s.selection["stratum_size"] == size


def _day(counts: dict[str, int]) -> list[DaySample]:
    ids = iter(range(1, 10_000))
    return [
        DaySample(next(ids), DAY, "production", "q", "q", "q", stratum, 1.0, [], None)
        for stratum, n in counts.items()
        for _ in range(n)
    ]


def test_picks_are_uniform_within_each_stratum() -> None:
    """Over many seeds, every sample of a stratum is picked with its recorded probability."""
    day = _day({"a": 10, "b": 5, "c": 1})
    hits: collections.Counter[int] = collections.Counter()
    runs = 3000
    for seed in range(runs):
        picks, table = select_for_annotation(day, queries=6, seed=seed, day=DAY)
        hits.update(list(picks))
    probabilities = {p.stratum: p.probability for p in table}
    assert probabilities == {"a": 0.3, "b": 0.4, "c": 1.0}  # c: the minimum of one
    for sample in day:
        assert hits[sample.id] / runs == pytest.approx(probabilities[sample.stratum], abs=0.04)


def test_fewer_queries_than_strata_is_a_simple_random_sample() -> None:
    """With N below the number of strata, every sample has the same probability N / M."""
    picks, table = select_for_annotation(_day({"a": 6, "b": 3, "c": 1}), queries=2, seed=0, day=DAY)
    assert len(picks) == 2 and {p["design"] for p in picks.values()} == {"simple"}
    assert [p.probability for p in table] == [0.2]
    with pytest.raises(InputError, match="--queries must be a positive number"):
        select_for_annotation(_day({"a": 2}), queries=0, seed=0, day=DAY)


def test_no_judge_grade_in_any_exported_file(seeded: Database, tmp_path: Path) -> None:
    """No exported file carries a judge's grade, reasoning or the ensemble grade."""
    done = export_for_annotation(seeded, day=DAY, queries=5, seed=2, out_dir=tmp_path)
    names = {p.name for p in done.files}
    assert names == {
        "annotation-2026-11-03.csv",
        "annotation-2026-11-03.jsonl",
        "annotation-2026-11-03.labelstudio.json",
        "annotation-2026-11-03.labelstudio.xml",
        "annotation-2026-11-03.guideline.md",
    }
    for path in done.files:
        body = path.read_text(encoding="utf-8")
        assert JUDGE_TELL not in body and "ensemble" not in body.lower()
        assert "judge" not in body.lower() and "prediction" not in body.lower()
    rows = list(csv.DictReader((tmp_path / "annotation-2026-11-03.csv").open(encoding="utf-8")))
    assert len(rows) == 15 and all(r["grade"] == "" and r["annotator"] == "" for r in rows)
    for t in _tasks(tmp_path / "annotation-2026-11-03.labelstudio.json"):
        assert set(t) == {"data"}
        assert set(t["data"]) == {
            "query", "result", "title", "text", "day", "sample_id", "query_id", "position",
            "result_id",
        }  # fmt: skip


def test_labeling_config_has_the_graded_scale() -> None:
    """The config's Choices control offers 0–3 with the judges' own grade names and rubric."""
    view = ET.fromstring(labeling_config())
    choices = view.find("Choices")
    assert choices is not None and choices.get("name") == "grade"
    assert choices.get("toName") == "result" and choices.get("required") == "true"
    options = {c.get("alias"): c.get("value") for c in choices.findall("Choice")}
    assert options == {str(g): f"{g} — {name}" for g, name in GRADE_LABELS.items()}
    text = ET.tostring(view, encoding="unicode")
    for definition in grade_scale().values():
        assert definition in text
    assert "fully satisfies it" in grade_scale()[3]
    assert {t.get("value") for t in view.findall("Text")} == {"$query", "$result"}


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_csv_and_jsonl_round_trip(seeded: Database, tmp_path: Path, fmt: str) -> None:
    """The CSV/JSONL export, grades filled in, imports linked to its samples; again: unchanged."""
    export_for_annotation(seeded, day=DAY, queries=4, seed=5, out_dir=tmp_path, formats=[fmt])
    path = tmp_path / f"annotation-2026-11-03.{fmt}"
    if fmt == "csv":
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        for r in rows:
            r.update(grade=str(int(r["position"]) - 1), annotator="ann")
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    else:
        records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for r in records:
            r.update(grade=r["position"] - 1, annotator="ann")
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    first = import_annotations(seeded, path)
    assert first.rows == first.imported == first.linked == 12 and first.format == fmt
    again = import_annotations(seeded, path)
    assert again.unchanged == 12 and again.imported == again.updated == 0
    with seeded.engine.connect() as conn:
        picked = label_reads.selected_samples(conn, first=DAY, last=DAY)
    assert len(picked) == 4
    assert all(s.grades == {f"{r['id']}": [r["position"] - 1] for r in s.results} for s in picked)


def test_labels_for_results_not_exported_are_accepted(seeded: Database, tmp_path: Path) -> None:
    """A grade for a result the export did not show, or with no sample, is still stored."""
    export_for_annotation(seeded, day=DAY, queries=3, seed=0, out_dir=tmp_path, formats=["jsonl"])
    first = json.loads((tmp_path / "annotation-2026-11-03.jsonl").read_text().splitlines()[0])
    path = tmp_path / "extra.jsonl"
    rows = [
        {**first, "grade": 2, "annotator": "ann"},
        {**first, "result_id": "never-shown", "grade": 1, "annotator": "ann"},
        {"query": "a query no sample has", "result_id": "x1", "grade": 3, "annotator": "ann"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = import_annotations(seeded, path)
    assert report.rows == report.imported == 3
    assert report.linked == 2 and report.unexported == 1
    with seeded.engine.connect() as conn:
        stored = sample_reads.label_grades(
            conn,
            keys=[
                (first["query"].casefold(), "never-shown", "ann"),
                ("a query no sample has", "x1", "ann"),
            ],
        )
    assert sorted(stored.values()) == [1, 3]


def test_bad_csv_lines_are_listed_and_nothing_is_imported(seeded: Database, tmp_path: Path) -> None:
    """NUL bytes, unknown grades, missing ids and foreign samples: each line is reported with
    its reason, and no label of the file is stored."""
    export_for_annotation(seeded, day=DAY, queries=3, seed=0, out_dir=tmp_path, formats=["csv"])
    path = tmp_path / "annotation-2026-11-03.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, next(csv.reader([line])), strict=True)) for line in lines[1:]]
    for r in rows:
        r.update(grade="2", annotator="ann")
    rows[1]["grade"] = "5"
    rows[2]["result_id"] = ""
    rows[3]["sample_id"] = "999999"
    rows[4]["day"] = "2026-11-02"
    rows[5]["grade"] = "highly"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    text = path.read_text(encoding="utf-8").splitlines()
    text[7] = text[7].replace("body", "bo\x00dy")  # line 8 of the file: row 7
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_annotations(seeded, path)
    message = str(caught.value)
    assert "6 bad line(s), nothing imported" in message
    assert f"{path}:3: unknown grade '5' (want an integer 0–3)" in message
    assert f"{path}:4: missing field 'result_id'" in message
    assert f"{path}:5: sample 999999 is not stored" in message
    assert "is of 2026-11-03, not 2026-11-02" in message and f"{path}:6:" in message
    assert f"{path}:7: unknown grade 'highly'" in message
    assert f"{path}:8: NUL byte in the line" in message
    with seeded.engine.connect() as conn:
        picked = label_reads.selected_samples(conn, first=DAY, last=DAY)
    assert all(s.grades == {} for s in picked)


def test_bad_label_studio_tasks_are_listed(seeded: Database, tmp_path: Path) -> None:
    """A Label Studio export's bad tasks are reported by task number; nothing is imported."""
    export_for_annotation(seeded, day=DAY, queries=3, seed=0, out_dir=tmp_path)
    exported = _annotated(_tasks(tmp_path / "annotation-2026-11-03.labelstudio.json"))
    exported[2]["data"].pop("result_id")
    exported[3]["annotations"][0]["result"][0]["value"]["choices"] = ["7"]
    exported[4]["data"]["query"] = "nul\u0000query"
    exported[5]["annotations"][0]["result"] = []
    exported[6]["data"]["sample_id"] = "abc"
    path = tmp_path / "export.json"
    path.write_text(json.dumps(exported), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_annotations(seeded, path)
    message = str(caught.value)
    assert f"{path}:3: missing field 'result_id'" in message
    assert f"{path}:4: unknown grade '7'" in message
    assert f"{path}:5: NUL byte in a field" in message
    assert f"{path}:6: annotation has no 'grade' choice" in message
    assert f"{path}:7: sample_id 'abc' is not a sample id" in message
    with seeded.engine.connect() as conn:
        assert all(s.grades == {} for s in label_reads.selected_samples(conn, first=DAY, last=DAY))


def test_json_min_export_is_read(seeded: Database, tmp_path: Path) -> None:
    """Label Studio's JSON-MIN export (flat items, grade under the control's name) imports."""
    export_for_annotation(seeded, day=DAY, queries=1, seed=4, out_dir=tmp_path)
    tasks = _tasks(tmp_path / "annotation-2026-11-03.labelstudio.json")
    flat = [
        {**t["data"], "grade": "1 — related", "annotator": "a@x.org", "id": i}
        for i, t in enumerate(tasks)
    ]
    path = tmp_path / "min.json"
    path.write_text(json.dumps(flat), encoding="utf-8")
    report = import_annotations(seeded, path)
    assert report.rows == report.linked == len(tasks) == 3
    with seeded.engine.connect() as conn:
        (picked,) = label_reads.selected_samples(conn, first=DAY, last=DAY)
    assert all(g == [1] for g in picked.grades.values()) and len(picked.grades) == 3


def test_a_day_keeps_one_batch(seeded: Database, tmp_path: Path) -> None:
    """The same N and seed pick the same samples; another N is refused unless replaced."""
    first = export_for_annotation(seeded, day=DAY, queries=6, seed=9, out_dir=tmp_path)
    with seeded.engine.connect() as conn:
        before = {s.id for s in label_reads.day_samples(conn, day=DAY) if s.selection}
    again = export_for_annotation(seeded, day=DAY, queries=6, seed=9, out_dir=tmp_path)
    with seeded.engine.connect() as conn:
        after = {s.id for s in label_reads.day_samples(conn, day=DAY) if s.selection}
    assert before == after and first.batch == again.batch and len(after) == 6
    with pytest.raises(InputError, match="already has annotation batch 2026-11-03/seed=9"):
        export_for_annotation(seeded, day=DAY, queries=9, seed=9, out_dir=tmp_path)
    export_for_annotation(seeded, day=DAY, queries=9, seed=9, out_dir=tmp_path, replace=True)
    with seeded.engine.connect() as conn:
        marked = [s for s in label_reads.day_samples(conn, day=DAY) if s.selection]
    assert len(marked) == 9 and {s.selection["batch"] for s in marked} == {
        "2026-11-03/seed=9/queries=9"
    }
    with pytest.raises(InputError, match="no production samples stored"):
        export_for_annotation(
            seeded, day=DAY + dt.timedelta(days=1), queries=3, seed=0, out_dir=tmp_path
        )
    with pytest.raises(InputError, match="formats: pdf; choose from"):
        export_for_annotation(seeded, day=DAY, queries=6, seed=9, out_dir=tmp_path, formats=["pdf"])


def test_commands_export_and_import_and_detect_the_file(
    seeded: Database, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command functions run the round trip on the configured database, and only
    annotation files are routed to the annotation import."""
    from monitor.cli.annotate import (
        export_for_annotation_command,
        import_annotations_command,
        is_annotation_file,
    )

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    done = export_for_annotation_command(day=DAY, queries=4, seed=1, formats=["labelstudio"])
    assert {p.parent for p in done.files} == {tmp_path} and done.queries == 4
    export = tmp_path / "export.json"
    export.write_text(json.dumps(_annotated(_tasks(done.files[0]))), encoding="utf-8")
    report = import_annotations_command(export)
    assert report.rows == report.linked == 10 and report.skipped == 2
    plain = tmp_path / "plain.csv"
    plain.write_text("query,result_id,grade,annotator\nq,r,1,a\n", encoding="utf-8")
    ours = tmp_path / "ours.jsonl"
    ours.write_text(json.dumps({"query": "q", "sample_id": 1}) + "\n", encoding="utf-8")
    assert is_annotation_file(export) and is_annotation_file(ours)
    assert not is_annotation_file(plain) and not is_annotation_file(tmp_path / "missing.csv")
