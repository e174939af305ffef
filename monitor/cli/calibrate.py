"""``judge-monitor calibrate``: measure the configured judges against human labels.

Runs the ``calibrate`` flow (``monitor/pipeline/calibrate.py`` does the work) and prints
how far each judge and the ensemble agree with people — classification figures first,
then kappa, tau, rho and the confusion matrix — and whether the judges order the
rankers as people do.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.measure import Measurement
from rich.text import Text

from monitor.cli._prefect import quiet_prefect
from monitor.cli._progress import progress_display
from monitor.cli.app import app, console

if TYPE_CHECKING:  # statistics libraries load lazily: `judge-monitor --help` stays fast
    from rich.table import Table

    from monitor.labels.calibration import CalibrationReport
    from monitor.metrics.estimate import Estimate
    from monitor.metrics.thresholds import ThresholdFit

__all__ = ["calibrate", "calibration_tables"]


def _fmt(estimate: Estimate) -> str:
    if estimate.value is None:
        return f"– ({estimate.reason})"
    ci = ""
    if estimate.ci_low is not None and estimate.ci_high is not None:
        ci = f" [{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]"
    return f"{estimate.value:.3f}{ci}"


def _num(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _ranker_table(report: CalibrationReport, k: int, width: int) -> Table:
    """Rankers by judges: one column per judge when that fits ``width``, else one line
    per ranker and judge (so no judge's name is ever cut for want of room)."""
    from monitor.report.table import compact_table

    judges = list(report.judge_ndcg)
    order = sorted(report.human_ndcg, key=lambda r: -report.human_ndcg[r])
    ranker_w = max((len(r) for r in report.human_ndcg), default=6)
    wide = compact_table()
    wide.add_column("ranker", min_width=ranker_w)
    wide.add_column("human", justify="right", no_wrap=True)
    for judge in judges:  # a judge's name is its column's header: never cut
        wide.add_column(escape(judge), justify="right", min_width=len(judge))
    wide.add_column(f"unjudged in top {k}", justify="right", min_width=11)
    for ranker in order:
        share = report.unjudged.share(ranker)
        wide.add_row(
            escape(ranker),
            _num(report.human_ndcg[ranker]),
            *(_num(report.judge_ndcg[j].get(ranker, math.nan)) for j in judges),
            f"{report.unjudged.unjudged.get(ranker, 0)} ({share:.1%})",
        )
    wide.add_row("tau vs human", "1.000", *(_num(report.ranker_tau[j]) for j in judges), "")
    measure = Console(width=10_000, file=io.StringIO())  # unclamped: the table's own minimum
    if Measurement.get(measure, measure.options, wide).minimum <= width:
        return wide
    long = compact_table()
    long.add_column("ranker", min_width=ranker_w)
    long.add_column("graded by", min_width=max((len(j) for j in judges), default=5))
    long.add_column(f"nDCG@{k}", justify="right", no_wrap=True)
    long.add_column(f"unjudged in top {k}", justify="right", min_width=11)
    for ranker in order:
        share = report.unjudged.share(ranker)
        unjudged = f"{report.unjudged.unjudged.get(ranker, 0)} ({share:.1%})"
        long.add_row(escape(ranker), "human", _num(report.human_ndcg[ranker]), unjudged)
        for j in judges:
            long.add_row("", escape(j), _num(report.judge_ndcg[j].get(ranker, math.nan)), "")
        long.add_section()
    for j in judges:
        long.add_row("tau vs human", escape(j), _num(report.ranker_tau[j]), "")
    return long


def calibration_tables(
    report: CalibrationReport, fits: dict[str, ThresholdFit], k: int, width: int = 80
) -> list[RenderableType]:
    """Each judge's agreement and confusion tables, then the ranker order: at ``width``
    columns no figure or judge name is cut (no vertical rules; names wrap only at a
    space; the ranker table turns long when one column per judge does not fit)."""
    from monitor.report.table import compact_table

    out: list[RenderableType] = []
    for name, row in report.agreement.items():
        # a title wider than its table would wrap inside it: titles are lines of their own
        out.append(
            Text(f"{name}: agreement with human grades on {row.n} labelled pairs (relevant ≥ 2)")
        )
        table = compact_table()
        table.add_column("figure", no_wrap=True)
        table.add_column("value \\[95% CI]", no_wrap=True)
        table.add_column("n", justify="right", no_wrap=True)
        for figure in ("precision", "recall", "f1"):
            estimate = getattr(row, figure)
            table.add_row(figure, escape(_fmt(estimate)), str(estimate.n))
        table.add_row("quadratic kappa", escape(_fmt(row.kappa)), str(row.kappa.n))
        if name in fits:
            fit = fits[name]
            table.add_row("  cross-validated kappa", f"{fit.cv_kappa:.3f}", str(fit.n))
            cuts = ", ".join(f"{t:.3f}" for t in fit.thresholds)
            table.add_row("  fitted thresholds", cuts, "")
        table.add_row("Kendall tau-b", escape(_fmt(row.tau)), str(row.tau.n))
        table.add_row("Spearman rho", escape(_fmt(row.rho)), str(row.rho.n))
        out.append(table)
        out.append(Text(f"{name}: confusion"))
        confusion = compact_table()
        for header in ("human \\ judge", "0", "1", "2", "3"):
            confusion.add_column(header, justify="right", no_wrap=True)
        for grade, counts in enumerate(row.confusion.tolist()):
            confusion.add_row(str(grade), *(str(c) for c in counts))
        out.append(confusion)

    out.append(Text(f"Do the judges rank the rankers as humans do? (nDCG@{k})"))
    out.append(_ranker_table(report, k, width))
    out.append(Text("tau vs human: Kendall tau between the judge's and the humans' ranker order."))
    out.append(
        Text(
            f"human nDCG: unjudged = 0, ideal from all human labels of the query; judge nDCG: "
            f"only human-labelled results graded (others 0), ideal from the judge's own grades "
            f"of the query's pooled top-{k} pairs."
        )
    )
    return out


def _print_report(report: CalibrationReport, fits: dict[str, ThresholdFit], k: int) -> None:
    for part in calibration_tables(report, fits, k, width=console.width):
        console.print(part)
    _verdict(report)


def _verdict(report: CalibrationReport) -> None:
    def key(name: str) -> tuple[float, float]:
        kappa = report.agreement[name].kappa.value
        tau = report.ranker_tau.get(name, math.nan)
        return (
            -1.0 if math.isnan(tau) else tau,
            -1.0 if kappa is None else kappa,
        )

    best = max(report.agreement, key=key)
    tau = report.ranker_tau.get(best, math.nan)
    kappa = report.agreement[best].kappa.value
    console.print(
        f"[bold]verdict:[/] trust {best!r} most: it orders the rankers closest to people "
        f"(tau {_num(tau)}) with quadratic kappa {_num(kappa if kappa is not None else math.nan)}"
        " on single pairs."
    )
    for name in report.agreement:
        t = report.ranker_tau.get(name, math.nan)
        if not math.isnan(t) and t <= 0:
            console.print(
                f"[yellow]{name!r} orders the rankers unlike people (tau {t:.2f}): do not use "
                "it to compare rankers.[/]"
            )


@app.command("calibrate")
def calibrate(
    labels: Path = typer.Option(..., "--labels", help="TREC qrels: qid 0 docid grade."),
    run: list[Path] = typer.Option(..., "--run", help="A run (JSONL, or TREC run format)."),
    passages: Path | None = typer.Option(None, help="TSV docid<TAB>text, for TREC run files."),
    topics: Path | None = typer.Option(None, help="TSV qid<TAB>query, for TREC run files."),
    k: int = typer.Option(10, "--k", min=1, help="Judge the labelled results of each top k."),
    fit: bool = typer.Option(True, "--fit/--no-fit", help="Fit local judges' cut points."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=10, help="Bootstrap replicates."),
    verbose: bool = typer.Option(False, "--verbose", help="Show Prefect's logs."),
) -> None:
    """Measure the configured judges (and their ensemble) against human labels."""
    quiet_prefect(verbose)
    from flows.calibrate import calibrate as calibrate_flow
    from monitor.cli.run import preflight

    preflight()
    with progress_display():
        outcome = calibrate_flow(
            labels=labels,
            runs=list(run),
            passages=passages,
            topics=topics,
            k=k,
            fit=fit,
            bootstrap=bootstrap,
        )
    console.print(
        f"{outcome.pairs} labelled (query, passage) pairs from {len(run)} run(s); "
        f"{outcome.unjudged} unlabelled top-{k} results left out of judge agreement"
    )
    _print_report(outcome.report, outcome.fits, k)
    for warning in outcome.warnings:
        console.print(Text(warning, style="yellow"))
    console.print(f"stored {outcome.stored} calibration(s) in judge_calibrations")
