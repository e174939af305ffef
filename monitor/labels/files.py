"""Human labels in and out: import graded (query, result) files, export what to label next.

Import reads CSV, JSONL or TREC qrels into ``human_labels``, all or nothing: every line
is checked first (grade an integer 0–3, required fields present, no row repeated), and a
single bad line means nothing is written and the error lists each bad line as
``file:line: reason``. Rows upsert on (normalized query, result id, annotator), so a
re-import adds nothing and a changed grade replaces the stored one.

Export picks the day's (query, result) pairs the judges disagreed on most and writes them
in the same CSV/JSONL shape import reads, with an empty grade for a person to fill in:
labelling effort goes where the ensemble is least sure.

One module because import and export are two ends of one file format: the columns export
writes are exactly the ones import reads, and both validate them the same way.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, TextIO

from sqlalchemy import Connection

from monitor.errors import InputError
from monitor.sources.trec import read_tsv
from monitor.store import repository as repo
from monitor.store import sample_reads
from monitor.store.db import Database
from monitor.types import MAX_GRADE, normalize_query

__all__ = [
    "FORMATS",
    "DisagreementRow",
    "ImportReport",
    "JudgeOpinion",
    "LabelFormat",
    "LabelRow",
    "LineError",
    "detect_format",
    "export_disagreements",
    "export_records",
    "import_labels",
    "read_labels",
    "write_disagreements",
]

LabelFormat = Literal["csv", "jsonl", "qrels"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "qrels")

#: How many bad lines an error message lists before it only gives the total.
MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One person's grade for one (query, result), with the line it came from."""

    line: int
    query_text: str
    result_id: str | None
    grade: int
    annotator: str
    query_id: str | None = None
    result_text: str | None = None

    @property
    def query_norm(self) -> str:
        return normalize_query(self.query_text)

    def key(self) -> tuple[str, str, str]:
        """The unique key in ``human_labels`` (a text-only row keys on its text)."""
        result = self.result_id if self.result_id is not None else f"text:{self.result_text}"
        return (self.query_norm, result, self.annotator)


@dataclass(frozen=True, slots=True)
class LineError:
    """Why one line of a label file cannot be imported."""

    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import did: new rows, changed grades, rows already stored as they are.

    ``unmatched`` counts labels whose (query, result) no stored sample has; it is only a
    hint (a calibration set need not come from production) and is 0 when no samples
    are stored (``samples_checked`` False).
    """

    path: str
    format: str
    rows: int
    imported: int
    updated: int
    unchanged: int
    unmatched: int
    samples_checked: bool


def detect_format(path: Path) -> LabelFormat:
    """The format from the file name, else from its first line."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".qrels", ".qrel"}:
        return "qrels"
    with path.open("r", encoding="utf-8") as fh:
        first = next((line.strip() for line in fh if line.strip()), "")
    if first.startswith("{"):
        return "jsonl"
    if "," in first:
        return "csv"
    if len(first.split()) == 4:
        return "qrels"
    raise InputError(
        f"{path}: cannot tell the label format from its name or first line; "
        f"pass --format {'|'.join(FORMATS)}"
    )


def _grade(value: Any) -> int | str:
    """An integer grade 0–3, or the reason the value is not one (never coerced silently)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "missing field 'grade'"
    if isinstance(value, bool):
        return f"unknown grade {value!r} (want an integer 0–{MAX_GRADE})"
    if isinstance(value, int):
        grade = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        grade = int(value.strip())
    else:
        return f"unknown grade {value!r} (want an integer 0–{MAX_GRADE})"
    if not 0 <= grade <= MAX_GRADE:
        return f"unknown grade {grade} (want an integer 0–{MAX_GRADE})"
    return grade


def _field(row: Mapping[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _from_mapping(row: Mapping[str, Any], line: int, annotator: str | None) -> LabelRow | list[str]:
    """A label from a CSV/JSONL record, or every reason it is not one.

    Keys other than the label's own (an export's judge columns, say) are ignored.
    """
    problems: list[str] = [
        f"field {name!r} holds a NUL byte (PostgreSQL cannot store it)"
        for name, value in row.items()
        if isinstance(value, str) and "\x00" in value
    ]
    if problems:
        return problems
    query = _field(row, "query")
    result_id = _field(row, "result_id")
    result_text = _field(row, "result_text")
    who = _field(row, "annotator") or annotator
    if query is None:
        problems.append("missing field 'query'")
    if result_id is None and result_text is None:
        problems.append("missing field 'result_id' (or 'result_text')")
    grade = _grade(row.get("grade"))
    if isinstance(grade, str):
        problems.append(grade)
    if who is None:
        problems.append("missing field 'annotator' (or pass --annotator)")
    if problems or query is None or who is None or isinstance(grade, str):
        return problems
    return LabelRow(
        line=line,
        query_text=query,
        result_id=result_id,
        grade=grade,
        annotator=who,
        query_id=_field(row, "query_id"),
        result_text=result_text,
    )


def _csv_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    with path.open("r", encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [h for h in ("query", "grade") if h not in header]
        if "result_id" not in header and "result_text" not in header:
            missing.append("result_id (or result_text)")
        if missing:
            yield 1, f"header lacks column(s): {', '.join(missing)}"
            return
        reader.fieldnames = header
        for record in reader:
            if None in record:
                yield reader.line_num, "more fields than the header has"
                continue
            yield reader.line_num, record


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    with path.open("r", encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
            except ValueError:
                yield n, "not valid JSON"
                continue
            yield n, record if isinstance(record, dict) else "not a JSON object"


def _qrels_rows(
    path: Path, topics: Mapping[str, str] | None, annotator: str
) -> Iterator[tuple[int, LabelRow | list[str]]]:
    with path.open("r", encoding="utf-8") as fh:
        for n, raw in enumerate(fh, start=1):
            parts = raw.split()
            if not parts:
                continue
            if len(parts) != 4:
                yield n, [f"{len(parts)} fields, want 'qid 0 docid grade'"]
                continue
            qid, _, docid, value = parts
            grade = _grade(value)
            problems = [grade] if isinstance(grade, str) else []
            query = qid if topics is None else topics.get(qid)
            if query is None:
                problems.append(f"qid {qid} is not in the topics file")
            if problems or query is None or isinstance(grade, str):
                yield n, problems
                continue
            yield (
                n,
                LabelRow(
                    line=n,
                    query_text=query,
                    result_id=docid,
                    grade=grade,
                    annotator=annotator,
                    query_id=qid,
                ),
            )


def _parse(
    path: Path, fmt: LabelFormat, topics: Mapping[str, str] | None, annotator: str | None
) -> tuple[list[LabelRow], list[LineError]]:
    rows: list[LabelRow] = []
    errors: list[LineError] = []
    name = str(path)
    if fmt == "qrels":
        parsed: Iterator[tuple[int, LabelRow | list[str]]] = _qrels_rows(
            path, topics, annotator or path.name
        )
    else:
        records = _csv_rows(path) if fmt == "csv" else _jsonl_rows(path)
        parsed = (
            (n, [r] if isinstance(r, str) else _from_mapping(r, n, annotator)) for n, r in records
        )
    try:
        for n, item in parsed:
            if isinstance(item, LabelRow):
                rows.append(item)
            else:
                errors.extend(LineError(name, n, reason) for reason in item)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return rows, errors


def _duplicates(path: Path, rows: Sequence[LabelRow]) -> list[LineError]:
    first: dict[tuple[str, str, str], int] = {}
    errors: list[LineError] = []
    for row in rows:
        key = row.key()
        if key in first:
            errors.append(
                LineError(
                    str(path),
                    row.line,
                    f"duplicate of line {first[key]} (same query, result and annotator)",
                )
            )
        else:
            first[key] = row.line
    return errors


def _raise(path: Path, errors: Sequence[LineError]) -> None:
    ordered = sorted(errors, key=lambda e: e.line)
    listed = "\n".join(str(e) for e in ordered[:MAX_LISTED])
    more = f"\n… and {len(ordered) - MAX_LISTED} more" if len(ordered) > MAX_LISTED else ""
    raise InputError(f"{path}: {len(ordered)} bad line(s), nothing imported:\n{listed}{more}")


def _open_checked(path: str | Path, fmt: str | None) -> tuple[Path, LabelFormat]:
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: label file not found")
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"unknown label format {fmt!r}; choose one of {', '.join(FORMATS)}")
    chosen: LabelFormat = fmt if fmt is not None else detect_format(p)  # type: ignore[assignment]
    return p, chosen


def _topics(path: str | Path | None) -> dict[str, str] | None:
    if path is None:
        return None
    if not Path(path).is_file():
        raise InputError(f"topics file {path}: not found")
    return read_tsv(path)


def read_labels(
    path: str | Path,
    *,
    fmt: str | None = None,
    topics: str | Path | None = None,
    annotator: str | None = None,
) -> list[LabelRow]:
    """Every label of a file, or an ``InputError`` listing each bad line.

    ``annotator`` fills rows that name none (qrels rows are the file name's otherwise);
    ``topics`` (TSV ``qid<TAB>query``) gives qrels their query text, without it the qid
    is the query.
    """
    p, chosen = _open_checked(path, fmt)
    topic_map = _topics(topics)
    rows, errors = _parse(p, chosen, topic_map, annotator)
    errors += _duplicates(p, rows)
    if errors:
        _raise(p, errors)
    return rows


def _sample_results(
    conn: Connection, query_norms: Sequence[str]
) -> tuple[bool, dict[str, list[tuple[str, str, str]]]]:
    """Whether any sample is stored, and the stored (id, title, text) per query."""
    if not sample_reads.any_sample_stored(conn):
        return False, {}
    return True, sample_reads.query_results(conn, query_norms=query_norms)


def _text_id(result_text: str) -> str:
    """A stable id for a result known only by its text (none of the samples showed it)."""
    return "text:" + hashlib.sha256(" ".join(result_text.split()).encode()).hexdigest()[:16]


def _resolve(row: LabelRow, stored: Sequence[tuple[str, str, str]]) -> LabelRow:
    """Give a text-only label the id of the stored result with that text, if any."""
    if row.result_id is not None:
        return row
    wanted = " ".join((row.result_text or "").split())
    for rid, title, body in stored:
        contents = {title, body, f"{title}\n{body}", f"{title} {body}"}
        if wanted in {" ".join(c.split()) for c in contents if c}:
            return replace(row, result_id=rid)
    return replace(row, result_id=_text_id(row.result_text or ""))


def _existing_grades(conn: Connection, rows: Sequence[LabelRow]) -> dict[tuple[str, str, str], int]:
    return sample_reads.label_grades(conn, keys=[r.key() for r in rows])


def _new_label(row: LabelRow) -> repo.NewLabel:
    assert row.result_id is not None, "labels are resolved to a result id before storing"
    return repo.NewLabel(
        query_id=row.query_id,
        query_text=row.query_text,
        query_norm=row.query_norm,
        result_id=row.result_id,
        result_text=row.result_text,
        grade=row.grade,
        annotator=row.annotator,
    )


def _upsert(conn: Connection, rows: Sequence[LabelRow], source: str) -> None:
    """Insert new labels and change the grade of stored ones whose grade differs."""
    repo.upsert_human_labels(conn, labels=[_new_label(r) for r in rows], source=source)


def import_labels(
    database: Database,
    path: str | Path,
    *,
    fmt: str | None = None,
    topics: str | Path | None = None,
    annotator: str | None = None,
) -> ImportReport:
    """Import a label file in one transaction: every row, or (on any bad line) none.

    A stored label with the same key and grade is left as it is; one with another grade
    takes the file's grade (and its source). Text-only rows take the id of a stored
    sample result with the same query and text, else an id derived from the text.
    """
    p, chosen = _open_checked(path, fmt)
    topic_map = _topics(topics)
    rows, errors = _parse(p, chosen, topic_map, annotator)
    with database.engine.begin() as conn:
        checked, stored = _sample_results(conn, [r.query_norm for r in rows])
        rows = [_resolve(r, stored.get(r.query_norm, ())) for r in rows]
        errors += _duplicates(p, rows)
        if errors:
            _raise(p, errors)
        existing = _existing_grades(conn, rows)
        _upsert(conn, rows, p.name)
    keys = [r.key() for r in rows]
    unmatched = 0
    if checked:
        unmatched = sum(
            1
            for r in rows
            if r.result_id not in {rid for rid, _, _ in stored.get(r.query_norm, ())}
        )
    before = [existing.get(k) for k in keys]
    updated = sum(1 for r, g in zip(rows, before, strict=True) if g is not None and g != r.grade)
    unchanged = sum(1 for r, g in zip(rows, before, strict=True) if g == r.grade)
    return ImportReport(
        path=str(p),
        format=chosen,
        rows=len(rows),
        imported=len(rows) - updated - unchanged,
        updated=updated,
        unchanged=unchanged,
        unmatched=unmatched,
        samples_checked=checked,
    )


@dataclass(frozen=True, slots=True)
class JudgeOpinion:
    """One judge's verdict on a disagreed pair (grade None when its answer was invalid)."""

    judge: str
    grade: int | None
    status: str
    reasoning: str


@dataclass(frozen=True, slots=True)
class DisagreementRow:
    """A (query, result) of the day the judges split on, with what each of them said."""

    sample_id: int
    ranker: str
    query_id: str
    query: str
    result_id: str
    position: int
    title: str
    text: str
    ensemble_grade: float | None
    disagreement: float | None
    spread: float
    judges: tuple[JudgeOpinion, ...]


def export_disagreements(
    database: Database, *, day: dt.date, limit: int = 50
) -> list[DisagreementRow]:
    """The day's ``limit`` most disagreed (query, result) pairs, most disagreed first.

    Ordered by the ensemble's disagreement (max − min grade), then by the spread
    (standard deviation) of the judges' valid grades, which separates a lone dissenter
    from an even split.
    """
    if limit <= 0:
        raise InputError(f"--limit must be a positive number, got {limit}")
    with database.engine.connect() as conn:
        picked = sample_reads.most_disagreed(conn, day=day, limit=limit)
        opinions: dict[tuple[int, str], dict[str, JudgeOpinion]] = {}
        if picked:
            found = sample_reads.pointwise_opinions(
                conn, pairs=[(p.sample_id, p.result_id) for p in picked]
            )
            for o in found:
                opinions.setdefault((o.sample_id, o.result_id), {})[o.judge] = JudgeOpinion(
                    judge=o.judge, grade=o.grade, status=o.status, reasoning=o.reasoning
                )
    return [
        DisagreementRow(
            sample_id=p.sample_id,
            ranker=p.ranker,
            query_id=p.query_id,
            query=p.query_text,
            result_id=p.result_id,
            position=p.position,
            title=p.title,
            text=p.body,
            ensemble_grade=p.grade,
            disagreement=p.disagreement,
            spread=p.spread,
            judges=tuple(opinions.get((p.sample_id, p.result_id), {}).values()),
        )
        for p in picked
    ]


def export_records(rows: Sequence[DisagreementRow]) -> list[dict[str, Any]]:
    """Rows as records ``labels import`` reads back once ``grade`` is filled in.

    The label keys (query_id, query, result_id, result_text, grade, annotator) come
    first; the rest (title, ensemble grade, disagreement, each judge's grade and
    reasoning) is context for the person labelling, ignored by import.
    """
    records: list[dict[str, Any]] = []
    for row in rows:
        record: dict[str, Any] = {
            "query_id": row.query_id,
            "query": row.query,
            "result_id": row.result_id,
            "result_text": row.text,
            "grade": None,
            "annotator": None,
            "title": row.title,
            "position": row.position,
            "ranker": row.ranker,
            "ensemble_grade": row.ensemble_grade,
            "disagreement": row.disagreement,
        }
        record["judges"] = {
            o.judge: {"grade": o.grade, "status": o.status, "reasoning": o.reasoning}
            for o in row.judges
        }
        records.append(record)
    return records


def write_disagreements(rows: Sequence[DisagreementRow], out: TextIO, *, fmt: str = "csv") -> None:
    """Write an export as CSV (one ``<judge>_grade``/``<judge>_reasoning`` pair per judge)
    or JSONL (``judges`` as an object)."""
    records = export_records(rows)
    if fmt == "jsonl":
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    if fmt != "csv":
        raise InputError(f"unknown export format {fmt!r}; choose csv or jsonl")
    judges = sorted({name for record in records for name in record["judges"]})
    base = [k for k in records[0] if k != "judges"] if records else list(_EMPTY_HEADER)
    header = base + [f"{j}_{part}" for j in judges for part in ("grade", "reasoning")]
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for record in records:
        flat = {k: ("" if v is None else v) for k, v in record.items() if k != "judges"}
        for j in judges:
            said = record["judges"].get(j, {})
            flat[f"{j}_grade"] = "" if said.get("grade") is None else said["grade"]
            flat[f"{j}_reasoning"] = said.get("reasoning", "")
        writer.writerow(flat)


_EMPTY_HEADER = ("query_id", "query", "result_id", "result_text", "grade", "annotator")
