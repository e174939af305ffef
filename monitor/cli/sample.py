"""``judge-monitor sample`` and ``plan``: look at a day's sample, size the daily sample."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from monitor.cli.app import app, console
from monitor.cli.run import past_day
from monitor.errors import InputError

if TYPE_CHECKING:
    from monitor.config import Settings

__all__ = [
    "plan_command",
    "plan_labels",
    "sample_command",
    "stored_ndcg_sd",
    "stored_panel_sd",
]

#: What to run when no label is stored yet.
LABEL_FIRST = (
    "label some first: judge-monitor labels export --for-annotation --date YYYY-MM-DD "
    "--queries 40 --out DIR, then judge-monitor labels import FILE"
)


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
    from monitor.sampling import sample_day
    from monitor.sampling_output import summarize, write_jsonl
    from monitor.sources.factory import build_source

    settings = load_settings()
    day = past_day(date)
    source_config = ranker_source(settings, source)
    src = build_source(source_config)
    start, end = day_window(day)
    sd, history, note = _design(settings, day) if source == "production" else (None, None, "")
    sample = sample_day(
        src.fetch(start, end), day=day, config=settings.sampling, sd=sd, history=history
    )
    src.report.check(source_config.max_bad_row_share)
    console.print(summarize(sample))
    console.print(
        f"{sample.total_searches:,} searches, {sample.distinct_queries:,} distinct queries, "
        f"{sample.sampled:,} sampled; {src.report.summary()}"
    )
    if note:
        console.print(note)
    if out is not None:
        written = write_jsonl(sample, out)
        console.print(f"wrote {written:,} sampled lists to {out}")


def _design(
    settings: Settings, day: dt.date
) -> tuple[dict[str, float] | None, set[str] | None, str]:
    """The stored history the day's design reads (``allocation.stored_design``: a Neyman
    allocation's sds, a panel's queries), so the preview draws what ``run`` would; a
    note when the design needs the store and it cannot be read."""
    from sqlalchemy.exc import SQLAlchemyError

    from monitor.errors import DatabaseError
    from monitor.pipeline.allocation import stored_design
    from monitor.store.db import connect

    sampling = settings.sampling
    if sampling.allocation != "neyman" and sampling.panel_share <= 0:
        return None, None, ""
    try:
        database = connect(settings)
    except DatabaseError as exc:
        return None, None, f"previewed without the stored history ({exc}): no panel, no Neyman sds"
    try:
        sd, history = stored_design(database, day, settings)
    except SQLAlchemyError:
        return (
            None,
            None,
            "nothing stored yet (judge-monitor db upgrade, run): no panel, no Neyman sds",
        )
    finally:
        database.dispose()
    return sd, history, ""


def _stored_points(metric: str, days: int) -> list[tuple[float, int]]:
    """(CI half-width, n) of the latest ``days`` stored days of ``metric`` (segment all,
    ensemble, k = 10) that have a CI; empty when nothing (or no schema) is stored."""
    from monitor.config import load_settings
    from monitor.store.db import connect
    from monitor.store.reads import daily_series

    database = connect(load_settings())
    try:
        with database.engine.connect() as conn:
            series = daily_series(conn, metric=metric, segment="all", judge="ensemble", k=10)
    except Exception:
        return []  # no schema yet: fall back to the stated figures
    finally:
        database.dispose()
    valued = [p for p in series if p.value is not None]
    return [
        ((r.ci_high - r.ci_low) / 2, r.n)
        for r in valued[max(len(valued) - days, 0) :]
        if r.ci_low is not None and r.ci_high is not None and r.n > 1 and r.ci_high > r.ci_low
    ]


def stored_ndcg_sd(days: int = 14) -> tuple[float, int] | None:
    """Per-query sd of nDCG@10 implied by the stored daily CIs (median over recent days).

    A weighted mean's 95% CI half-width is about 1.96 sd / sqrt(n), so each stored day
    gives sd ≈ half-width × sqrt(n) / 1.96.
    """
    sds = [half * math.sqrt(n) / 1.96 for half, n in _stored_points("ndcg", days)]
    return (statistics.median(sds), len(sds)) if sds else None


def stored_panel_sd(days: int = 14) -> tuple[float, int] | None:
    """The sd of the panel's per-query differences implied by the stored
    ``panel_ndcg_change`` CIs (a t interval: half-width = t(0.975, n − 1) sd / √n), the
    median over recent days."""
    from scipy import stats

    from monitor.pipeline.panel_step import PANEL_METRIC

    sds = [
        half * math.sqrt(n) / float(stats.t.ppf(0.975, n - 1))
        for half, n in _stored_points(PANEL_METRIC, days)
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
    labels: bool = typer.Option(
        False, "--labels", help="Plan human labels instead: how many a day reach --target-width."
    ),
    target_width: float = typer.Option(
        0.05, "--target-width", help="With --labels: the 95% CI width (high − low) to reach."
    ),
    segment: str = typer.Option(
        "all", "--segment", help="With --labels: the segment, e.g. locale=de (default all)."
    ),
) -> None:
    """The smallest nDCG@10 drop the configured daily sample detects (and the paired
    panel, when configured), and how many queries a day detect a drop of --drop
    (variance from stored runs, or stated); with --labels,
    how many human labels a day the corrected nDCG@10 needs for a CI
    --target-width wide."""
    from monitor.config import load_settings
    from monitor.metrics.power import detectable_drop, queries_needed
    from monitor.sampling_panel import panel_size

    if labels:
        plan_labels(target_width=target_width, segment=segment)
        return
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
    sampling = load_settings().sampling
    budget, panel = sampling.size, panel_size(sampling)
    fresh = budget - panel
    mde = detectable_drop(sd, max(fresh, 2), alpha=alpha, power=power)
    of_which = f", {fresh:,} of them fresh" if panel else ""
    console.print(
        f"at the configured {budget:,} queries a day (sampling.size{of_which}), the smallest "
        f"drop in daily nDCG@10 detected is {mde:.3f} (fresh sample alone; one-sided alpha "
        f"{alpha}, power {power}); per-query sd {sd:.3f}, {how}."
    )
    _plan_panel(panel, sampling.panel_share, alpha=alpha, power=power)
    if drop is not None:
        n = queries_needed(sd, drop, alpha=alpha, power=power)
        console.print(
            f"{n:,} sampled queries a day detect a drop of {drop} in nDCG@10 "
            f"(one-sided alpha {alpha}, power {power}); per-query sd {sd:.3f}, {how}."
        )


def _plan_panel(panel: int, share: float, *, alpha: float, power: float) -> None:
    """The paired panel's line of ``plan``: its detectable drop from the stored history,
    or what is missing to say it."""
    from monitor.metrics.power import detectable_paired_drop
    from monitor.pipeline.panel_step import PANEL_METRIC

    if panel < 2:
        console.print(
            "no paired panel (sampling.panel_share = 0): a panel judges the same head queries "
            "every day and compares each with its own history, which sees a drop on those "
            "queries with fewer of them (docs/detection-power.md, A paired panel)."
        )
        return
    stored = stored_panel_sd()
    if stored is None:
        console.print(
            f"with the paired panel ({panel:,} queries a day, sampling.panel_share {share:g}): "
            f"no {PANEL_METRIC} stored yet to measure it from; it needs a few days of the "
            "panel's own history (judge-monitor backfill)."
        )
        return
    sd_diff, days = stored
    mde = detectable_paired_drop(sd_diff, panel, alpha=alpha, power=power)
    console.print(
        f"with the paired panel ({panel:,} queries a day, sampling.panel_share {share:g}), the "
        f"smallest drop in nDCG@10 on the panel's queries detected is {mde:.3f} (one-sided "
        f"alpha {alpha}, power {power}); sd of each query's change {sd_diff:.3f}, measured "
        f"from the CIs of the last {days} stored days of {PANEL_METRIC}."
    )


def plan_labels(*, target_width: float, segment: str, k: int = 10) -> None:
    """Print how many labelled queries a day give the corrected nDCG@k (the headline
    pooled ``ndcg``) a 95% CI ``target_width`` wide, and what that saves against
    labelling without the judge.

    The agreement (sd of the human and judge values, their correlation) is measured on
    every stored labelled query of the segment (the samples picked for annotation whose
    results all have a human grade), PPI's power analysis (``ppi.labels_needed``) does
    the rest, with the segment's judged queries a labelled day as the judge-only set.
    """
    from monitor.config import load_settings
    from monitor.metrics.ppi import agreement_moments, labels_needed
    from monitor.pipeline.corrected_step import agreement_pairs, read_window
    from monitor.store.db import connect

    if not (math.isfinite(target_width) and 0 < target_width < 1):
        raise InputError(f"--target-width must be in (0, 1), got {target_width}")
    settings = load_settings()
    database = connect(settings)
    try:
        window = read_window(
            database, first=dt.date.min, last=dt.date.max, top_k=settings.sampling.top_k
        )
    finally:
        database.dispose()
    if not window.labelled:
        raise InputError(f"no stored human labels of picked samples yet: {LABEL_FIRST}")
    y, yhat, w, per_day = agreement_pairs(
        window, segment=segment, k=k, relevant=settings.relevant_grade
    )
    if y.size < 2:
        raise InputError(
            f"--segment {segment!r}: {y.size} labelled queries stored in it, at least 2 are "
            f"needed to measure the judge's agreement; {LABEL_FIRST}"
        )
    sd_h, sd_j, corr = agreement_moments(y, yhat, w)
    note = ""
    if not math.isfinite(corr):  # a judge (or people) giving one value says nothing
        corr, note = 0.0, " (undefined: one of them does not vary; taken as 0)"
    queries = max(2, round(per_day))
    plan = labels_needed(
        sd_human=sd_h, sd_judge=sd_j, correlation=corr, target_width=target_width, queries=queries
    )
    console.print(
        f"measured on {y.size:,} stored labelled queries of segment {segment}: per-query sd "
        f"of nDCG@{k} {sd_h:.3f} (people) and {sd_j:.3f} (judges), correlation "
        f"{corr:.2f}{note}; {queries:,} judged queries a labelled day."
    )
    if plan.labels is None or plan.saved is None:
        console.print(
            f"{plan.reason}: the corrected nDCG@{k} cannot reach a 95% CI width of "
            f"{target_width:g} from one day (a wider label_window_days pools days); "
            f"humans only would need {plan.humans_only:,} labelled queries."
        )
        return
    console.print(
        f"{plan.labels:,} labelled queries a day give the corrected nDCG@{k} "
        f"of {segment} a "
        f"95% CI {target_width:g} wide (expected {plan.width:.3f}); humans only would need "
        f"{plan.humans_only:,}: the judge saves {plan.saved:,} labels a day "
        f"({plan.saved / plan.humans_only:.0%})."
    )
