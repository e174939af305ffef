"""``judge-monitor sample`` and ``plan``: look at a day's sample, size the daily sample."""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import typer

from monitor.cli.app import app, console
from monitor.cli.run import past_day
from monitor.errors import InputError

__all__ = ["plan_command", "sample_command", "stored_ndcg_sd"]


@app.command("sample")
def sample_command(
    date: str | None = typer.Option(None, "--date", help="Day to sample (default yesterday)."),
    source: str = typer.Option(
        "production", "--source", help="'production' (the \\[source]) or a \\[rankers.NAME]."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the sample as JSONL here."),
) -> None:
    """Draw the day's sample without judging it: per-stratum counts and weights."""
    from monitor.config import load_settings
    from monitor.pipeline.compare import ranker_source
    from monitor.pipeline.steps import day_window
    from monitor.sampling import sample_day, summarize, write_jsonl
    from monitor.sources.factory import build_source

    settings = load_settings()
    day = past_day(date)
    source_config = ranker_source(settings, source)
    src = build_source(source_config)
    start, end = day_window(day)
    sample = sample_day(src.fetch(start, end), day=day, config=settings.sampling)
    src.report.check(source_config.max_bad_row_share)
    console.print(summarize(sample))
    console.print(
        f"{sample.total_searches:,} searches, {sample.distinct_queries:,} distinct queries, "
        f"{sample.sampled:,} sampled; {src.report.summary()}"
    )
    if out is not None:
        written = write_jsonl(sample, out)
        console.print(f"wrote {written:,} sampled queries to {out}")


def stored_ndcg_sd(days: int = 14) -> tuple[float, int] | None:
    """Per-query sd of nDCG@10 implied by the stored daily CIs (median over recent days).

    A weighted mean's 95% CI half-width is about 1.96 sd / sqrt(n), so each stored day
    gives sd ≈ half-width × sqrt(n) / 1.96.
    """
    from monitor.config import load_settings
    from monitor.store.db import connect
    from monitor.store.reads import daily_series

    database = connect(load_settings())
    try:
        with database.engine.connect() as conn:
            series = daily_series(conn, metric="ndcg", segment="all", judge="ensemble", k=10)
    except Exception:
        return None  # no schema yet: fall back to the stated figures
    finally:
        database.dispose()
    valued = [p for p in series if p.value is not None]
    rows = valued[max(len(valued) - days, 0) :]  # the latest ``days`` days with a value
    sds = [
        (r.ci_high - r.ci_low) / 2 * math.sqrt(r.n) / 1.96
        for r in rows
        if r.ci_low is not None and r.ci_high is not None and r.n > 1 and r.ci_high > r.ci_low
    ]
    return (statistics.median(sds), len(sds)) if sds else None


@app.command("plan")
def plan_command(
    drop: float | None = typer.Option(
        None, "--drop", help="Drop of daily nDCG@10 to detect, e.g. 0.03."
    ),
    baseline_ndcg: float | None = typer.Option(
        None, "--baseline-ndcg", help="Typical nDCG@10, for a stated variance (sd ≤ √(x(1−x)))."
    ),
    sd: float | None = typer.Option(None, "--sd", help="Per-query sd of nDCG@10, if known."),
    alpha: float = typer.Option(0.05, "--alpha", help="False-alarm rate per day."),
    power: float = typer.Option(0.8, "--power", help="Chance of catching a real drop."),
) -> None:
    """The smallest nDCG@10 drop the configured daily sample detects, and how many queries
    a day detect a drop of --drop (variance from stored runs, or stated)."""
    from monitor.config import load_settings
    from monitor.metrics.power import detectable_drop, queries_needed

    if sd is not None:
        how = "as given (--sd)"
    elif (stored := stored_ndcg_sd()) is not None:
        sd, days = stored
        how = f"measured from the CIs of the last {days} stored days"
    elif baseline_ndcg is not None:
        if not 0 < baseline_ndcg < 1:
            raise InputError(f"--baseline-ndcg must be in (0, 1), got {baseline_ndcg}")
        sd = math.sqrt(baseline_ndcg * (1 - baseline_ndcg))
        how = f"the largest possible for a mean of {baseline_ndcg} (√(x(1−x)))"
    else:
        raise InputError(
            "no stored runs to measure the variance from: give --sd or --baseline-ndcg"
        )
    budget = load_settings().sampling.size
    mde = detectable_drop(sd, max(budget, 2), alpha=alpha, power=power)
    console.print(
        f"at the configured {budget:,} queries a day (sampling.size), the smallest drop in "
        f"daily nDCG@10 detected is {mde:.3f} (fresh sample alone; one-sided alpha {alpha}, "
        f"power {power}); per-query sd {sd:.3f}, {how}."
    )
    if drop is not None:
        n = queries_needed(sd, drop, alpha=alpha, power=power)
        console.print(
            f"{n:,} sampled queries a day detect a drop of {drop} in nDCG@10 "
            f"(one-sided alpha {alpha}, power {power}); per-query sd {sd:.3f}, {how}."
        )
