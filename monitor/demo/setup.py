"""The demo: three weeks of synthetic search traffic with a regression on day 15.

Everything runs on this machine: an embedded PostgreSQL in its own folder, the demo
source (a playlist catalog with a real BM25 ranker), local judges. On day 15 the
French locale starts returning random playlists — a broken segment, 18% of traffic —
and the demo shows the monitor seeing it: the nDCG@10 series with CIs, the change
point, and the alerts that would fire.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from monitor.store.embedded import default_data_dir
from monitor.store.reads import daily_series

__all__ = [
    "DEMO_DAYS",
    "REGRESSION_DAY",
    "DayFigure",
    "demo_config",
    "demo_data_dir",
    "ndcg_series",
    "semantic_available",
    "text_chart",
]

DEMO_DAYS = 21
REGRESSION_DAY = 15  # 1-based: the first day the regression is live
LEXICAL_THRESHOLDS = (0.35, 0.6, 0.72)  # fitted by eye to the demo catalog's score spread

LEXICAL_WARNING = (
    "The demo judges with a lexical judge (word overlap). That is for trying the "
    "pipeline, not for judging real search quality: on real human-labeled search results "
    "(TREC DL19) a lexical judge agrees with people barely better than chance "
    "(quadratic kappa -0.003) and ranks bm25 above every neural ranker. Install the "
    "'semantic' extra, or add an LLM judge, before trusting the figures. You can see the "
    "bias here: the demo's BM25 ranker orders results exactly as the lexical judge grades "
    "them, so nDCG@10 reads 1.000 until the regression."
)


def semantic_available() -> bool:
    """Whether the semantic judge's optional dependencies are installed."""
    return importlib.util.find_spec("sentence_transformers") is not None


def demo_data_dir(base: Path | None = None) -> Path:
    """The demo keeps its own embedded database, apart from real data."""
    return (base or default_data_dir()) / "demo"


def demo_config(end: dt.date, *, semantic: bool) -> dict[str, object]:
    """The demo's settings, as they would be written in judge-monitor.toml."""
    start = end - dt.timedelta(days=DEMO_DAYS - 1)
    regression = start + dt.timedelta(days=REGRESSION_DAY - 1)
    judge: dict[str, object]
    if semantic:
        judge = {"name": "semantic", "kind": "semantic", "api_key_env": None}
    else:
        judge = {
            "name": "lexical",
            "kind": "lexical",
            "api_key_env": None,
            "thresholds": list(LEXICAL_THRESHOLDS),
        }
    return {
        "judges": [judge],
        "source": {
            "kind": "demo",
            "options": {
                "seed": 7,
                "searches_per_day": 3000,
                "items": 1500,
                "queries_per_locale": 1200,
                "scenario": {"broken_segment": "locale=fr", "start": regression.isoformat()},
            },
        },
        "sampling": {"size": 120, "seed": 7, "strata": ["locale"], "min_per_stratum": 20},
        "baseline_days": 14,
    }


def to_toml(config: dict[str, object]) -> str:
    """Just enough TOML for the demo config (tables, arrays of tables, scalars)."""
    lines: list[str] = []

    def scalar(value: object) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        return json.dumps(value)

    def emit(prefix: str, table: dict[str, object], array: bool = False) -> None:
        simple = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
        nested = {k: v for k, v in table.items() if isinstance(v, dict)}
        if prefix:
            lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        for key, value in simple.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                continue
            rendered = (
                "[" + ", ".join(scalar(v) for v in value) + "]"
                if isinstance(value, list)
                else scalar(value)
            )
            lines.append(f"{key} = {rendered}")
        for key, value in simple.items():
            if isinstance(value, list) and value and isinstance(value[0], dict):
                for item in value:
                    lines.append("")
                    emit(f"{prefix}.{key}" if prefix else key, item, array=True)
        for key, value in nested.items():
            lines.append("")
            emit(f"{prefix}.{key}" if prefix else key, value)

    emit("", config)
    return "\n".join(lines).strip() + "\n"


@dataclass(frozen=True)
class DayFigure:
    day: dt.date
    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int


def ndcg_series(conn: Connection, start: dt.date, end: dt.date, k: int = 10) -> list[DayFigure]:
    """Overall ensemble nDCG@k per day, with CI and n (None for a missing day)."""
    rows = {
        r.day: r
        for r in daily_series(
            conn, metric="ndcg", segment="all", judge="ensemble", k=k, first=start, last=end
        )
    }
    out = []
    for i in range((end - start).days + 1):
        day = start + dt.timedelta(days=i)
        r = rows.get(day)
        out.append(
            DayFigure(day, r.value, r.ci_low, r.ci_high, r.n)
            if r is not None
            else DayFigure(day, None, None, None, 0)
        )
    return out


def text_chart(
    series: Sequence[DayFigure], width: int = 40, marks: dict[dt.date, str] | None = None
) -> list[str]:
    """One line per day: the value as a bar, the CI as a bracket, e.g. ``|====[==*=]  |``."""
    values = [v for f in series for v in (f.value, f.ci_low, f.ci_high) if v is not None]
    if not values:
        return ["(no figures)"]
    low, high = min(values), max(values)
    span = max(high - low, 1e-9)
    lo_edge, hi_edge = low - 0.05 * span, high + 0.05 * span

    def col(v: float) -> int:
        return min(width - 1, max(0, round((v - lo_edge) / (hi_edge - lo_edge) * (width - 1))))

    lines = [
        f"{'day':<12}{'nDCG@10':>8}  {'95% CI':<15} {lo_edge:.3f}{' ' * (width - 10)}{hi_edge:.3f}"
    ]
    for f in series:
        if f.value is None or math.isnan(f.value):
            lines.append(f"{f.day.isoformat():<12}{'—':>8}")
            continue
        cells = [" "] * width
        if f.ci_low is not None and f.ci_high is not None:
            for c in range(col(f.ci_low), col(f.ci_high) + 1):
                cells[c] = "─"
            cells[col(f.ci_low)] = "["
            cells[col(f.ci_high)] = "]"
        cells[col(f.value)] = "●"
        ci = (
            f"[{f.ci_low:.3f}, {f.ci_high:.3f}]"
            if f.ci_low is not None and f.ci_high is not None
            else ""
        )
        mark = (marks or {}).get(f.day, "")
        lines.append(f"{f.day.isoformat():<12}{f.value:>8.3f}  {ci:<15} {''.join(cells)} {mark}")
    return lines
