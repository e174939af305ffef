"""TREC-style runs as a source, and TREC qrels as human labels.

A run is either JSONL (``{"qid", "query", "results": [{"docid", "rank", "score",
"text"}, …]}``, as ``make data`` writes for TREC DL19) or the standard whitespace format
``qid Q0 docid rank score tag`` with ``options.topics`` (TSV ``qid<TAB>query``) and
``options.passages`` (TSV ``docid<TAB>text``; only the run's docids are kept, so the
file may be a whole collection). ``path`` names the run.

Runs are timeless: every record is stamped with the window's ``start``, so any window
sees the whole run. ``ranker`` is ``options.ranker`` or the run's file name
(``run.bm25.jsonl`` -> ``bm25``). ``options.depth`` keeps the top ``depth`` (100).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from monitor.config import SourceConfig
from monitor.errors import InputError, SourceError
from monitor.sources.base import (
    BAD_JSON,
    MISSING_QUERY,
    BadRow,
    BadRows,
    Limits,
    check_window,
    guarded,
)
from monitor.types import SearchRecord

__all__ = ["TrecSource", "read_qrels", "read_tsv"]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise SourceError(f"trec source: {path} is not a file")
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            if line.strip():
                yield n, line.rstrip("\n")


def read_tsv(path: str | Path, keep: set[str] | None = None) -> dict[str, str]:
    """``id<TAB>text`` lines as a dict (only ids in ``keep`` when given)."""
    out: dict[str, str] = {}
    bad: list[int] = []
    for n, line in _lines(Path(path)):
        key, sep, text = line.partition("\t")
        if not sep:
            bad.append(n)
            continue
        if keep is None or key in keep:
            out[key] = text
    if bad and len(bad) > len(out):
        raise InputError(f"{path}: not TSV (id<TAB>text); bad lines {bad[:10]}")
    return out


def read_qrels(path: str | Path, report: BadRows | None = None) -> list[tuple[str, str, int]]:
    """TREC qrels ``qid 0 docid grade`` as (qid, docid, grade).

    A malformed line is counted in ``report`` (with its line number) when one is given;
    without a report any malformed line is an ``InputError`` listing the line numbers.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: qrels file not found")
    out: list[tuple[str, str, int]] = []
    bad: list[int] = []
    for n, line in _lines(p):
        parts = line.split()
        if report is not None:
            report.read += 1
        try:
            if len(parts) != 4:
                raise ValueError
            out.append((parts[0], parts[2], int(parts[3])))
        except ValueError:
            bad.append(n)
            if report is not None:
                report.add("bad qrels line", f"line {n}")
    if bad and report is None:
        raise InputError(
            f"{p}: {len(bad)} malformed qrels line(s) (want 'qid 0 docid grade'), "
            f"lines {', '.join(map(str, bad[:10]))}"
        )
    return out


class TrecSource:
    """A TREC run (JSONL, or the standard run format plus topics and passages)."""

    def __init__(self, config: SourceConfig) -> None:
        if not config.path:
            raise SourceError("trec source: set source.path to the run file")
        self.config = config
        self.path = Path(config.path)
        name = self.path.name.removesuffix(".jsonl").removesuffix(".txt")
        self.ranker = str(config.options.get("ranker") or name.removeprefix("run."))
        self.depth = int(config.options.get("depth", 100))
        self.report = BadRows(source=f"trec {self.path.name}")

    def _jsonl(self, stamp: str) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
        for n, line in _lines(self.path):
            where = f"line {n}"
            try:
                row = json.loads(line)
            except ValueError:
                yield where, BadRow(BAD_JSON)
                continue
            if not isinstance(row, dict):
                yield where, BadRow(BAD_JSON, "not an object")
                continue
            results = row.get("results")
            if isinstance(results, list):
                results = results[: self.depth]
            yield (
                where,
                {
                    "query_id": row.get("qid"),
                    "query": row.get("query"),
                    "timestamp": stamp,
                    "results": results,
                },
            )

    def _standard(self, stamp: str) -> Iterator[tuple[str, Mapping[str, Any] | BadRow]]:
        topics_path = self.config.options.get("topics")
        passages_path = self.config.options.get("passages")
        if not topics_path or not passages_path:
            raise SourceError(
                "trec source: a standard run file needs options.topics and options.passages"
            )
        runs: dict[str, list[dict[str, Any]]] = {}
        bad: list[tuple[str, BadRow]] = []
        for n, line in _lines(self.path):
            parts = line.split()
            try:
                qid, _, docid, rank, score = parts[0], parts[1], parts[2], int(parts[3]), parts[4]
                float(score)
            except (IndexError, ValueError):
                bad.append((f"line {n}", BadRow("bad run line")))
                continue
            runs.setdefault(qid, []).append({"docid": docid, "rank": rank, "score": float(score)})
        topics = read_tsv(topics_path)
        wanted = {r["docid"] for rs in runs.values() for r in rs}
        passages = read_tsv(passages_path, keep=wanted)
        yield from bad
        for qid in sorted(runs):
            ranked = sorted(runs[qid], key=lambda r: r["rank"])[: self.depth]
            for pos, r in enumerate(ranked, start=1):
                r["rank"] = pos
                r["text"] = passages.get(r["docid"], "")
            if qid not in topics:
                yield f"qid {qid}", BadRow(MISSING_QUERY)
                continue
            yield (
                f"qid {qid}",
                {"query_id": qid, "query": topics[qid], "timestamp": stamp, "results": ranked},
            )

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        """Every query of the run, stamped ``start`` (empty when the window is empty)."""
        s, e = check_window(start, end)
        self.report = BadRows(source=f"trec {self.path.name}")
        if s == e:
            return
        stamp = s.isoformat()
        with self.path.open("rb") as fh:
            head = fh.read(64).lstrip()
        rows = self._jsonl(stamp) if head.startswith(b"{") else self._standard(stamp)
        yield from guarded(
            rows,
            report=self.report,
            start=s,
            end=e,
            max_bad_row_share=self.config.max_bad_row_share,
            limits=Limits.from_options(self.config.options),
            ranker=self.ranker,
        )
