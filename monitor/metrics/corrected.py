"""The day's quality figures corrected by the annotation stream's labels (PPI++ rows).

Pure: the metrics step reads the day's graded queries (``GradedQuery``), the design
stratum of every sample (``store.label_reads.day_samples``) and the human grades of the
samples picked for annotation (``store.label_reads.selected_samples``), and gets back
``MetricRow``s beside the judge-only ones: judge ``"corrected"`` (PPI++ with the sampling
weights carried through) and judge ``"humans"`` (the humans-only mean on the same labels),
for every per-query figure and segment, ``NULL`` with a reason where labels are too few.

A picked sample counts as labelled when every one of its top-k results has a human grade
(several annotators: their median); a partly labelled one is left out, as if not returned
(the labels that came back are then assumed missing at random within their stratum).
For a window of several days (the last 7, say) pass the window's queries and strata keyed
by day: the function does not care which days the queries are from.

The nDCG corrected is ``ndcg_list`` (the ideal from the judged list itself), not the
headline pooled ``ndcg`` (ideal from every result ever judged for the query): people
grade only the labelled list's results, so a pooled human ideal does not exist, and the
list's own ideal is the one figure both sides (judge and humans) share. The rows are
stored under ``ndcg_list`` so that nothing sets them beside the pooled figure.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monitor.metrics.daily import ALL, GradedQuery, MetricRow
from monitor.metrics.ppi import MIN_LABELS, ppi_fit, two_phase_weights
from monitor.metrics.quality import query_figures

__all__ = [
    "CORRECTED",
    "CORRECTED_FIGURES",
    "HUMANS",
    "compute_corrected",
    "human_grades",
]

#: The ``judge`` of a corrected row, and of its humans-only companion.
CORRECTED = "corrected"
HUMANS = "humans"
#: The per-query figures corrected (means over queries; rates of 0/1 flags included).
#: nDCG is the list-ideal one (``ndcg_list``): humans grade only the list, see above.
CORRECTED_FIGURES = ("ndcg_list", "precision", "bad_top1_rate")


def human_grades(
    results: Sequence[Mapping[str, Any]], grades: Mapping[str, Sequence[int]], *, top_k: int
) -> tuple[float, ...] | None:
    """The human grade of each of a sample's top ``top_k`` results in position order (the
    median of its annotators' grades), or None when one of them has no grade."""
    shown = sorted(results, key=lambda r: int(r.get("position") or 0))[:top_k]
    out = []
    for result in shown:
        given = grades.get(str(result.get("id")))
        if not given:
            return None
        out.append(float(statistics.median(given)))
    return tuple(out)


def _split_key(key: str) -> tuple[str, int]:
    """ "ndcg_list@10" -> ("ndcg_list", 10); "bad_top1_rate" -> ("bad_top1_rate", 0)."""
    name, _, cut = key.partition("@")
    return name, int(cut) if cut else 0


def compute_corrected(
    queries: Sequence[GradedQuery],
    labelled: Mapping[int, Sequence[float | None]],
    strata: Mapping[int, str],
    *,
    ks: Sequence[int] = (3, 10),
    relevant: float = 2,
    min_labels: int = MIN_LABELS,
) -> list[MetricRow]:
    """Corrected and humans-only rows for every per-query figure, overall and per segment.

    ``labelled`` maps the sample id of each fully labelled picked sample to its human
    grades by position; ``strata`` maps every sample id to its design stratum (the
    stratum the annotation pick was drawn in, e.g. ``"<day>|<ranker>|<stratum>"``).
    """
    judge_figures = [query_figures(q.grades, ks, relevant) for q in queries]
    human_figures = [
        query_figures(labelled[q.sample_id], ks, relevant) if q.sample_id in labelled else None
        for q in queries
    ]
    mask = np.array([f is not None for f in human_figures], dtype=bool)
    weights = np.array([q.weight for q in queries], dtype=np.float64)
    keys = [strata.get(q.sample_id, "") for q in queries]
    if queries and mask.any():
        w_lab, w_unl = two_phase_weights(weights, mask, keys)
    else:
        w_lab, w_unl = np.zeros_like(weights), weights.copy()
    groups: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(queries):
        groups[ALL].append(i)
        for name, value in q.segment.items():
            groups[f"{name}={value}"].append(i)
    names = [
        key for key in query_figures((), ks, relevant) if _split_key(key)[0] in CORRECTED_FIGURES
    ]
    values = {
        key: (
            np.array([f[key] if f is not None else np.nan for f in human_figures]),
            np.array([f[key] for f in judge_figures]),
        )
        for key in names
    }
    rows: list[MetricRow] = []
    for segment in [ALL, *sorted(g for g in groups if g != ALL)]:
        members = np.asarray(groups.get(segment, []), dtype=np.int64)
        lab = members[mask[members]] if members.size else members
        unl = members[w_unl[members] > 0] if members.size else members
        for key in names:
            y, yhat = values[key]
            fit = ppi_fit(
                y[lab],
                yhat[lab],
                yhat[unl],
                weights=w_lab[lab],
                weights_unlabelled=w_unl[unl],
                min_labels=min_labels,
            )
            metric, k = _split_key(key)
            rows.append(MetricRow.of(metric, fit.estimate, segment=segment, judge=CORRECTED, k=k))
            rows.append(MetricRow.of(metric, fit.classical, segment=segment, judge=HUMANS, k=k))
    return rows
