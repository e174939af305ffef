"""Calibration on real human labels: TREC DL19 (read from JUDGE_MONITOR_TREC_DL19, never copied)."""

from __future__ import annotations

import numpy as np
import pytest
from real_data import DL19 as DATA
from scipy import stats
from sklearn.metrics import cohen_kappa_score, precision_recall_fscore_support

from monitor.config import JudgeConfig
from monitor.judges import LexicalJudge, SemanticJudge
from monitor.labels.calibration import (
    LabeledPair,
    agreement_rows,
    build_report,
    distinct_pairs,
    human_ideal,
    labeled_pairs,
    qrels_index,
    ranker_ndcg,
)
from monitor.metrics.thresholds import (
    ThresholdFit,
    apply_thresholds,
    fit_thresholds,
    quantile_thresholds,
)
from monitor.pipeline.calibrate import read_runs
from monitor.sources.trec import read_qrels
from monitor.types import JudgeItem, Result, SearchRecord

pytestmark = pytest.mark.dl19
RANKERS = ("bm25", "bm25-rm3", "tasb", "openai-ada2", "splade-pp-ed", "repllama")


@pytest.fixture(scope="module")
def qrels() -> dict[tuple[str, str], int]:
    return qrels_index(read_qrels(DATA / "qrels.dl19-passage.txt"))


@pytest.fixture(scope="module")
def runs() -> dict[str, list[SearchRecord]]:
    return read_runs([DATA / f"run.{r}.jsonl" for r in RANKERS])


@pytest.fixture(scope="module")
def pairs(runs: dict[str, list[SearchRecord]], qrels: dict) -> list[LabeledPair]:
    return distinct_pairs(labeled_pairs(runs, qrels, k=10)[0])


def _items(pairs: list[LabeledPair]) -> list[JudgeItem]:
    return [
        JudgeItem(query=p.query, result=Result(id=p.docid, position=p.rank, text=p.text))
        for p in pairs
    ]


@pytest.fixture(scope="module")
def scores(pairs: list[LabeledPair]) -> dict[str, np.ndarray]:
    """Each local judge's score of every distinct pair (each text encoded once)."""
    items = _items(pairs)
    lexical = LexicalJudge(JudgeConfig(name="lexical", kind="lexical", api_key_env=None))
    semantic = SemanticJudge(JudgeConfig(name="semantic", kind="semantic", api_key_env=None))
    return {
        "lexical": np.asarray(lexical.scores(items)),
        "semantic": np.asarray(semantic.scores(items)),
    }


@pytest.fixture(scope="module")
def fits(pairs: list[LabeledPair], scores: dict[str, np.ndarray]) -> dict[str, ThresholdFit]:
    human = [p.human for p in pairs]
    groups = [p.qid for p in pairs]
    return {name: fit_thresholds(s, human, groups=groups) for name, s in scores.items()}


def test_unjudged_results_are_reported_not_counted(
    runs: dict[str, list[SearchRecord]], qrels: dict
) -> None:
    """bm25's top 10 is fully judged; the neural runs' unjudged results are counted."""
    all_pairs, unjudged = labeled_pairs(runs, qrels, k=10)
    assert unjudged.unjudged["bm25"] == 0
    assert 0 < unjudged.share("tasb") <= 0.1
    assert len(all_pairs) + unjudged.total_unjudged == sum(unjudged.shown.values())
    assert all((p.qid, p.docid) in qrels for p in all_pairs)


def test_human_ndcg_matches_the_reference_figures(
    runs: dict[str, list[SearchRecord]], qrels: dict
) -> None:
    """Human nDCG@10 of bm25 over the 43 queries is the published 0.436 (docs/calibration.md)."""
    ndcg = ranker_ndcg(runs, lambda q, d: qrels.get((q, d)), 10, ideal=human_ideal(qrels))
    assert len(runs["bm25"]) == 43
    assert ndcg["bm25"] == pytest.approx(0.436, abs=0.001)
    assert ndcg["splade-pp-ed"] == pytest.approx(0.673, abs=0.001)


def test_agreement_figures_equal_the_libraries(
    pairs: list[LabeledPair], scores: dict[str, np.ndarray]
) -> None:
    """On a slice of DL19, calibrate's figures equal scikit-learn and scipy on the same arrays."""
    first = sorted({p.qid for p in pairs})[:10]
    keep = [i for i, p in enumerate(pairs) if p.qid in first]
    human = np.asarray([pairs[i].human for i in keep])
    judge = apply_thresholds(scores["semantic"][keep], quantile_thresholds(scores["semantic"]))
    row = agreement_rows({"semantic": judge.tolist()}, human.tolist(), n_boot=200)["semantic"]
    p, r, f, _ = precision_recall_fscore_support(human >= 2, judge >= 2, average="binary")
    assert row.precision.value == pytest.approx(p, abs=1e-9)
    assert row.recall.value == pytest.approx(r, abs=1e-9)
    assert row.f1.value == pytest.approx(f, abs=1e-9)
    kappa = cohen_kappa_score(human, judge, labels=[0, 1, 2, 3], weights="quadratic")
    assert row.kappa.value == pytest.approx(kappa, abs=1e-9)
    assert row.tau.value == pytest.approx(stats.kendalltau(judge, human).statistic, abs=1e-9)
    assert row.rho.value == pytest.approx(stats.spearmanr(judge, human).statistic, abs=1e-9)
    assert row.n == len(keep)


def test_semantic_judge_beats_lexical_on_pairs_and_on_ranker_order(
    runs: dict[str, list[SearchRecord]],
    qrels: dict,
    pairs: list[LabeledPair],
    scores: dict[str, np.ndarray],
    fits: dict[str, ThresholdFit],
) -> None:
    """With cut points fitted on DL19, semantic has the higher kappa and ranker-order tau."""
    grades = {
        name: apply_thresholds(s, fits[name].thresholds).astype(float).tolist()
        for name, s in scores.items()
    }
    report = build_report(runs, qrels, pairs, grades, k=10, ensemble=None, n_boot=50)
    assert fits["semantic"].cv_kappa > fits["lexical"].cv_kappa
    kappa = {name: report.agreement[name].kappa.value for name in grades}
    assert kappa["semantic"] > kappa["lexical"]  # type: ignore[operator]
    assert report.ranker_tau["semantic"] > report.ranker_tau["lexical"]
    # the lexical judge puts both lexical rankers above every neural one
    lexical = report.judge_ndcg["lexical"]
    assert min(lexical["bm25"], lexical["bm25-rm3"]) > max(
        lexical[r] for r in RANKERS if "bm25" not in r
    )


def test_fitted_thresholds_are_not_worse_than_quantiles(
    pairs: list[LabeledPair], scores: dict[str, np.ndarray], fits: dict[str, ThresholdFit]
) -> None:
    """The semantic judge's cross-validated kappa is at least the 50/70/90% quantiles' kappa."""
    human = [p.human for p in pairs]
    s = scores["semantic"]
    baseline = cohen_kappa_score(
        human, apply_thresholds(s, quantile_thresholds(s)), weights="quadratic"
    )
    assert fits["semantic"].cv_kappa >= baseline
    assert fits["semantic"].cv_kappa <= fits["semantic"].fitted_kappa
