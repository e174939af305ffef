"""Grades back from annotators: CSV, JSONL or Label Studio's JSON export, all or nothing.

Each label is linked to the day and sample it came from (``day`` and ``sample_id`` of the
exported record, or of the Label Studio task's ``data``): a record naming a sample must
name a stored one, of that day and that query. A label for a result that was not
exported (another result of the query, or a record with no sample at all) is still
accepted, keyed by query and result id as ``labels import`` keys every label. Every line
(CSV/JSONL) or task (Label Studio) is checked first; one bad one and nothing is written,
the error listing each as ``file:line: reason`` (NUL bytes, unknown grades, missing ids,
unknown samples…). Rows land in ``human_labels`` through the same write as
``labels import`` (``repository.upsert_human_labels``), with source
``annotation <day> <file name>``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.errors import InputError
from monitor.labels.files import MAX_LISTED, LineError
from monitor.labels.labelstudio import annotation_records, parse_choice
from monitor.store import label_reads, sample_reads
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.types import normalize_query

__all__ = [
    "AnnotationImport",
    "AnnotationLabel",
    "import_annotations",
    "is_annotation_file",
    "read_annotations",
]


@dataclass(frozen=True, slots=True)
class AnnotationLabel:
    """One grade from one annotator, with the sample and day it was exported from."""

    line: int
    query_text: str
    result_id: str
    grade: int
    annotator: str
    query_id: str | None = None
    result_text: str | None = None
    sample_id: int | None = None
    day: dt.date | None = None

    @property
    def query_norm(self) -> str:
        return normalize_query(self.query_text)

    def key(self) -> tuple[str, str, str]:
        return (self.query_norm, self.result_id, self.annotator)


@dataclass(frozen=True, slots=True)
class AnnotationImport:
    """What an import stored: new, changed and unchanged labels, and how they link.

    ``linked`` labels name a stored sample; ``unexported`` of them are for a result that
    sample did not show; ``skipped`` are Label Studio tasks nobody annotated (or skipped).
    """

    path: str
    format: str
    rows: int
    imported: int
    updated: int
    unchanged: int
    linked: int
    unexported: int
    skipped: int
    days: tuple[dt.date, ...]


def _text(record: Mapping[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(_nul(k) or _nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_nul(v) for v in value)
    return False


def _label(
    record: Mapping[str, Any], line: int, annotator: str | None
) -> AnnotationLabel | list[str]:
    """A label from one record, or every reason it is not one."""
    if _nul(record):
        return ["NUL byte in a field (PostgreSQL text cannot hold it)"]
    problems: list[str] = []
    query, result_id = _text(record, "query"), _text(record, "result_id")
    who = _text(record, "annotator") or annotator
    if query is None:
        problems.append("missing field 'query'")
    if result_id is None:
        problems.append("missing field 'result_id'")
    raw_grade = record.get("grade")
    if raw_grade is None or (isinstance(raw_grade, str) and not raw_grade.strip()):
        problems.append("missing field 'grade'")
        grade: int | str = "missing"
    else:
        grade = parse_choice(raw_grade)
        if isinstance(grade, str):
            problems.append(grade)
    if who is None:
        problems.append("missing field 'annotator' (or pass --annotator)")
    sample_id: int | None = None
    raw_sample = _text(record, "sample_id")
    if raw_sample is not None:
        if raw_sample.isdigit():
            sample_id = int(raw_sample)
        else:
            problems.append(f"sample_id {raw_sample!r} is not a sample id")
    day: dt.date | None = None
    raw_day = _text(record, "day")
    if raw_day is not None:
        try:
            day = dt.date.fromisoformat(raw_day)
        except ValueError:
            problems.append(f"day {raw_day!r} is not a date (want YYYY-MM-DD)")
    if problems or query is None or result_id is None or who is None or isinstance(grade, str):
        return problems
    return AnnotationLabel(
        line=line,
        query_text=query,
        result_id=result_id,
        grade=grade,
        annotator=who,
        query_id=_text(record, "query_id"),
        result_text=_text(record, "result_text") or _text(record, "text"),
        sample_id=sample_id,
        day=day,
    )


def _lines(path: Path) -> tuple[str, list[LineError]]:
    """The file as text, and a NUL-byte error for each line holding one (those are blanked)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    errors = [
        LineError(str(path), n, "NUL byte in the line (PostgreSQL text cannot hold it)")
        for n, line in enumerate(text.split("\n"), start=1)
        if "\x00" in line
    ]
    if errors:
        text = "\n".join("" if "\x00" in line else line for line in text.split("\n"))
    return text, errors


def _detect(path: Path, text: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    first = text.lstrip()[:1]
    if suffix == ".json" or first == "[":
        return "labelstudio"
    if first == "{":
        return "jsonl"
    if "," in text.split("\n", 1)[0]:
        return "csv"
    raise InputError(f"{path}: not a CSV, JSONL or Label Studio JSON export")


def is_annotation_file(path: str | Path) -> bool:
    """Is this an annotation file (``import_annotations``'s) rather than a plain label file?

    A Label Studio JSON export (``.json``, or a JSON list), or a CSV/JSONL whose header or
    first record has ``sample_id``, as ``export_for_annotation`` writes them.
    """
    p = Path(path)
    if not p.is_file():
        return False
    with p.open("r", encoding="utf-8-sig", errors="replace") as fh:
        first = next((line.strip() for line in fh if line.strip()), "")
    if p.suffix.lower() == ".json" or first.startswith("["):
        return True
    if first.startswith("{"):
        try:
            record = json.loads(first)
        except ValueError:
            return False
        return isinstance(record, dict) and "sample_id" in record
    return "sample_id" in next(csv.reader([first]), [])


def _records(
    path: Path, fmt: str, text: str
) -> Iterator[tuple[int, Mapping[str, Any] | str | None]]:
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [h for h in ("query", "result_id", "grade") if h not in header]
        if missing:
            yield 1, f"header lacks column(s): {', '.join(missing)}"
            return
        reader.fieldnames = header
        for record in reader:
            if None in record:
                yield reader.line_num, "more fields than the header has"
            elif any(v.strip() for v in record.values() if isinstance(v, str)):
                yield reader.line_num, record
        return
    if fmt == "jsonl":
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                yield n, "not valid JSON"
                continue
            yield n, record if isinstance(record, dict) else "not a JSON object"
        return
    try:
        tasks = json.loads(text)
    except ValueError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(tasks, list):
        raise InputError(f"{path}: a Label Studio export is a JSON list of tasks")
    yield from annotation_records(tasks)


def read_annotations(
    path: str | Path, *, annotator: str | None = None
) -> tuple[str, list[AnnotationLabel], list[LineError], int]:
    """(format, labels, bad lines, tasks skipped) of an annotation file; nothing stored."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: annotation file not found")
    text, errors = _lines(p)
    fmt = _detect(p, text)
    labels: list[AnnotationLabel] = []
    skipped = 0
    where = "task" if fmt == "labelstudio" else "line"
    nul_lines = {e.line for e in errors}
    for n, item in _records(p, fmt, text):
        if item is None:
            skipped += 1
            continue
        if isinstance(item, str):
            errors.append(LineError(str(p), n, item))
            continue
        if where == "line" and n in nul_lines:
            continue
        got = _label(item, n, annotator)
        if isinstance(got, AnnotationLabel):
            labels.append(got)
        else:
            errors += [LineError(str(p), n, reason) for reason in got]
    first: dict[tuple[str, str, str], int] = {}
    for label in labels:
        seen = first.setdefault(label.key(), label.line)
        if seen != label.line:
            errors.append(
                LineError(
                    str(p),
                    label.line,
                    f"duplicate of {where} {seen} (same query, result and annotator)",
                )
            )
    return fmt, labels, errors, skipped


def _check_samples(
    path: Path, labels: Sequence[AnnotationLabel], refs: Mapping[int, label_reads.SampleRef]
) -> list[LineError]:
    errors = []
    for label in labels:
        if label.sample_id is None:
            continue
        ref = refs.get(label.sample_id)
        if ref is None:
            reason = f"sample {label.sample_id} is not stored"
        elif label.day is not None and ref.day != label.day:
            reason = f"sample {label.sample_id} is of {ref.day}, not {label.day}"
        elif ref.query_norm != label.query_norm:
            reason = f"sample {label.sample_id} is for another query than {label.query_text!r}"
        else:
            continue
        errors.append(LineError(str(path), label.line, reason))
    return errors


def _raise(path: Path, errors: Sequence[LineError]) -> None:
    ordered = sorted(errors, key=lambda e: e.line)
    listed = "\n".join(str(e) for e in ordered[:MAX_LISTED])
    more = f"\n… and {len(ordered) - MAX_LISTED} more" if len(ordered) > MAX_LISTED else ""
    raise InputError(f"{path}: {len(ordered)} bad line(s), nothing imported:\n{listed}{more}")


def import_annotations(
    database: Database, path: str | Path, *, annotator: str | None = None
) -> AnnotationImport:
    """Import an annotation file in one transaction: every label, or (any bad line) none."""
    p = Path(path)
    fmt, labels, errors, skipped = read_annotations(p, annotator=annotator)
    with database.engine.begin() as conn:
        refs = label_reads.samples_by_id(
            conn, ids=[label.sample_id for label in labels if label.sample_id is not None]
        )
        errors += _check_samples(p, labels, refs)
        if errors:
            _raise(p, errors)
        existing = sample_reads.label_grades(conn, keys=[label.key() for label in labels])
        by_source: dict[str, list[repo.NewLabel]] = {}
        for label in labels:
            day = label.day or (refs[label.sample_id].day if label.sample_id in refs else None)
            source = f"annotation {day.isoformat()} {p.name}" if day else f"annotation {p.name}"
            by_source.setdefault(source, []).append(
                repo.NewLabel(
                    query_id=label.query_id,
                    query_text=label.query_text,
                    query_norm=label.query_norm,
                    result_id=label.result_id,
                    result_text=label.result_text,
                    grade=label.grade,
                    annotator=label.annotator,
                )
            )
        for source, rows in by_source.items():
            repo.upsert_human_labels(conn, labels=rows, source=source)
    before = [existing.get(label.key()) for label in labels]
    updated = sum(
        1 for lb, g in zip(labels, before, strict=True) if g is not None and g != lb.grade
    )
    unchanged = sum(1 for lb, g in zip(labels, before, strict=True) if g == lb.grade)
    linked = [lb for lb in labels if lb.sample_id in refs]
    return AnnotationImport(
        path=str(p),
        format=fmt,
        rows=len(labels),
        imported=len(labels) - updated - unchanged,
        updated=updated,
        unchanged=unchanged,
        linked=len(linked),
        unexported=sum(
            1
            for lb in linked
            if lb.sample_id is not None and lb.result_id not in refs[lb.sample_id].result_ids
        ),
        skipped=skipped,
        days=tuple(sorted({refs[lb.sample_id].day for lb in linked if lb.sample_id is not None})),
    )
