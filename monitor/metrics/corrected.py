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

Both nDCGs are corrected. The headline pooled ``ndcg`` of a labelled query has a human
side with a human ideal: every grade people gave a result production showed for the
query up to the sample's day (the median of its annotators), as TREC's qrels pool what
its assessors judged; the judge side is the pooled figure the dashboards show
(``GradedQuery.pool``). A query labelled
once has a human pool that is its own list, so its human ``ndcg`` is its ``ndcg_list``;
the pool, and the figure's reach beyond the list, grows as the query's lists are
labelled again. ``ndcg_list`` (both ideals from the labelled list) is corrected too.
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
    "human_pool",
]

#: The ``judge`` of a corrected row, and of its humans-only companion.
CORRECTED = "corrected"
HUMANS = "humans"
#: The per-query figures corrected (means over queries; rates of 0/1 flags included):
#: both nDCGs, the pooled headline one and the list-ideal one, see above.
CORRECTED_FIGURES = ("ndcg", "ndcg_list", "precision", "bad_top1_rate")


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


def human_pool(grades: Mapping[str, Sequence[int]]) -> tuple[float, ...]:
    """The human ideal's grades of a query: one per result people labelled for it (the
    median of its annotators' grades), in no particular order."""
    return tuple(float(statistics.median(given)) for given in grades.values() if given)


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
    pools: Mapping[int, Sequence[float]] | None = None,
) -> list[MetricRow]:
    """Corrected and humans-only rows for every per-query figure, overall and per segment.

    ``labelled`` maps the sample id of each fully labelled picked sample to its human
    grades by position; ``strata`` maps every sample id to its design stratum (the
    stratum the annotation pick was drawn in, e.g. ``"<day>|<ranker>|<stratum>"``);
    ``pools`` maps a labelled sample id to its query's human pool (``human_pool``), the
    ideal of its human pooled ``ndcg`` (none: the list's own). The judge side of the
    pooled ``ndcg`` is each query's ``pool``, as in ``daily.compute_quality``.
    """
    human_pools = pools or {}
    judge_figures = [query_figures(q.grades, ks, relevant, pool=q.pool) for q in queries]
    human_figures = [
        query_figures(labelled[q.sample_id], ks, relevant, pool=human_pools.get(q.sample_id))
        if q.sample_id in labelled
        else None
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
