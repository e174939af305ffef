"""Judges against human labels: the pure half of ``judge-monitor calibrate``.

Two questions decide whether a judge can be trusted. Does it grade (query, result) pairs
as people do (``agreement_rows``: precision/recall/F1 of "relevant", quadratic kappa,
rank correlations)? And does it rank *rankers* as people do (``ranker_ndcg`` per ranker
with human and with judge grades, then ``ranker_order_tau``)? A judge can pass the first
and fail the second: the lexical judge agrees fairly with people on single pairs yet
prefers lexical rankers (BM25) to better neural ones, because it rewards the term
overlap those rankers optimise.

Unjudged results (no human label) are never silently counted as irrelevant when
measuring judges: ``labeled_pairs`` keeps only judged pairs and reports the unjudged
count and share per ranker. Human nDCG@k follows the TREC convention (unjudged = 0) so
its figures match the published ones.

No I/O here: the CLI reads files, calls judges and stores results.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from monitor.errors import InputError
from monitor.metrics.agreement import HumanAgreement, human_agreement
from monitor.metrics.quality import ndcg_at_k
from monitor.types import SearchRecord

__all__ = [
    "ENSEMBLE",
    "CalibrationReport",
    "LabeledPair",
    "UnjudgedReport",
    "agreement_rows",
    "build_report",
    "distinct_pairs",
    "ensemble_grades",
    "ensemble_weight",
    "human_ideal",
    "labeled_pairs",
    "qrels_index",
    "ranker_ndcg",
    "ranker_order_tau",
    "score_correlation",
]

#: The name under which the ensemble's row appears next to the judges'.
ENSEMBLE = "ensemble"

Qrels = Mapping[tuple[str, str], int]


@dataclass(frozen=True, slots=True)
class LabeledPair:
    """One (query, passage) a ranker returned in its top k and a person graded."""

    qid: str
    query: str
    docid: str
    text: str
    human: int
    ranker: str
    rank: int


@dataclass(frozen=True, slots=True)
class UnjudgedReport:
    """Per ranker: results in the top k with no human label (left out of judge agreement)."""

    shown: dict[str, int]
    unjudged: dict[str, int]

    def share(self, ranker: str) -> float:
        shown = self.shown.get(ranker, 0)
        return self.unjudged.get(ranker, 0) / shown if shown else math.nan

    @property
    def total_unjudged(self) -> int:
        return sum(self.unjudged.values())


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """Everything ``calibrate`` measured, per judge (and the ensemble) and per ranker.

    ``judge_ndcg[judge][ranker]`` uses the judge's grades on the ranker's top k with the
    same ideal as the human figure (all human labels of the query), so the two columns
    differ only by the grades of the shown results.
    """

    agreement: dict[str, HumanAgreement]
    human_ndcg: dict[str, float]
    judge_ndcg: dict[str, dict[str, float]]
    ranker_tau: dict[str, float]
    unjudged: UnjudgedReport
    n_pairs: int
    thresholds: dict[str, tuple[float, ...]] = field(default_factory=dict)
    cv_kappa: dict[str, float] = field(default_factory=dict)


def qrels_index(qrels: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    """(qid, docid) -> grade; a pair labelled twice with different grades is an error."""
    out: dict[tuple[str, str], int] = {}
    for qid, docid, grade in qrels:
        if grade not in (0, 1, 2, 3):
            raise InputError(f"qrels: grade of ({qid}, {docid}) must be 0–3, got {grade}")
        old = out.setdefault((qid, docid), grade)
        if old != grade:
            raise InputError(f"qrels: ({qid}, {docid}) is graded both {old} and {grade}")
    return out


def labeled_pairs(
    runs: Mapping[str, Sequence[SearchRecord]], qrels: Qrels, k: int = 10
) -> tuple[list[LabeledPair], UnjudgedReport]:
    """The human-labelled pairs among each ranker's top ``k``, and what had no label."""
    if k < 1:
        raise InputError(f"k: must be a positive cut-off, got {k}")
    pairs: list[LabeledPair] = []
    shown: dict[str, int] = {}
    unjudged: dict[str, int] = {}
    for ranker, records in runs.items():
        shown[ranker] = unjudged[ranker] = 0
        for record in records:
            for result in sorted(record.results, key=lambda r: r.position)[:k]:
                shown[ranker] += 1
                grade = qrels.get((record.query_id, result.id))
                if grade is None:
                    unjudged[ranker] += 1
                    continue
                pairs.append(
                    LabeledPair(
                        qid=record.query_id,
                        query=record.query,
                        docid=result.id,
                        text=result.content,
                        human=grade,
                        ranker=ranker,
                        rank=result.position,
                    )
                )
    return pairs, UnjudgedReport(shown=shown, unjudged=unjudged)


def distinct_pairs(pairs: Sequence[LabeledPair]) -> list[LabeledPair]:
    """One pair per (qid, docid), first seen first.

    A passage that six rankers returned is one human judgment; counting it six times
    would weight agreement towards what every ranker finds (the easy cases).
    """
    seen: dict[tuple[str, str], LabeledPair] = {}
    for pair in pairs:
        seen.setdefault((pair.qid, pair.docid), pair)
    return list(seen.values())


def ensemble_grades(
    grades_by_judge: Mapping[str, Sequence[float | None]], method: str = "median"
) -> list[float | None]:
    """Per pair, the median (or mean) of the judges' valid grades; None when none is valid."""
    if method not in ("median", "mean"):
        raise InputError(f"ensemble method: 'median' or 'mean', got {method!r}")
    columns = list(zip(*grades_by_judge.values(), strict=True))
    combine = statistics.median if method == "median" else statistics.fmean
    out: list[float | None] = []
    for column in columns:
        valid = [g for g in column if g is not None]
        out.append(float(combine(valid)) if valid else None)
    return out


def agreement_rows(
    grades_by_judge: Mapping[str, Sequence[float | None]],
    human: Sequence[int],
    *,
    ensemble: str | None = "median",
    relevant: int = 2,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, HumanAgreement]:
    """``human_agreement`` of each judge, plus the ensemble's row when ``ensemble`` is set.

    A pair a judge could not grade (None) is left out of that judge's row. The ensemble's
    grade can be fractional (median of two judges: 1.5); it is rounded half up (towards
    "relevant") to put it on the 0–3 scale the agreement statistics need.
    """
    rows: dict[str, HumanAgreement] = {}
    columns: dict[str, Sequence[float | None]] = dict(grades_by_judge)
    if ensemble is not None and len(grades_by_judge) > 1:
        columns[ENSEMBLE] = ensemble_grades(grades_by_judge, ensemble)
    for name, grades in columns.items():
        if len(grades) != len(human):
            raise InputError(f"{name}: {len(grades)} grades for {len(human)} human labels")
        pairs = zip(grades, human, strict=True)
        keep = [(math.floor(g + 0.5), h) for g, h in pairs if g is not None]
        rows[name] = human_agreement(
            [g for g, _ in keep],
            [h for _, h in keep],
            relevant=relevant,
            n_boot=n_boot,
            seed=seed,
        )
    return rows


def human_ideal(qrels: Qrels) -> dict[str, list[float]]:
    """Per query, every human grade known for it: the ideal ranking of nDCG."""
    ideal: dict[str, list[float]] = {}
    for (qid, _), grade in qrels.items():
        ideal.setdefault(qid, []).append(float(grade))
    return ideal


def ranker_ndcg(
    runs: Mapping[str, Sequence[SearchRecord]],
    grade_of: Callable[[str, str], float | None],
    k: int = 10,
    ideal: Mapping[str, Sequence[float]] | None = None,
    *,
    unjudged_as_zero: bool = True,
) -> dict[str, float]:
    """Mean nDCG@k of each ranker, with grades from ``grade_of(qid, docid)``.

    With ``ideal`` (e.g. ``human_ideal(qrels)``) the ideal DCG comes from there; without,
    from the list's own grades. ``unjudged_as_zero`` counts a result ``grade_of`` cannot
    grade as irrelevant (TREC's convention for human nDCG); otherwise it is left unjudged.
    Queries whose nDCG is undefined (no positive ideal gain) are left out of the mean.
    """
    out: dict[str, float] = {}
    for ranker, records in runs.items():
        values = []
        for record in records:
            top = sorted(record.results, key=lambda r: r.position)[:k]
            grades: list[float | None] = []
            for result in top:
                grade = grade_of(record.query_id, result.id)
                grades.append(0.0 if grade is None and unjudged_as_zero else grade)
            query_ideal = None if ideal is None else ideal.get(record.query_id)
            if ideal is not None and not query_ideal:
                continue  # a query no person judged says nothing about the ranker
            value = ndcg_at_k(grades, k, ideal=query_ideal)
            if not math.isnan(value):
                values.append(value)
        out[ranker] = float(np.mean(values)) if values else math.nan
    return out


def ranker_order_tau(judge_ndcg: Mapping[str, float], human_ndcg: Mapping[str, float]) -> float:
    """Kendall tau-b between the judge's and the humans' orderings of the rankers.

    1 means the judge ranks the rankers exactly as people do; NaN with fewer than two
    rankers measured by both.
    """
    rankers = [r for r in human_ndcg if r in judge_ndcg]
    pairs = [
        (judge_ndcg[r], human_ndcg[r])
        for r in rankers
        if not (math.isnan(judge_ndcg[r]) or math.isnan(human_ndcg[r]))
    ]
    if len(pairs) < 2:
        return math.nan
    judge, human = zip(*pairs, strict=True)
    if len(set(judge)) < 2 or len(set(human)) < 2:
        return math.nan
    return float(stats.kendalltau(judge, human).statistic)


def ensemble_weight(agreement: HumanAgreement) -> float:
    """The judge's weight in a weighted ensemble: its quadratic kappa, floored at 0.

    Kappa is agreement beyond chance on the full 0–3 scale, so a judge no better than
    chance (or worse) gets no say, and an unmeasured one (kappa undefined) none either.
    """
    kappa = agreement.kappa.value
    return max(float(kappa), 0.0) if kappa is not None else 0.0


def score_correlation(
    records: Sequence[SearchRecord], grade_of: Callable[[str, str], float | None]
) -> float:
    """Mean over queries of Spearman's rho between a ranker's own score and a grade.

    Within a query only: BM25 scores of different queries are not on one scale. A lexical
    judge that follows BM25's score more closely than people do shares BM25's bias, and
    will favour BM25 when comparing rankers. NaN when no query has two distinct values.
    """
    values = []
    for record in records:
        scores, grades = [], []
        for result in record.results:
            grade = grade_of(record.query_id, result.id)
            score = result.metadata.get("score")
            if grade is None or not isinstance(score, int | float):
                continue
            scores.append(float(score))
            grades.append(float(grade))
        if len(set(scores)) < 2 or len(set(grades)) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rho = float(stats.spearmanr(scores, grades).statistic)
        if not math.isnan(rho):
            values.append(rho)
    return float(np.mean(values)) if values else math.nan


def _lookup(
    pairs: Sequence[LabeledPair], grades: Sequence[float | None]
) -> Callable[[str, str], float | None]:
    table = {(p.qid, p.docid): g for p, g in zip(pairs, grades, strict=True)}
    return lambda qid, docid: table.get((qid, docid))


def build_report(
    runs: Mapping[str, Sequence[SearchRecord]],
    qrels: Qrels,
    pairs: Sequence[LabeledPair],
    grades_by_judge: Mapping[str, Sequence[float | None]],
    *,
    k: int = 10,
    unjudged: UnjudgedReport | None = None,
    ensemble: str | None = "median",
    n_boot: int = 1000,
    seed: int = 0,
) -> CalibrationReport:
    """Every figure of a calibration, from judge grades aligned with ``pairs``.

    ``pairs`` are distinct (qid, docid) pairs (``distinct_pairs``). Human nDCG@k: human
    grades, unjudged results = 0, ideal from every human label of the query (TREC's
    convention: bm25 on DL19 gives 0.436). A judge's nDCG@k: its grades, results without
    a human label = 0 (it was not asked about them), ideal from its own grades of all the
    query's pairs pooled over the runs — the judge's analogue of "all judgments of the
    query", which keeps a generous judge from saturating at 1.
    """
    human = [p.human for p in pairs]
    agreement = agreement_rows(grades_by_judge, human, ensemble=ensemble, n_boot=n_boot, seed=seed)
    columns: dict[str, Sequence[float | None]] = dict(grades_by_judge)
    if ENSEMBLE in agreement:
        columns[ENSEMBLE] = ensemble_grades(grades_by_judge, ensemble or "median")
    human_ndcg = ranker_ndcg(runs, lambda q, d: qrels.get((q, d)), k, ideal=human_ideal(qrels))
    judge_ndcg: dict[str, dict[str, float]] = {}
    ranker_tau: dict[str, float] = {}
    for name, grades in columns.items():
        ideal: dict[str, list[float]] = {}
        for pair, grade in zip(pairs, grades, strict=True):
            if grade is not None:
                ideal.setdefault(pair.qid, []).append(float(grade))
        judge_ndcg[name] = ranker_ndcg(runs, _lookup(pairs, grades), k, ideal=ideal)
        ranker_tau[name] = ranker_order_tau(judge_ndcg[name], human_ndcg)
    return CalibrationReport(
        agreement=agreement,
        human_ndcg=human_ndcg,
        judge_ndcg=judge_ndcg,
        ranker_tau=ranker_tau,
        unjudged=unjudged or UnjudgedReport(shown={}, unjudged={}),
        n_pairs=len(pairs),
    )
