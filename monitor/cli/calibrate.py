"""``judge-monitor calibrate``: measure the configured judges against human labels.

Reads TREC qrels and one or more runs, judges every human-labelled (query, passage) of
each run's top k through the verdict cache (an LLM judge is never paid twice for the
same question), fits the cut points of local judges (cross-validated), prints how far
each judge and the ensemble agree with people — on single pairs and on the order of the
rankers — and stores each judge's calibration for the weighted ensemble to use.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from monitor.calibration import (
    ENSEMBLE,
    CalibrationReport,
    LabeledPair,
    build_report,
    distinct_pairs,
    ensemble_grades,
    ensemble_weight,
    labeled_pairs,
    qrels_index,
    score_correlation,
)
from monitor.cli.app import app, console
from monitor.config import JudgeConfig, SourceConfig, load_settings
from monitor.errors import InputError
from monitor.judges.base import Judge
from monitor.judges.factory import build_ensemble, build_judge
from monitor.judges.semantic import SemanticJudge
from monitor.judging import judge_with_cache
from monitor.metrics.estimate import Estimate
from monitor.metrics.thresholds import ThresholdFit, fit_thresholds
from monitor.sources.trec import TrecSource, read_qrels
from monitor.store.calibrations import upsert_calibration
from monitor.store.db import Database, connect
from monitor.store.migrate import upgrade
from monitor.types import JudgeItem, Result, SearchRecord, VerdictStatus

__all__ = ["calibrate", "judge_pairs", "read_runs", "refit_judge"]

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def read_runs(
    paths: Sequence[Path], *, passages: Path | None = None, topics: Path | None = None
) -> dict[str, list[SearchRecord]]:
    """ranker -> its records, for JSONL runs or TREC run files (with passages and topics)."""
    runs: dict[str, list[SearchRecord]] = {}
    for path in paths:
        options: dict[str, Any] = {}
        if passages is not None:
            options["passages"] = str(passages)
        if topics is not None:
            options["topics"] = str(topics)
        source = TrecSource(SourceConfig(kind="trec", path=str(path), options=options))
        records = list(source.fetch(_EPOCH, _EPOCH + dt.timedelta(days=1)))
        if source.ranker in runs:
            raise InputError(f"{path}: a run for ranker {source.ranker!r} was already given")
        if not records:
            raise InputError(f"{path}: no usable query in this run ({source.report})")
        runs[source.ranker] = records
    return runs


def _items(pairs: Sequence[LabeledPair]) -> list[JudgeItem]:
    return [
        JudgeItem(query=p.query, result=Result(id=p.docid, position=p.rank, text=p.text))
        for p in pairs
    ]


def judge_pairs(
    database: Database,
    judges: Sequence[Judge],
    pairs: Sequence[LabeledPair],
    progress: Progress | None = None,
) -> dict[str, list[float | None]]:
    """Each judge's grade of each pair through the verdict cache (None: no valid grade)."""
    tasks = {}
    if progress is not None:
        tasks = {j.name: progress.add_task(j.name, total=len(pairs)) for j in judges}

    def advance(name: str, done: int, total: int) -> None:
        if progress is not None and name in tasks:
            progress.update(tasks[name], completed=done, total=total)

    verdicts, tallies = asyncio.run(
        judge_with_cache(database, judges, _items(pairs), progress=advance)
    )
    for name, tally in tallies.items():
        for error in tally.errors:
            console.print(f"[yellow]judge {name}: {error}[/]")
    return {
        name: [
            float(v.grade)
            if v is not None and v.status is VerdictStatus.OK and v.grade is not None
            else None
            for v in answers
        ]
        for name, answers in verdicts.items()
    }


def refit_judge(judge: Judge, thresholds: Sequence[float]) -> Judge:
    """The same local judge with fitted cut points (a semantic judge keeps its embeddings)."""
    if isinstance(judge, SemanticJudge):
        return judge.with_thresholds(thresholds)
    config = judge.config.model_copy(update={"thresholds": [float(t) for t in thresholds]})
    return build_judge(config)


def _fmt(estimate: Estimate) -> str:
    if estimate.value is None:
        return f"– ({estimate.reason})"
    ci = ""
    if estimate.ci_low is not None and estimate.ci_high is not None:
        ci = f" [{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]"
    return f"{estimate.value:.3f}{ci}"


def _num(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _estimate_json(estimate: Estimate) -> dict[str, Any]:
    return {
        "value": estimate.value,
        "ci_low": estimate.ci_low,
        "ci_high": estimate.ci_high,
        "n": estimate.n,
        "reason": estimate.reason,
    }


def _print_report(report: CalibrationReport, fits: dict[str, ThresholdFit], k: int) -> None:
    for name, row in report.agreement.items():
        title = f"{name}: agreement with human grades on {row.n} labelled pairs (relevant ≥ 2)"
        table = Table("figure", "value [95% CI]", "n", title=title, title_justify="left")
        for figure in ("precision", "recall", "f1"):
            estimate = getattr(row, figure)
            table.add_row(figure, _fmt(estimate), str(estimate.n))
        table.add_row("quadratic kappa", _fmt(row.kappa), str(row.kappa.n))
        if name in fits:
            fit = fits[name]
            table.add_row("  cross-validated kappa", f"{fit.cv_kappa:.3f}", str(fit.n))
            cuts = ", ".join(f"{t:.3f}" for t in fit.thresholds)
            table.add_row("  fitted thresholds", cuts, "")
        table.add_row("Kendall tau-b", _fmt(row.tau), str(row.tau.n))
        table.add_row("Spearman rho", _fmt(row.rho), str(row.rho.n))
        console.print(table)
        confusion = Table("human \\ judge", "0", "1", "2", "3", title=f"{name}: confusion")
        for grade, counts in enumerate(row.confusion.tolist()):
            confusion.add_row(str(grade), *(str(c) for c in counts))
        console.print(confusion)

    judges = list(report.judge_ndcg)
    rankers = Table(
        title=f"Do the judges rank the rankers as humans do? (nDCG@{k})", title_justify="left"
    )
    for header in ("ranker", "human", *judges, f"unjudged in top {k}"):
        rankers.add_column(header, overflow="fold")
    for ranker in sorted(report.human_ndcg, key=lambda r: -report.human_ndcg[r]):
        share = report.unjudged.share(ranker)
        rankers.add_row(
            ranker,
            _num(report.human_ndcg[ranker]),
            *(_num(report.judge_ndcg[j].get(ranker, math.nan)) for j in judges),
            f"{report.unjudged.unjudged.get(ranker, 0)} ({share:.1%})",
        )
    rankers.add_row("tau vs human", "1.000", *(_num(report.ranker_tau[j]) for j in judges), "")
    console.print(rankers)
    console.print("tau vs human: Kendall tau between the judge's and the humans' ranker order.")
    console.print(
        f"human nDCG: unjudged = 0, ideal from all human labels of the query; judge nDCG: "
        f"only human-labelled results graded (others 0), ideal from the judge's own grades "
        f"of the query's pooled top-{k} pairs."
    )
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


def _lexical_guard(
    runs: dict[str, list[SearchRecord]],
    pairs: Sequence[LabeledPair],
    grades: dict[str, list[float | None]],
    lexical: Sequence[str],
) -> None:
    others = [name for name in grades if name not in lexical]
    columns: dict[str, Sequence[float | None]] = dict(grades)
    if len(grades) > 1:
        columns[ENSEMBLE] = ensemble_grades(grades)
    reference = ENSEMBLE if ENSEMBLE in columns else None

    def grade_of(grades: Sequence[float | None]) -> Any:
        table = {(p.qid, p.docid): g for p, g in zip(pairs, grades, strict=True)}
        return lambda q, d: table.get((q, d))

    for ranker, records in runs.items():
        if "bm25" not in ranker.casefold():
            continue
        people = score_correlation(records, grade_of([float(p.human) for p in pairs]))
        for name in lexical:
            mine = score_correlation(records, grade_of(columns[name]))
            if reference is not None and others:
                theirs = score_correlation(records, grade_of(columns[reference]))
                against = f"the ensemble's ({_num(theirs)})"
            else:
                theirs, against = people, f"the human grades' ({_num(people)})"
            if not math.isnan(mine) and (math.isnan(theirs) or mine > theirs):
                console.print(
                    f"[yellow]guard: lexical judge {name!r} follows {ranker}'s own score "
                    f"(within-query rho {mine:.2f}) more than {against}; humans: "
                    f"{_num(people)}. It shares the lexical ranker's bias: do not trust it "
                    f"to compare {ranker} with neural rankers.[/]"
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
) -> None:
    """Measure the configured judges (and their ensemble) against human labels."""
    settings = load_settings()
    judges = build_ensemble(settings.judges)
    qrels = qrels_index(read_qrels(labels))
    runs = read_runs(run, passages=passages, topics=topics)
    all_pairs, unjudged = labeled_pairs(runs, qrels, k)
    pairs = distinct_pairs(all_pairs)
    if not pairs:
        raise InputError(f"{labels}: no result in the top {k} of the runs has a human label")
    console.print(
        f"{len(pairs)} labelled (query, passage) pairs from {len(runs)} run(s); "
        f"{unjudged.total_unjudged} unlabelled top-{k} results left out of judge agreement"
    )
    database = connect(settings)
    try:
        upgrade(database.engine, database.url)
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        with Progress(*columns, console=console, transient=True) as progress:
            grades = judge_pairs(database, judges, pairs, progress)
            fits: dict[str, ThresholdFit] = {}
            fitted: dict[str, Judge] = {}
            human = [p.human for p in pairs]
            for judge in judges:
                score_fn = getattr(judge, "scores", None)
                if not fit or judge.config.kind == "llm" or score_fn is None:
                    continue
                scores = score_fn(_items(pairs))
                fits[judge.name] = fit_thresholds(scores, human, groups=[p.qid for p in pairs])
                fitted[judge.name] = refit_judge(judge, fits[judge.name].thresholds)
            if fitted:
                grades.update(judge_pairs(database, list(fitted.values()), pairs, progress))
        report = build_report(runs, qrels, pairs, grades, k=k, unjudged=unjudged, n_boot=bootstrap)
        _print_report(report, fits, k)
        lexical = [j.name for j in judges if j.config.kind == "lexical"]
        _lexical_guard(runs, pairs, grades, lexical)
        _store(database, report, judges, fits, str(labels.resolve()), k)
    finally:
        database.dispose()


def _store(
    database: Database,
    report: CalibrationReport,
    judges: Sequence[Judge],
    fits: dict[str, ThresholdFit],
    labels_source: str,
    k: int,
) -> None:
    with database.engine.begin() as conn:
        for judge in judges:
            row = report.agreement[judge.name]
            metrics: dict[str, Any] = {
                name: _estimate_json(getattr(row, name))
                for name in ("precision", "recall", "f1", "kappa", "tau", "rho")
            }
            metrics["confusion"] = row.confusion.tolist()
            metrics["k"] = k
            metrics["ranker_tau"] = _nan_none(report.ranker_tau[judge.name])
            metrics["judge_ndcg"] = {
                r: _nan_none(v) for r, v in report.judge_ndcg[judge.name].items()
            }
            metrics["human_ndcg"] = {r: _nan_none(v) for r, v in report.human_ndcg.items()}
            fit_result = fits.get(judge.name)
            if fit_result is not None:
                metrics["cv_kappa"] = fit_result.cv_kappa
                metrics["fitted_kappa"] = fit_result.fitted_kappa
            config: JudgeConfig = judge.config
            upsert_calibration(
                conn,
                judge_name=judge.name,
                config_hash=config.identity_hash(),
                labels_source=labels_source,
                n=row.n,
                metrics=metrics,
                # a fitted judge's in-sample kappa flatters it: weigh it by the held-out one
                weight=ensemble_weight(row)
                if fit_result is None
                else max(fit_result.cv_kappa, 0.0),
                thresholds=None if fit_result is None else fit_result.thresholds,
            )
    console.print(f"stored {len(judges)} calibration(s) in {database.where}")


def _nan_none(value: float) -> float | None:
    return None if math.isnan(value) else value
