"""``judge-monitor data``: download the public data the real-data tests and benches use.

The data never ships with the repository (MS MARCO texts are research-only), so
``make data`` runs ``judge-monitor data fetch-dl19``. Progress and per-file outcomes go
to stderr; stdout gets only the ``export JUDGE_MONITOR_TREC_DL19=…`` line to paste.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from types import TracebackType

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TransferSpeedColumn,
)

from monitor.cli.app import app, console, err_console
from monitor.sources.trec_download import RAW_GITHUB, DataFile, download_dl19

__all__ = ["data_app"]

DL19_ENV = "JUDGE_MONITOR_TREC_DL19"

data_app = typer.Typer(
    help="Public data sets for the real-data tests and benches (needs internet).",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")


class _Bars:
    """A byte progress bar per file on stderr, and one line per file when it is done."""

    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("{task.description:<26}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=err_console,
            transient=True,
            disable=not err_console.is_terminal,
        )
        self.tasks: dict[str, TaskID] = {}
        self.downloaded = 0

    def __enter__(self) -> _Bars:
        self.bars.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.bars.__exit__(kind, exc, tb)

    def started(self, file: DataFile, total: int | None) -> None:
        self.tasks[file.name] = self.bars.add_task(file.name, total=total)

    def advanced(self, file: DataFile, done: int) -> None:
        self.bars.update(self.tasks[file.name], completed=done)

    def finished(self, file: DataFile, path: Path, downloaded: bool) -> None:
        task = self.tasks.pop(file.name, None)
        if task is not None:
            self.bars.remove_task(task)
        self.downloaded += downloaded
        what = "downloaded, sha256 verified" if downloaded else "present, sha256 verified"
        err_console.print(f"{file.name:<26} {what}", markup=False, highlight=False)


@data_app.command("fetch-dl19")
def fetch_dl19(
    dest: Path = typer.Option(
        Path("data/trec-dl19"), "--dest", help="Folder to write the files into."
    ),
    base_url: str = typer.Option(
        RAW_GITHUB,
        "--base-url",
        help="Replaces https://raw.githubusercontent.com (a mirror serving the same paths).",
    ),
) -> None:
    """Download the TREC DL19 runs and qrels (pinned, sha256-verified) as JSONL runs."""
    folder = dest.expanduser().resolve()
    with _Bars() as bars:
        paths = download_dl19(folder, base_url=base_url, progress=bars)
    err_console.print(
        f"TREC DL19: {len(paths)} files in {folder} ({bars.downloaded} downloaded)",
        markup=False,
        highlight=False,
    )
    console.print(f"export {DL19_ENV}={shlex.quote(str(folder))}", markup=False, highlight=False)
