"""The human-label stream of a daily job: send a random few of the day's queries to people.

``export_for_annotation`` picks N of the day's sampled production queries *at random
within strata* (each stratum's share proportional to its size in the day's sample, at
least one per stratum when N allows; with fewer queries than strata, a simple random
sample of the day), records the pick and its within-stratum selection probability on
each sample (``store.label_reads.record_selection``), and writes the picked queries' top-k
results for annotators: CSV and JSONL (the shape ``labels import`` reads, grade and
annotator empty), a Label Studio import file with its labeling config, and the grading
guideline. Never a judge grade: annotators must not anchor on it. Because the pick is
random within strata and its probabilities are stored, the labelled queries are a random
subset of the day's sample, which is what the corrected (PPI) figures need.

``import_annotations`` (in ``annotation_import``) takes the grades back.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.errors import InputError
from monitor.labels.labelstudio import grade_scale, labeling_config, task
from monitor.sampling import allocate
from monitor.store import label_reads
from monitor.store.db import Database
from monitor.store.label_reads import DaySample
from monitor.types import GRADE_LABELS

__all__ = [
    "EXPORT_FORMATS",
    "RECORD_FIELDS",
    "AnnotationExport",
    "StratumPick",
    "annotation_records",
    "export_for_annotation",
    "select_for_annotation",
]

#: What ``formats`` may hold: "labelstudio" writes the import JSON and the config XML.
EXPORT_FORMATS: tuple[str, ...] = ("csv", "jsonl", "labelstudio")
#: The columns of the CSV/JSONL export, label keys first (as ``labels import`` reads them).
RECORD_FIELDS = (
    "query_id",
    "query",
    "result_id",
    "result_text",
    "grade",
    "annotator",
    "title",
    "position",
    "day",
    "sample_id",
    "stratum",
    "selection_probability",
)


@dataclass(frozen=True, slots=True)
class StratumPick:
    """How many of one stratum's sampled queries were picked, and the probability of each."""

    ranker: str
    stratum: str
    size: int
    picked: int

    @property
    def probability(self) -> float:
        return self.picked / self.size if self.size else 0.0


@dataclass(frozen=True, slots=True)
class AnnotationExport:
    """What an export picked and wrote."""

    day: dt.date
    batch: str
    queries: int
    results: int
    strata: tuple[StratumPick, ...]
    files: tuple[Path, ...]


def _rng(seed: int, day: dt.date) -> np.random.Generator:
    digest = hashlib.sha256(f"annotation:{seed}:{day.isoformat()}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def select_for_annotation(
    samples: Sequence[DaySample], *, queries: int, seed: int, day: dt.date
) -> tuple[dict[int, dict[str, Any]], tuple[StratumPick, ...]]:
    """Which samples to label (id -> what to record) and the picks per stratum.

    A stratum is (ranker, sampling stratum). Same samples, N, seed and day: same pick.
    """
    if queries < 1:
        raise InputError(f"--queries must be a positive number, got {queries}")
    strata: dict[tuple[str, str], list[DaySample]] = {}
    for s in sorted(samples, key=lambda s: s.id):
        strata.setdefault((s.ranker, s.stratum), []).append(s)
    design = "stratified"
    if queries < len(strata):  # too few for one per stratum: a simple random sample
        strata = {("*", "*"): sorted(samples, key=lambda s: s.id)}
        design = "simple"
    keys = sorted(strata)
    sizes = {"|".join(k): float(len(strata[k])) for k in keys}
    counts = allocate(
        sizes,
        {"|".join(k): len(strata[k]) for k in keys},
        total=queries,
        minimum=1 if design == "stratified" else 0,
    )
    rng = _rng(seed, day)
    batch = f"{day.isoformat()}/seed={seed}/queries={queries}"
    picks: dict[int, dict[str, Any]] = {}
    table = []
    for key in keys:
        members, n_h = strata[key], counts["|".join(key)]
        chosen = rng.choice(len(members), size=n_h, replace=False).tolist() if n_h else []
        table.append(StratumPick(ranker=key[0], stratum=key[1], size=len(members), picked=n_h))
        for i in sorted(int(c) for c in chosen):
            s = members[i]
            picks[s.id] = {
                "batch": batch,
                "design": design,
                "ranker": s.ranker,
                "stratum": s.stratum,
                "stratum_size": len(members),
                "picked": n_h,
                "probability": n_h / len(members),
            }
    return picks, tuple(table)


def annotation_records(
    samples: Sequence[DaySample], picks: dict[int, dict[str, Any]], *, top_k: int
) -> list[dict[str, Any]]:
    """One record per (picked sample, result in its top ``top_k``), by sample then position."""
    records = []
    for s in sorted((s for s in samples if s.id in picks), key=lambda s: s.id):
        shown = sorted(s.results, key=lambda r: int(r.get("position") or 0))[:top_k]
        for result in shown:
            records.append(
                {
                    "query_id": s.query_id,
                    "query": s.query_text,
                    "result_id": str(result["id"]),
                    "result_text": result.get("text") or "",
                    "grade": None,
                    "annotator": None,
                    "title": result.get("title") or "",
                    "position": int(result.get("position") or 0),
                    "day": s.day.isoformat(),
                    "sample_id": s.id,
                    "stratum": s.stratum,
                    "selection_probability": picks[s.id]["probability"],
                }
            )
    return records


def guideline() -> str:
    """The grading guideline for annotators (the judges' own scale), as markdown."""
    scale = grade_scale()
    lines = [
        "# Grading guideline",
        "",
        "Grade how relevant each search result is to its query, on this scale:",
        "",
    ]
    lines += [f"- **{g} = {GRADE_LABELS[g]}**: {scale[g]}" for g in sorted(scale, reverse=True)]
    lines += [
        "",
        "If you are uncertain between two grades, choose the lower one. An unreadable or",
        "empty result is 0. Fill in `grade` (0–3) and `annotator` (your name) on every row.",
        "",
    ]
    return "\n".join(lines)


def _write(records: list[dict[str, Any]], out_dir: Path, stem: str, fmt: str) -> list[Path]:
    if fmt == "csv":
        path = out_dir / f"{stem}.csv"
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=RECORD_FIELDS, lineterminator="\n")
            writer.writeheader()
            for r in records:
                writer.writerow({k: "" if v is None else v for k, v in r.items()})
        return [path]
    if fmt == "jsonl":
        path = out_dir / f"{stem}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r, ensure_ascii=False) + "\n")
        return [path]
    tasks_path = out_dir / f"{stem}.labelstudio.json"
    tasks_path.write_text(
        json.dumps([task(r) for r in records], ensure_ascii=False, indent=1) + "\n",
        encoding="utf-8",
    )
    config_path = out_dir / f"{stem}.labelstudio.xml"
    config_path.write_text(labeling_config(), encoding="utf-8")
    return [tasks_path, config_path]


def export_for_annotation(
    database: Database,
    *,
    day: dt.date,
    queries: int,
    seed: int,
    out_dir: str | Path,
    formats: Sequence[str] = EXPORT_FORMATS,
    top_k: int = 10,
    replace: bool = False,
) -> AnnotationExport:
    """Pick ``queries`` of ``day``'s sampled queries, record the pick, write the files.

    A day has one annotation batch: exporting again with the same N and seed picks and
    writes the same; another N or seed is refused unless ``replace`` (the old batch's
    labels stay stored, but only the new batch's samples count as the random subset).
    """
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        wrong = ", ".join(unknown) or "none given"
        raise InputError(f"formats: {wrong}; choose from {', '.join(EXPORT_FORMATS)}")
    if top_k < 1:
        raise InputError(f"--top-k must be a positive number, got {top_k}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: not a folder")
    with database.engine.begin() as conn:
        label_reads.lock_day_sample(conn, day=day)  # a rerun replacing rows waits, or this
        samples = label_reads.day_samples(conn, day=day)
        if not samples:
            raise InputError(f"--date {day}: no production samples stored for that day")
        picks, table = select_for_annotation(samples, queries=queries, seed=seed, day=day)
        batch = next(iter(picks.values()))["batch"]
        before = {s.selection["batch"] for s in samples if s.selection}
        if before and before != {batch} and not replace:
            raise InputError(
                f"--date {day}: already has annotation batch {sorted(before)[0]}; export it "
                "again with the same --queries and --seed, or pass --replace for a new one"
            )
        label_reads.record_selection(conn, day=day, picks=picks)
    records = annotation_records(samples, picks, top_k=top_k)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"annotation-{day.isoformat()}"
    files: list[Path] = []
    for fmt in dict.fromkeys(formats):
        files += _write(records, out, stem, fmt)
    guide = out / f"{stem}.guideline.md"
    guide.write_text(guideline(), encoding="utf-8")
    files.append(guide)
    return AnnotationExport(
        day=day,
        batch=batch,
        queries=len(picks),
        results=len(records),
        strata=table,
        files=tuple(files),
    )
