"""The demo: three weeks of synthetic search traffic with a regression on day 15.

Everything runs on this machine: an embedded PostgreSQL in its own folder, the demo
source (a playlist catalog with a real BM25 ranker), and by default an ensemble of three
simulated LLM judges behind the OpenAI protocol (``monitor.demo.judges``) plus the
lexical judge. On day 15 the French locale starts returning random playlists — a broken
segment, 18% of traffic — and the demo shows the monitor seeing it (the nDCG@10 series
with CIs, the change point, the alerts) and seeing its judges: their agreement, the
length-biased one, the position-biased one, invalid answers, paid and cached calls and
what they cost.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from monitor.store.embedded import default_data_dir
from monitor.store.reads import Figure, daily_series, figures_between

__all__ = [
    "DEMO_DAYS",
    "JUDGE_MODES",
    "MIN_DAYS",
    "REGRESSION_DAY",
    "SOURCE_OPTIONS",
    "STAGING",
    "DayFigure",
    "JudgeDay",
    "JudgeHealth",
    "demo_config",
    "demo_data_dir",
    "judge_days",
    "judge_health",
    "ndcg_series",
    "semantic_available",
]

DEMO_DAYS = 21
REGRESSION_DAY = 15  # 1-based: the first day the regression is live
#: The shortest demo that still has a baseline before the regression and a day after it.
MIN_DAYS = REGRESSION_DAY + 1
#: Cut points of the lexical judge's coverage score, fitted to the demo catalog (the
#: quadratic kappa against the demo's true grades is flat around them).
LEXICAL_THRESHOLDS = (0.3, 0.45, 0.65)
#: ``ensemble``: the simulated LLM judges and the lexical judge; or one local judge alone.
JUDGE_MODES = ("ensemble", "lexical", "semantic")
#: The demo world (``monitor.sources.demo``): the simulated judges know the same one.
SOURCE_OPTIONS: dict[str, object] = {
    "seed": 7,
    "searches_per_day": 3000,
    "items": 1500,
    "queries_per_locale": 1200,
}
#: The second ranker ``compare`` judges against production: a title-only index.
STAGING = "staging"

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


def demo_config(
    end: dt.date,
    *,
    judge: str = "ensemble",
    days: int = DEMO_DAYS,
    llm_judges: Sequence[Mapping[str, object]] = (),
) -> dict[str, object]:
    """The demo's settings, as they would be written in judge-monitor.toml.

    ``llm_judges`` are the ``[[judges]]`` blocks of the simulated LLM judges (their
    ``base_url`` is known once their servers listen), used when ``judge`` is ensemble.
    """
    if judge not in JUDGE_MODES:
        raise ValueError(f"judge must be one of {', '.join(JUDGE_MODES)}, got {judge!r}")
    start = end - dt.timedelta(days=days - 1)
    regression = start + dt.timedelta(days=REGRESSION_DAY - 1)
    lexical: dict[str, object] = {
        "name": "lexical",
        "kind": "lexical",
        "api_key_env": None,
        "thresholds": list(LEXICAL_THRESHOLDS),
    }
    judges: list[dict[str, object]]
    if judge == "semantic":
        judges = [{"name": "semantic", "kind": "semantic", "api_key_env": None}]
    elif judge == "lexical":
        judges = [lexical]
    else:
        judges = [*(dict(j) for j in llm_judges), lexical]
    config: dict[str, object] = {
        "baseline_days": 14,
        # the demo's days are small (1,200 items a judge): judging stays in this process
        "judge_processes": 1,
        "judges": judges,
        "source": {
            "kind": "demo",
            "options": {
                **SOURCE_OPTIONS,
                "scenario": {"broken_segment": "locale=fr", "start": regression.isoformat()},
            },
        },
        "sampling": {"size": 120, "seed": 7, "strata": ["locale"], "min_per_stratum": 20},
    }
    if judge == "ensemble":
        config["rankers"] = {
            STAGING: {
                "kind": "demo",
                "options": {**SOURCE_OPTIONS, "scenario": {"drop_field": True}},
            }
        }
    return config


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


@dataclass(frozen=True)
class JudgeDay:
    """The judges on one day: their agreement, the LLM calls paid and cached, the cost."""

    day: dt.date
    alpha: float | None
    paid: int
    cached: int
    invalid: int
    cost_usd: float


@dataclass(frozen=True)
class JudgeHealth:
    """One judge over the demo's days, from its daily figures."""

    judge: str
    verdicts: int
    invalid_rate: float | None
    length_bias_rho: float | None  # the mean of the daily values
    position_consistency: float | None  # on the day(s) pairwise questions were asked
    latency_s: float | None  # mean per paid call
    input_tokens: int
    output_tokens: int
    cost_usd: float


def _by_day_judge(figures: Sequence[Figure]) -> dict[tuple[dt.date, str, str], Figure]:
    """Overall (segment "all") figures by (day, metric, judge)."""
    return {(f.day, f.metric, f.judge): f for f in figures if f.segment == "all"}


def judge_days(
    conn: Connection, start: dt.date, end: dt.date, llm_judges: Sequence[str]
) -> list[JudgeDay]:
    """Per day: Krippendorff's alpha among all judges; the LLM judges' verdicts paid for
    (cache misses), taken from the cache, invalid, and their cost."""
    figures = _by_day_judge(figures_between(conn, first=start, last=end))
    out = []
    for i in range((end - start).days + 1):
        day = start + dt.timedelta(days=i)
        alpha = figures.get((day, "krippendorff_alpha", "ensemble"))
        paid = cached = invalid = 0
        cost = 0.0
        for name in llm_judges:
            spent = figures.get((day, "cost_usd", name))
            hits = figures.get((day, "cache_hit_rate", name))
            bad = figures.get((day, "invalid_rate", name))
            if spent is not None:
                paid += spent.n  # the cost is summed over the day's cache misses
                cost += spent.value or 0.0
            if hits is not None and hits.value is not None:
                cached += round(hits.value * hits.n)
            if bad is not None and bad.value is not None:
                invalid += round(bad.value * bad.n)
        out.append(
            JudgeDay(day, alpha.value if alpha else None, paid, cached, invalid, round(cost, 6))
        )
    return out


def judge_health(
    conn: Connection, start: dt.date, end: dt.date, judges: Sequence[str]
) -> list[JudgeHealth]:
    """Each judge's health over [start, end], pooled from its daily figures."""
    by_metric: dict[tuple[str, str], list[Figure]] = defaultdict(list)
    for f in figures_between(conn, first=start, last=end):
        if f.segment == "all":
            by_metric[(f.metric, f.judge)].append(f)

    def valued(metric: str, name: str) -> list[Figure]:
        return [f for f in by_metric[(metric, name)] if f.value is not None]

    def pooled(metric: str, name: str) -> float | None:
        rows = valued(metric, name)
        n = sum(f.n for f in rows)
        return sum((f.value or 0.0) * f.n for f in rows) / n if n else None

    def mean(metric: str, name: str) -> float | None:
        rows = valued(metric, name)
        return sum(f.value or 0.0 for f in rows) / len(rows) if rows else None

    def total(metric: str, name: str) -> float:
        return sum(f.value or 0.0 for f in valued(metric, name))

    return [
        JudgeHealth(
            judge=name,
            verdicts=sum(f.n for f in valued("invalid_rate", name)),
            invalid_rate=pooled("invalid_rate", name),
            length_bias_rho=mean("length_bias_rho", name),
            position_consistency=pooled("position_consistency", name),
            latency_s=pooled("latency_seconds", name),
            input_tokens=int(total("input_tokens", name)),
            output_tokens=int(total("output_tokens", name)),
            cost_usd=total("cost_usd", name),
        )
        for name in judges
    ]
