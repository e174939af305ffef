"""The annotation stream's two commands, as plain functions ``labels`` dispatches to.

``labels export --for-annotation --date D --queries N [--out DIR]`` calls
``export_for_annotation_command``; ``labels import FILE`` calls
``import_annotations_command`` when ``is_annotation_file(FILE)`` (a Label Studio JSON
export, or a CSV/JSONL with a ``sample_id`` column), and the plain label import
otherwise. Registered by ``monitor/cli/labels.py``; this module adds no command itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from monitor.cli.app import console
from monitor.config import load_settings
from monitor.labels.annotation import EXPORT_FORMATS, AnnotationExport, export_for_annotation
from monitor.labels.annotation_import import (
    AnnotationImport,
    import_annotations,
    is_annotation_file,
)
from monitor.store.db import connect

__all__ = [
    "EXPORT_FORMATS",
    "export_for_annotation_command",
    "import_annotations_command",
    "is_annotation_file",
]


def _strata(done: AnnotationExport) -> Table:
    table = Table("ranker", "stratum", "sampled", "to label", "probability")
    for pick in done.strata:
        table.add_row(
            pick.ranker, pick.stratum, str(pick.size), str(pick.picked), f"{pick.probability:.3f}"
        )
    return table


def export_for_annotation_command(
    *,
    day: dt.date,
    queries: int,
    out: Path | None = None,
    seed: int | None = None,
    formats: Sequence[str] = EXPORT_FORMATS,
    replace: bool = False,
) -> AnnotationExport:
    """Pick ``queries`` of the day's sampled queries for people to grade and write the files.

    ``seed`` defaults to the configured sampling seed, ``out`` to the current folder; the
    top k is the configured sampling ``top_k``.
    """
    settings = load_settings()
    database = connect(settings)
    try:
        done = export_for_annotation(
            database,
            day=day,
            queries=queries,
            seed=settings.sampling.seed if seed is None else seed,
            out_dir=out or Path.cwd(),
            formats=formats,
            top_k=settings.sampling.top_k,
            replace=replace,
        )
    finally:
        database.dispose()
    console.print(_strata(done))
    console.print(
        f"picked {done.queries} queries ({done.results} results) of {day} for annotation, "
        f"batch {done.batch}; no judge grade is in the files:",
        highlight=False,
    )
    for path in done.files:
        console.print(f"  {path}", highlight=False)
    console.print("grade them (Label Studio, or fill in grade and annotator), then `labels import`")
    return done


def import_annotations_command(file: Path, *, annotator: str | None = None) -> AnnotationImport:
    """Import an annotation file (CSV, JSONL or Label Studio JSON export), all or nothing."""
    database = connect(load_settings())
    try:
        report = import_annotations(database, file, annotator=annotator)
    finally:
        database.dispose()
    days = ", ".join(d.isoformat() for d in report.days) or "no day"
    console.print(
        f"{report.path} ({report.format}, {report.rows} labels): imported {report.imported}, "
        f"updated {report.updated}, unchanged {report.unchanged}; {report.linked} linked to "
        f"samples of {days} ({report.unexported} for results not exported)",
        highlight=False,
    )
    if report.skipped:
        console.print(f"{report.skipped} task(s) not annotated or skipped: not imported")
    return report
