"""A day's figures as the exporter serves them: one list of samples, for Prometheus and Python.

``figure_samples`` turns stored figures and their baselines into the samples the
exporter serves (names from the metric catalogue, labels ``segment``, ``judge``, ``k``
and one label per segment field). The exporter wraps them into Prometheus families;
``monitor.export.alerts`` and the baseline's control chart evaluate the alert rules on
exactly the same samples. So what Python says would fire is what Prometheus fires on.

Segment labels: a figure of segment ``locale=fr`` carries ``segment="locale=fr"`` (kept
for the dashboards and the alert grouping) and ``locale="fr"``, so ``sum by (locale)``
and ``{locale="fr"}`` work; segment ``all`` carries no field label. A field whose name is
not a valid label name, or that clashes with a label the exporter sets, is prefixed
``segment_`` (``segment_k`` for a field named ``k``).
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from monitor.export.promql import NAME, InstantSample
from monitor.metrics.catalog import METRICS, PREFIX, spec_of

__all__ = [
    "DAILY_LABELS",
    "FigureLike",
    "MeanLike",
    "daily_families",
    "figure_labels",
    "figure_samples",
    "segment_labels",
]

DAILY_LABELS = ("segment", "judge", "k")
_RESERVED = {
    *DAILY_LABELS,
    "metric",
    "flow",
    "kind",
    "status",
    "job",
    "instance",
    "alertname",
    "severity",
    "concern",
    "source",
    "le",
    "quantile",
}
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class FigureLike(Protocol):
    @property
    def metric(self) -> str: ...
    @property
    def segment(self) -> str: ...
    @property
    def judge(self) -> str: ...
    @property
    def k(self) -> int: ...
    @property
    def value(self) -> float | None: ...
    @property
    def ci_low(self) -> float | None: ...
    @property
    def ci_high(self) -> float | None: ...
    @property
    def n(self) -> int: ...


class MeanLike(Protocol):
    @property
    def metric(self) -> str: ...
    @property
    def segment(self) -> str: ...
    @property
    def judge(self) -> str: ...
    @property
    def k(self) -> int: ...
    @property
    def value(self) -> float: ...


def _label_name(field: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", field)
    if not _LABEL_NAME.match(name) or name in _RESERVED or name.startswith("__"):
        name = "segment_" + name
    return name


def segment_labels(segment: str) -> dict[str, str]:
    return dict(_segment_labels(segment))


@functools.lru_cache(maxsize=4096)
def _segment_labels(segment: str) -> tuple[tuple[str, str], ...]:
    """The field labels of a segment: ``locale=fr`` → ``{"locale": "fr"}``, ``all`` → ``{}``.

    A segment of several fields (``band=head,locale=fr``) gets one label per field.
    """
    out: dict[str, str] = {}
    if segment == "all":
        return ()
    for part in segment.split(","):
        field, sep, value = part.partition("=")
        if sep and field:
            out[_label_name(field.strip())] = value.strip()
    return tuple(out.items())


def figure_labels(segment: str, judge: str, k: int) -> dict[str, str]:
    """Every label of a daily figure's series."""
    return {"segment": segment, "judge": judge, "k": str(k), **segment_labels(segment)}


def _sample(name: str, labels: dict[str, str], value: float) -> InstantSample:
    return InstantSample({NAME: name, **labels}, value)


def figure_samples(
    figures: Iterable[FigureLike], baselines: Iterable[MeanLike] = (), *, counts: bool = True
) -> list[InstantSample]:
    """The exporter's samples for these figures and baselines (catalogue metrics only).

    Per figure with a value: ``<family>``, ``<family>_ci_lower``/``_ci_upper`` when the
    metric has a CI and both bounds are stored, and ``metric_samples`` (its n); per
    baseline of a metric that exports one, ``<family>_baseline`` (``counts=False`` leaves
    ``metric_samples`` out, for a caller that only evaluates rules). A catalogue ``scale``
    (days to seconds) applies to value, bounds and baseline alike.
    """
    out: list[InstantSample] = []
    for f in figures:
        spec = spec_of(f.metric)
        if spec is None or f.value is None:
            continue
        labels = figure_labels(f.segment, f.judge, f.k)
        out.append(_sample(spec.family, labels, f.value * spec.scale))
        if spec.has_ci and f.ci_low is not None and f.ci_high is not None:
            out.append(_sample(spec.family + "_ci_lower", labels, f.ci_low * spec.scale))
            out.append(_sample(spec.family + "_ci_upper", labels, f.ci_high * spec.scale))
        if counts:
            out.append(
                _sample(PREFIX + "metric_samples", {"metric": f.metric, **labels}, float(f.n))
            )
    for mean in baselines:
        spec = spec_of(mean.metric)
        if spec is None or not spec.baseline:
            continue
        labels = figure_labels(mean.segment, mean.judge, mean.k)
        out.append(_sample(spec.family + "_baseline", labels, mean.value * spec.scale))
    return out


def _family(
    name: str,
    help: str,
    rows: list[InstantSample],
    first: tuple[str, ...] = DAILY_LABELS,
    unit: str = "",
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(
        name, help, labels=list(first), unit=unit if name.endswith("_" + unit) else ""
    )
    for sample in rows:
        # each sample its own label set: a segment's field labels only where it has them
        labels = {k: sample.labels[k] for k in first}
        labels.update(sorted((k, v) for k, v in sample.labels.items() if k not in labels))
        labels.pop(NAME, None)
        family.add_sample(name, labels, sample.value)
    return family


def daily_families(samples: Iterable[InstantSample], baseline_days: int) -> Iterator[Metric]:
    """The daily samples as Prometheus families, one per catalogue family (empty or not):
    ``DAILY_LABELS`` on every sample, a segment's field labels on its samples only."""
    by_name: dict[str, list[InstantSample]] = defaultdict(list)
    for sample in samples:
        by_name[sample.labels[NAME]].append(sample)
    for spec in METRICS:
        yield _family(spec.family, spec.help, by_name[spec.family], unit=spec.unit)
        if spec.has_ci:
            for side, word in (("lower", "Lower"), ("upper", "Upper")):
                name = f"{spec.family}_ci_{side}"
                yield _family(name, f"{word} 95% CI bound of {spec.family}.", by_name[name])
        if spec.baseline:
            name = spec.family + "_baseline"
            help = (
                f"Mean of {spec.family} over the segment's last {baseline_days} in-control "
                "days before the latest day (days a quality alert held are left out)."
            )
            yield _family(name, help, by_name[name])
    name = PREFIX + "metric_samples"
    help = "Observations behind a daily figure (n)."
    yield _family(name, help, by_name[name], ("metric", *DAILY_LABELS))
