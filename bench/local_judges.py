"""Local judges on TREC DL19: semantic encoding speed and agreement with human grades.

Prints texts encoded per second by the semantic judge (median of 5 runs on 256 passages,
a fresh embedding memo each time) and, for the lexical and semantic judges, quadratic
kappa, F1 of "relevant" and ranker-order tau with 50/70/90% quantile cut points and
with cross-validated fitted ones, on the judged top-10 pairs of the six DL19 runs.
The data is read from ``--data-dir`` (default ``$JUDGE_MONITOR_TREC_DL19``; ``make data``
downloads it) and never copied.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from _common import add_data_dir_option, report, require_data_dir, timed

from monitor.config import JudgeConfig
from monitor.judges import LexicalJudge, SemanticJudge
from monitor.labels.calibration import build_report, distinct_pairs, labeled_pairs, qrels_index
from monitor.metrics.thresholds import apply_thresholds, fit_thresholds, quantile_thresholds
from monitor.pipeline.calibrate import read_runs
from monitor.sources.trec import read_qrels
from monitor.types import JudgeItem, Result

RANKERS = ("bm25", "bm25-rm3", "tasb", "openai-ada2", "splade-pp-ed", "repllama")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_data_dir_option(parser)
    data: Path = require_data_dir(parser.parse_args(argv).data_dir)
    qrels = qrels_index(read_qrels(data / "qrels.dl19-passage.txt"))
    runs = read_runs([data / f"run.{r}.jsonl" for r in RANKERS])
    pairs = distinct_pairs(labeled_pairs(runs, qrels, k=10)[0])
    items = [
        JudgeItem(query=p.query, result=Result(id=p.docid, position=p.rank, text=p.text))
        for p in pairs
    ]
    semantic = SemanticJudge(JudgeConfig(name="semantic", kind="semantic", api_key_env=None))
    texts = list(dict.fromkeys(p.text for p in pairs))[:256]
    semantic.embed(texts[:8])  # load the model outside the timing
    config = semantic.config
    speed = timed(lambda: SemanticJudge(config).embed(texts), runs=5)  # fresh memo each run
    figures: dict[str, Any] = {
        "pairs": len(pairs),
        "texts_per_s": round(len(texts) / speed["median_s"], 1),
    }
    lexical = LexicalJudge(JudgeConfig(name="lexical", kind="lexical", api_key_env=None))
    scores = {"lexical": lexical.scores(items), "semantic": semantic.scores(items)}
    human = [p.human for p in pairs]
    grades: dict[str, list[float | None]] = {}
    cv: dict[str, float] = {}
    for name, s in scores.items():
        fit = fit_thresholds(s, human, groups=[p.qid for p in pairs])
        cv[f"{name}+fitted"] = fit.cv_kappa
        grades[f"{name}+quantile"] = apply_thresholds(s, quantile_thresholds(s)).tolist()
        grades[f"{name}+fitted"] = apply_thresholds(s, fit.thresholds).tolist()
    result = build_report(runs, qrels, pairs, grades, k=10, ensemble=None, n_boot=200)
    print(f"{'judge':<20}{'kappa':>8}{'cv kappa':>10}{'F1':>8}{'ranker tau':>12}")
    for name, row in result.agreement.items():
        kappa, f1 = row.kappa.value or float("nan"), row.f1.value or float("nan")
        tau = result.ranker_tau[name]
        held_out = cv.get(name, kappa)  # quantile cut points use no labels: no fit to hold out
        print(f"{name:<20}{kappa:>8.3f}{held_out:>10.3f}{f1:>8.3f}{tau:>12.3f}")
        key = name.replace("+", "_")
        figures[f"{key}_kappa"] = round(kappa, 4)
        figures[f"{key}_cv_kappa"] = round(held_out, 4)
        figures[f"{key}_f1"] = round(f1, 4)
        figures[f"{key}_ranker_tau"] = round(tau, 4)
    report("local_judges", figures)


if __name__ == "__main__":
    main()
