"""The day's sample written out for people: the per-stratum table ``judge-monitor sample``
prints, and one JSON line per sampled list (``--out``)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from monitor.errors import InputError
from monitor.sampling import DailySample
from monitor.types import SampledQuery

__all__ = ["summarize", "write_jsonl"]


def summarize(sample: DailySample) -> Table:
    """Per-stratum population, sample and weights, for ``judge-monitor sample``."""
    table = Table(title=f"Sample for {sample.day.isoformat()} (seed {sample.seed})")
    for name in ("stratum", "searches", "distinct", "sampled", "hard (pop/sample)", "weight sum"):
        table.add_column(name, justify="left" if name == "stratum" else "right")
    for key, c in sample.strata.items():
        table.add_row(
            key,
            str(c.searches),
            str(c.distinct),
            str(c.sampled),
            f"{c.hard_distinct}/{c.hard_sampled}",
            f"{c.weight_sum:,.1f}",
        )
    table.add_row(
        "total",
        str(sample.total_searches),
        str(sample.distinct_queries),
        str(sample.sampled),
        "",
        f"{sum(q.weight for q in sample.queries):,.1f}",
    )
    return table


def _row(sq: SampledQuery, searches: int, pi: float, day: dt.date) -> dict[str, Any]:
    r = sq.record
    return {
        "day": day.isoformat(),
        "stratum": sq.stratum,
        "query_id": r.query_id,
        "query": r.query,
        "query_norm": r.normalized_query,
        "timestamp": r.timestamp.isoformat(),
        "segment": dict(r.segment),
        "ranker": r.ranker,
        "searches": searches,
        "query_inclusion_probability": pi,
        "inclusion_probability": sq.inclusion_probability,
        "weight": sq.weight,
        "hard": sq.hard,
        "list_no": sq.list_no,
        "signals": {
            "clicks": r.clicks,
            "zero_result": r.zero_result,
            "reformulated": r.reformulated,
        },
        "results": [
            {
                "id": x.id,
                "position": x.position,
                "title": x.title,
                "text": x.text,
                "metadata": dict(x.metadata),
            }
            for x in r.results
        ],
    }


def write_jsonl(sample: DailySample, path: str | Path) -> int:
    """Write one JSON line per sampled query; returns the number of lines."""
    target = Path(path)
    if target.is_dir():
        raise InputError(f"{target}: is a directory, expected a file path for the sample")
    with target.open("w", encoding="utf-8") as fh:
        for sq, f, pi in zip(
            sample.queries, sample.searches, sample.query_probabilities, strict=True
        ):
            fh.write(json.dumps(_row(sq, f, pi, sample.day), ensure_ascii=False, default=str))
            fh.write("\n")
    return len(sample.queries)
