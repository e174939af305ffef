"""Human labels correct a biased judge: PPI++ coverage and CI width on TREC DL19 days.

For each of the six DL19 rankers, each query's judge nDCG@10 (the daily figure: the
judge's grades of the top 10, ideal pooled over every result the judge graded for the
query, here the six rankers' top 10s, as the dashboards' ``ndcg``; ``--judge-ideal list``
takes the list's own ideal, as ``ndcg_list``) and human nDCG@10 (the TREC
figure: qrels grades, ideal from all of the query's qrels; ``--ideal list`` takes the
ideal from the shown list, as labelling only the day's top 10 would) are computed once. A simulated
day draws 100 of the 43 queries at random (with replacement, the same draw for every
ranker) and labels n of them at random; per n ∈ {5, 10, 20} and over ``--days`` days it
prints the 95% CI coverage of the corrected (PPI++) and of the judge-only nDCG@10
against the ranker's true human nDCG@10 (the mean over the 43 queries), the mean CI
width of the corrected and of the humans-only estimate on the same n labels, and the
mean Kendall tau of the ranker order from the corrected and from the judge-only figures
against the true order.

``--judge lexical`` (default) grades with the lexical judge and ``--judge semantic`` with
the semantic one (the ``semantic`` extra), cut points fitted on the human grades as
``calibrate`` does; ``--judge simulated --kappa 0.6`` draws each judge
grade from the human grade through a lenient confusion matrix with that quadratic kappa
(an LLM judge at the published agreement level). The data is read from ``--data-dir``
(default ``$JUDGE_MONITOR_TREC_DL19``) and never copied. JSON on the last line.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np
from _common import add_data_dir_option, report, require_data_dir
from scipy import stats

from monitor.config import JudgeConfig
from monitor.judges import LexicalJudge
from monitor.labels.calibration import human_ideal, qrels_index
from monitor.metrics.agreement import human_agreement
from monitor.metrics.estimate import weighted_mean
from monitor.metrics.ppi import ppi_fit
from monitor.metrics.quality import ndcg_at_k, pooled_ndcg_at_k, query_figures
from monitor.metrics.thresholds import apply_thresholds, fit_thresholds
from monitor.pipeline.calibrate import read_runs
from monitor.sources.trec import read_qrels
from monitor.types import JudgeItem, Result

RANKERS = ("bm25", "bm25-rm3", "tasb", "openai-ada2", "splade-pp-ed", "repllama")
LABEL_COUNTS = (5, 10, 20)
K = 10
#: How the simulated judge errs when it errs: lenient, as LLM judges are (more 2s and 3s).
LENIENT = np.array([0.15, 0.25, 0.35, 0.25])


def _kappa(human: np.ndarray, judge: np.ndarray) -> float:
    return float(human_agreement(judge, human, n_boot=1).kappa.value or math.nan)


def _confused(
    human: np.ndarray, rate: float, shape: str, u: np.ndarray, noise: np.ndarray
) -> np.ndarray:
    """Judge grades erring on a share ``rate`` of the pairs, from fixed random draws."""
    if shape == "uniform":  # an error is a random grade from a lenient distribution
        return np.where(u < rate, noise, human)
    # an error moves the grade one step (up twice as often as down), a fifth of them two up
    step = np.where(noise < 0.2, 2, np.where(noise < 0.733, 1, -1))
    return np.where(u < rate, np.clip(human + step, 0, 3), human)


def simulated_grades(
    human: np.ndarray, judged: np.ndarray, kappa: float, shape: str, seed: int
) -> np.ndarray:
    """Judge grades made from the human ones through a lenient confusion matrix whose
    quadratic kappa against the human grades of the ``judged`` pairs is ``kappa``.

    ``adjacent``: an erring judge is off by one grade, more often too generous than too
    strict, as LLM judges mostly err against TREC assessors; ``uniform``: it answers a
    random grade drawn from a lenient distribution. The error rate is bisected.
    """
    rng = np.random.default_rng(seed)
    u = rng.random(human.size)
    if shape == "uniform":
        noise = rng.choice(4, size=human.size, p=LENIENT).astype(np.float64)
    else:
        noise = rng.random(human.size)
    low, high = 0.0, 1.0
    for _ in range(40):
        mid = (low + high) / 2
        got = _kappa(human[judged], _confused(human, mid, shape, u, noise)[judged])
        low, high = (mid, high) if got > kappa else (low, mid)
    return _confused(human, (low + high) / 2, shape, u, noise).astype(int)


def _scored_grades(
    judge: str, keys: list[tuple[str, str]], shown: dict, human: np.ndarray, groups: list[str]
) -> np.ndarray:
    """A local judge's grades of every shown pair, cut points fitted as calibrate does."""
    items = [
        JudgeItem(query=shown[key][0], result=Result(id=key[1], position=1, text=shown[key][1]))
        for key in keys
    ]
    config = JudgeConfig(name=judge, kind=judge, api_key_env=None)  # type: ignore[arg-type]
    if judge == "semantic":
        from monitor.judges import SemanticJudge

        scores = np.asarray(SemanticJudge(config).scores(items))
    else:
        scores = np.asarray(LexicalJudge(config).scores(items))
    rows = np.asarray([i for i, g in enumerate(groups) if g])
    fit = fit_thresholds(scores[rows], human[rows], groups=[groups[i] for i in rows])
    return apply_thresholds(scores, fit.thresholds).astype(int)


def per_query_values(
    data: Path,
    judge: str,
    kappa: float,
    seed: int,
    *,
    ideal_from: str,
    shape: str,
    judge_ideal: str = "pool",
) -> dict[str, Any]:
    """Per ranker: (judge nDCG@10, human nDCG@10) of each query, and the judge's kappa."""
    qrels = qrels_index(read_qrels(data / "qrels.dl19-passage.txt"))
    ideal = human_ideal(qrels)
    runs = read_runs([data / f"run.{r}.jsonl" for r in RANKERS])
    shown = {
        (rec.query_id, res.id): (rec.query, res.content)
        for records in runs.values()
        for rec in records
        for res in sorted(rec.results, key=lambda r: r.position)[:K]
    }
    keys = sorted(shown)
    human = np.array([qrels.get(key, 0) for key in keys])  # unjudged: 0, TREC's convention
    judged = np.array([key in qrels for key in keys])
    if judge == "simulated":
        grades = simulated_grades(human, judged, kappa, shape, seed)
    else:
        groups = [key[0] if key in qrels else "" for key in keys]
        grades = _scored_grades(judge, keys, shown, human, groups)
    judge_grade = dict(zip(keys, grades.tolist(), strict=True))
    pool: dict[str, list[float]] = {}
    for (qid, _), grade in judge_grade.items():
        pool.setdefault(qid, []).append(float(grade))
    values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    qids: list[str] | None = None
    for ranker, records in runs.items():
        by_qid = {rec.query_id: rec for rec in records if ideal.get(rec.query_id)}
        qids = sorted(by_qid) if qids is None else qids
        if sorted(by_qid) != qids:
            raise SystemExit(f"run.{ranker}.jsonl: not the same queries as the other runs")
        yhat, y = [], []
        for qid in qids:
            top = sorted(by_qid[qid].results, key=lambda r: r.position)[:K]
            judge_list = [float(judge_grade[(qid, r.id)]) for r in top]
            if judge_ideal == "pool":
                yhat.append(pooled_ndcg_at_k(judge_list, K, pool[qid]))
            else:
                yhat.append(query_figures(judge_list, ks=(K,))[f"ndcg@{K}"])
            human_list = [float(qrels.get((qid, r.id), 0)) for r in top]
            if ideal_from == "qrels":
                y.append(ndcg_at_k(human_list, K, ideal=ideal[qid]))
            else:
                y.append(query_figures(human_list, ks=(K,))[f"ndcg@{K}"])
        values[ranker] = (np.asarray(yhat), np.asarray(y))
    return {
        "values": values,
        "queries": len(qids or []),
        "kappa": _kappa(human[judged], grades[judged]),
        "corr": {r: float(np.corrcoef(v[0], v[1])[0, 1]) for r, v in values.items()},
    }


def _covers(low: float | None, high: float | None, truth: float) -> bool:
    return low is not None and high is not None and low <= truth <= high


def simulate(
    values: dict[str, tuple[np.ndarray, np.ndarray]],
    *,
    days: int,
    day_size: int,
    seed: int,
    interval: str,
) -> dict[str, Any]:
    """Coverage, widths and ranker-order tau over ``days`` simulated days, per n."""
    rng = np.random.default_rng(seed)
    rankers = list(values)
    truth = {r: float(values[r][1].mean()) for r in rankers}
    true_order = [truth[r] for r in rankers]
    n_queries = next(iter(values.values()))[0].size
    out: dict[str, Any] = {"truth": {r: round(truth[r], 4) for r in rankers}}
    draws = [rng.integers(0, n_queries, size=day_size) for _ in range(days)]
    judge_cover, judge_tau, judge_width = [], [], []
    judge_means: list[list[float]] = []
    for d, idx in enumerate(draws):
        means = []
        for r in rankers:
            est = weighted_mean(values[r][0][idx], seed=d)
            judge_cover.append(_covers(est.ci_low, est.ci_high, truth[r]))
            judge_width.append((est.ci_high or 0) - (est.ci_low or 0))
            means.append(est.value or math.nan)
        judge_means.append(means)
        judge_tau.append(stats.kendalltau(means, true_order).statistic)
    out["judge_only"] = {
        "coverage": float(np.mean(judge_cover)),
        "width": float(np.mean(judge_width)),
        "tau": float(np.nanmean(judge_tau)),
    }
    for n in LABEL_COUNTS:
        cover: list[bool] = []
        human_cover: list[bool] = []
        per_ranker: dict[str, list[bool]] = {r: [] for r in rankers}
        widths, human_widths, taus = [], [], []
        for idx in draws:
            picked = rng.permutation(day_size)
            lab, unl = idx[picked[:n]], idx[picked[n:]]
            means = []
            for r in rankers:
                yhat, y = values[r]
                fit = ppi_fit(y[lab], yhat[lab], yhat[unl], interval=interval)  # type: ignore[arg-type]
                est, classical = fit.estimate, fit.classical
                hit = _covers(est.ci_low, est.ci_high, truth[r])
                cover.append(hit)
                per_ranker[r].append(hit)
                human_cover.append(_covers(classical.ci_low, classical.ci_high, truth[r]))
                widths.append((est.ci_high or 0) - (est.ci_low or 0))
                human_widths.append((classical.ci_high or 0) - (classical.ci_low or 0))
                means.append(est.value or math.nan)
            taus.append(stats.kendalltau(means, true_order).statistic)
        width, human_width = float(np.mean(widths)), float(np.mean(human_widths))
        out[f"n{n}"] = {
            "coverage": float(np.mean(cover)),
            "coverage_min_ranker": float(min(np.mean(v) for v in per_ranker.values())),
            "humans_only_coverage": float(np.mean(human_cover)),
            "width": width,
            "humans_only_width": human_width,
            "width_saving": 1 - width / human_width,
            "tau": float(np.nanmean(taus)),
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_data_dir_option(parser)
    parser.add_argument("--judge", choices=("lexical", "semantic", "simulated"), default="lexical")
    parser.add_argument("--kappa", type=float, default=0.6, help="simulated judge's kappa")
    parser.add_argument("--days", type=int, default=1000)
    parser.add_argument("--day-size", type=int, default=100, help="sampled queries a day")
    parser.add_argument("--interval", choices=("t", "z"), default="t")
    parser.add_argument(
        "--confusion",
        choices=("adjacent", "uniform"),
        default="adjacent",
        help="how the simulated judge errs",
    )
    parser.add_argument(
        "--ideal",
        choices=("list", "qrels"),
        default="qrels",
        help="human nDCG's ideal: all of the query's qrels (the TREC figure, default) or the "
        "shown list's own grades (what labelling only the day's top 10 measures)",
    )
    parser.add_argument(
        "--judge-ideal",
        choices=("pool", "list"),
        default="pool",
        help="judge nDCG's ideal: pooled over every result the judge graded for the query "
        "(the dashboards' ndcg, default) or the list's own (ndcg_list)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    data = require_data_dir(args.data_dir)
    if not 0 < args.kappa < 1:
        raise SystemExit(f"--kappa {args.kappa}: must be in (0, 1)")
    if args.days < 1 or args.day_size <= max(LABEL_COUNTS):
        raise SystemExit(f"--days ≥ 1 and --day-size > {max(LABEL_COUNTS)} are needed")
    judged = per_query_values(
        data,
        args.judge,
        args.kappa,
        args.seed,
        ideal_from=args.ideal,
        shape=args.confusion,
        judge_ideal=args.judge_ideal,
    )
    result = simulate(
        judged["values"],
        days=args.days,
        day_size=args.day_size,
        seed=args.seed,
        interval=args.interval,
    )
    judge_name = (
        f"simulated κ={args.kappa:g} ({args.confusion})"
        if args.judge == "simulated"
        else args.judge
    )
    print(
        f"judge {judge_name} (pair kappa {judged['kappa']:.3f}), {judged['queries']} queries, "
        f"{args.days} days of {args.day_size}, {args.interval} intervals, judge nDCG ideal "
        f"from the {args.judge_ideal}, human nDCG ideal from the {args.ideal}"
    )
    corr = ", ".join(f"{r} {c:.2f}" for r, c in judged["corr"].items())
    print(f"per-query judge/human nDCG@10 correlation: {corr}")
    j = result["judge_only"]
    print(
        f"judge-only: coverage {j['coverage']:.3f}, width {j['width']:.3f}, "
        f"ranker tau {j['tau']:.3f}"
    )
    print(
        f"{'n':>4}{'coverage':>10}{'min ranker':>12}{'humans cov':>12}{'width':>8}"
        f"{'humans':>8}{'saved':>8}{'tau':>7}"
    )
    goals = {"coverage_093": True, "width_le_humans": True}
    for n in LABEL_COUNTS:
        row = result[f"n{n}"]
        print(
            f"{n:>4}{row['coverage']:>10.3f}{row['coverage_min_ranker']:>12.3f}"
            f"{row['humans_only_coverage']:>12.3f}"
            f"{row['width']:>8.3f}{row['humans_only_width']:>8.3f}"
            f"{row['width_saving']:>8.1%}{row['tau']:>7.3f}"
        )
        goals["coverage_093"] &= row["coverage"] >= 0.93
        goals["width_le_humans"] &= row["width"] <= row["humans_only_width"]
    figures: dict[str, Any] = {
        "judge": args.judge,
        "kappa_target": args.kappa if args.judge == "simulated" else None,
        "confusion": args.confusion if args.judge == "simulated" else None,
        "ideal": args.ideal,
        "judge_ideal": args.judge_ideal,
        "query_corr": {r: round(c, 3) for r, c in judged["corr"].items()},
        "pair_kappa": round(judged["kappa"], 4),
        "days": args.days,
        "day_size": args.day_size,
        "interval": args.interval,
        "queries": judged["queries"],
        "truth": result["truth"],
        "judge_only_coverage": round(j["coverage"], 4),
        "judge_only_width": round(j["width"], 4),
        "judge_only_tau": round(j["tau"], 4),
        "goal_coverage_093": goals["coverage_093"],
        "goal_width_le_humans": goals["width_le_humans"],
    }
    for n in LABEL_COUNTS:
        for key, value in result[f"n{n}"].items():
            figures[f"n{n}_{key}"] = round(value, 4)
    if args.judge == "simulated":
        figures["goal_width_30pct_at_n10"] = result["n10"]["width_saving"] >= 0.30
    report(f"label_correction_{args.judge}", figures)


if __name__ == "__main__":
    main()
