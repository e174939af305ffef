"""``judge-monitor labels``: import human grades, export the pairs worth labelling next."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import typer
from rich.table import Table

from monitor.cli.annotate import (
    export_for_annotation_command,
    import_annotations_command,
    is_annotation_file,
)
from monitor.cli.app import app, console
from monitor.config import load_settings
from monitor.errors import InputError
from monitor.labels.files import (
    FORMATS,
    DisagreementRow,
    export_disagreements,
    import_labels,
    write_disagreements,
)
from monitor.store.db import connect

__all__ = ["labels_app"]

labels_app = typer.Typer(
    help="Human labels: import graded files, export queries to annotate or disagreements."
)
labels_app.info.no_args_is_help = True
app.add_typer(labels_app, name="labels")


def parse_day(value: str) -> dt.date:
    """A --date value as a date, or an InputError saying what form is wanted."""
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--date {value!r}: not a date, want YYYY-MM-DD") from None


@labels_app.command("import")
def labels_import(
    file: Path = typer.Argument(
        ..., help="CSV, JSONL, TREC qrels or a Label Studio JSON export of human grades."
    ),
    fmt: str | None = typer.Option(
        None, "--format", help=f"{'|'.join(FORMATS)} (default: from the file name or content)."
    ),
    topics: Path | None = typer.Option(
        None, "--topics", help="TSV qid<TAB>query giving qrels their query text."
    ),
    annotator: str | None = typer.Option(
        None, "--annotator", help="Annotator for rows that name none."
    ),
) -> None:
    """Import labels, all or nothing: any bad line is listed and nothing is stored.

    An annotation file (from ``labels export --for-annotation``, or Label Studio's export of
    its tasks) is linked back to the day and the samples it was picked from.
    """
    if fmt is None and topics is None and is_annotation_file(file):
        import_annotations_command(file, annotator=annotator)
        return
    database = connect(load_settings())
    try:
        report = import_labels(database, file, fmt=fmt, topics=topics, annotator=annotator)
    finally:
        database.dispose()
    console.print(
        f"{report.path} ({report.format}, {report.rows} rows): imported {report.imported}, "
        f"updated {report.updated}, unchanged {report.unchanged}, unmatched {report.unmatched}",
        highlight=False,
    )
    if not report.samples_checked:
        console.print("no samples stored yet: labels were not matched against samples")
    elif report.unmatched:
        console.print(
            f"[yellow]warning:[/] {report.unmatched} label(s) match no stored sample's "
            "query and result (fine for a calibration set)"
        )


def _table(rows: list[DisagreementRow]) -> Table:
    table = Table("query", "result", "title", "ensemble", "spread", "judges")
    for row in rows:
        said = ", ".join(
            f"{o.judge}={o.grade if o.grade is not None else o.status}" for o in row.judges
        )
        table.add_row(
            row.query,
            row.result_id,
            row.title or row.text[:60],
            "" if row.ensemble_grade is None else f"{row.ensemble_grade:g}",
            "" if row.disagreement is None else f"{row.disagreement:g}",
            said,
        )
    return table


@labels_app.command("export")
def labels_export(
    disagreements: bool = typer.Option(
        False, "--disagreements", help="Export the pairs the judges disagreed on most."
    ),
    for_annotation: bool = typer.Option(
        False,
        "--for-annotation",
        help="Pick N of the day's sampled queries at random within strata for people to "
        "grade (CSV, JSONL, Label Studio tasks and config; no judge grades).",
    ),
    queries: int | None = typer.Option(
        None, "--queries", help="With --for-annotation: how many queries."
    ),
    seed: int | None = typer.Option(
        None, "--seed", help="With --for-annotation: the pick's seed (default: sampling.seed)."
    ),
    replace: bool = typer.Option(
        False, "--replace", help="With --for-annotation: draw a new batch for the day."
    ),
    date: str = typer.Option(..., "--date", help="The day (YYYY-MM-DD)."),
    limit: int = typer.Option(50, "--limit", help="How many pairs."),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="Write CSV or JSONL (by suffix) for labelling; '-' is stdout. With "
        "--for-annotation: a folder (default: the current one).",
    ),
) -> None:
    """Export (query, result) pairs to label, in the format `labels import` reads."""
    if for_annotation:
        if queries is None:
            raise InputError("labels export --for-annotation: pass --queries N")
        export_for_annotation_command(
            day=parse_day(date), queries=queries, out=out, seed=seed, replace=replace
        )
        return
    if not disagreements:
        raise InputError("labels export: say what to export (--disagreements or --for-annotation)")
    day = parse_day(date)
    database = connect(load_settings())
    try:
        rows = export_disagreements(database, day=day, limit=limit)
    finally:
        database.dispose()
    if out is None:
        if not rows:
            console.print(f"no judged pairs on {day}")
            return
        console.print(_table(rows))
        return
    fmt = "jsonl" if out.suffix.lower() in {".jsonl", ".ndjson"} else "csv"
    if str(out) == "-":
        write_disagreements(rows, sys.stdout, fmt="csv")
        return
    with out.open("w", encoding="utf-8", newline="") as fh:
        write_disagreements(rows, fh, fmt=fmt)
    console.print(f"wrote {len(rows)} pair(s) to {out} ({fmt}); fill in grade and annotator")
