"""What a flow run tells Prefect: its log lines and its artifact.

Every line goes through ``get_run_logger()``, so it is in the run's logs in the Prefect
UI whatever the terminal shows; each daily run leaves a markdown artifact (key
``daily-figures``) with the day's counts, headline figures and the alerts that would
fire, and a backfill a table artifact with one row per day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from monitor.export.alerts import Firing, firing_alerts
from monitor.metrics.catalog import METRICS
from monitor.pipeline.steps import DayOutcome
from monitor.store.db import Database
from monitor.store.reads import Figure, figures_between

if TYPE_CHECKING:
    from monitor.pipeline.compare import CompareResult

__all__ = [
    "DAILY_ARTIFACT",
    "Headline",
    "backfill_artifact",
    "daily_artifact",
    "daily_markdown",
    "headline",
    "log_compare",
    "log_day",
    "log_judging",
]

DAILY_ARTIFACT = "daily-figures"
BACKFILL_ARTIFACT = "backfill-days"

#: The headline: the quality figures (judge "ensemble") of segment "all", in catalogue order.
_QUALITY = [spec.metric for spec in METRICS if spec.section == "quality"]


@dataclass(frozen=True)
class Headline:
    """A day's headline figures as stored, and the alerts their values would fire."""

    figures: tuple[Figure, ...]
    alerts: tuple[Firing, ...]

    @property
    def ndcg(self) -> Figure | None:
        """nDCG@10 of segment all (the largest k stored when 10 is not configured)."""
        ndcg = [f for f in self.figures if f.metric == "ndcg"]
        at_10 = [f for f in ndcg if f.k == 10]
        return (at_10 or sorted(ndcg, key=lambda f: f.k))[-1] if ndcg else None


def headline(database: Database, day: dt.date) -> Headline:
    """Read the day's headline figures and the alerts that would fire from the database."""
    with database.engine.connect() as conn:
        figures = figures_between(conn, first=day, last=day)
        alerts = firing_alerts(conn, day)
    chosen = sorted(
        (
            f
            for f in figures
            if f.segment == "all" and f.judge == "ensemble" and f.metric in _QUALITY
        ),
        key=lambda f: (_QUALITY.index(f.metric), f.k),
    )
    return Headline(figures=tuple(chosen), alerts=tuple(alerts))


def log_judging(day: dt.date, scheduled: dt.datetime | None = None) -> None:
    """The run's first line: which day it judges, and why that day."""
    why = f"scheduled for {scheduled.isoformat()}" if scheduled else "the day asked for"
    get_run_logger().info("judging %s (%s)", day.isoformat(), why)


def log_day(outcome: DayOutcome, figures: Headline | None = None) -> None:
    """A day's outcome in the run's logs: counts, cost, status, nDCG@10, alerts."""
    logger = get_run_logger()
    c = outcome.counts
    logger.info(
        "%s %s: %s queries sampled of %s searches, %s paid calls, %s cached, %s invalid, "
        "cost $%.4f, %.1f s",
        outcome.day.isoformat(),
        outcome.status,
        f"{c.get('sampled', 0):,}",
        f"{c.get('searches', 0):,}",
        f"{c.get('judged', 0):,}",
        f"{c.get('cached', 0):,}",
        f"{c.get('invalid', 0):,}",
        outcome.cost_usd,
        outcome.duration_s,
    )
    if figures is None:
        return
    ndcg = figures.ndcg
    if ndcg is None:
        logger.warning("%s: no nDCG stored for segment all", outcome.day.isoformat())
    elif ndcg.value is None:
        logger.warning(
            "%s: nDCG@%d (segment all) not computed: %s",
            outcome.day.isoformat(),
            ndcg.k,
            ndcg.reason,
        )
    else:
        logger.info(
            "%s: nDCG@%d (segment all) %s, n=%d",
            outcome.day.isoformat(),
            ndcg.k,
            _with_ci(ndcg),
            ndcg.n,
        )
    for alert in figures.alerts:
        logger.warning(
            "%s: alert %s would fire (%s, segment %s, judge %s: %s, baseline %s)",
            outcome.day.isoformat(),
            alert.alert,
            alert.severity,
            alert.segment,
            alert.judge,
            _number(alert.value),
            _number(alert.baseline),
        )


def log_compare(result: CompareResult) -> None:
    """A comparison's outcome in the run's logs."""
    get_run_logger().info(
        "%s: %s vs %s on %d queries: %d wins, %d ties, %d losses; nDCG %s vs %s; cost $%.4f",
        result.day.isoformat(),
        result.name_a,
        result.name_b,
        result.queries,
        result.wins,
        result.ties,
        result.losses,
        _number(result.ndcg_a.value),
        _number(result.ndcg_b.value),
        result.cost_usd,
    )


def daily_markdown(outcome: DayOutcome, figures: Headline) -> str:
    """The daily artifact's markdown: counts, headline figures, alerts that would fire."""
    c = outcome.counts
    lines = [
        f"# daily {outcome.day.isoformat()}: {outcome.status}",
        "",
        "| | |",
        "|---|---:|",
        f"| queries sampled | {c.get('sampled', 0):,} of {c.get('searches', 0):,} searches |",
        f"| paid calls | {c.get('judged', 0):,} |",
        f"| cached verdicts | {c.get('cached', 0):,} |",
        f"| invalid answers | {c.get('invalid', 0):,} |",
        f"| bad source rows | {c.get('bad_rows', 0):,} |",
        f"| cost | ${outcome.cost_usd:.4f} |",
        f"| duration | {outcome.duration_s:.1f} s |",
        "",
        "## Headline figures (segment all, ensemble)",
        "",
    ]
    if figures.figures:
        lines += ["| metric | k | value | 95% CI | n |", "|---|---:|---:|---|---:|"]
        for f in figures.figures:
            ci = (
                f"{f.ci_low:.3f} – {f.ci_high:.3f}"
                if f.ci_low is not None and f.ci_high is not None
                else ""
            )
            value = _number(f.value) if f.value is not None else f"— ({_cell(f.reason or '')})"
            lines.append(f"| {f.metric} | {f.k} | {value} | {ci} | {f.n:,} |")
    else:
        lines.append("No figures stored for this day.")
    lines += [
        "",
        "## Alerts that would fire (the rules file; baseline: each segment's in-control days)",
        "",
    ]
    if figures.alerts:
        lines += [
            "| alert | severity | segment | judge | value | baseline |",
            "|---|---|---|---|---:|---:|",
        ]
        lines += [
            f"| {a.alert} | {a.severity} | {_cell(a.segment)} | {_cell(a.judge)} | "
            f"{_number(a.value)} | {_number(a.baseline)} |"
            for a in figures.alerts
        ]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def daily_artifact(outcome: DayOutcome, figures: Headline) -> None:
    """The daily run's markdown artifact (one version per run under ``daily-figures``)."""
    create_markdown_artifact(
        markdown=daily_markdown(outcome, figures),
        key=DAILY_ARTIFACT,
        description=f"daily {outcome.day.isoformat()}: headline figures and alerts",
    )


def backfill_artifact(outcomes: list[tuple[DayOutcome, Headline]]) -> None:
    """The backfill's table artifact: one row per day it ran."""
    rows: list[dict[str, Any]] = []
    for outcome, figures in outcomes:
        ndcg = figures.ndcg
        rows.append(
            {
                "day": outcome.day.isoformat(),
                "status": outcome.status,
                "sampled": outcome.counts.get("sampled", 0),
                "paid": outcome.counts.get("judged", 0),
                "cached": outcome.counts.get("cached", 0),
                "cost_usd": round(outcome.cost_usd, 4),
                "ndcg": None if ndcg is None or ndcg.value is None else round(ndcg.value, 4),
                "alerts": ", ".join(sorted({a.alert for a in figures.alerts})),
            }
        )
    first, last = outcomes[0][0].day, outcomes[-1][0].day
    create_table_artifact(
        table=rows,
        key=BACKFILL_ARTIFACT,
        description=f"backfill {first.isoformat()}..{last.isoformat()}: one row per day run",
    )


def _with_ci(f: Figure) -> str:
    if f.ci_low is None or f.ci_high is None:
        return _number(f.value)
    return f"{_number(f.value)} [{f.ci_low:.3f}, {f.ci_high:.3f}]"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
