"""The alert rules, read from the rules YAML: the one place an alert's condition is written.

``dashboards/prometheus/rules/*.yml`` is what Prometheus loads. Everything Python says
about alerts — which would fire on a stored day (``monitor.export.alerts``), which days
are out of control and so left out of the baseline (``monitor.export.baseline``), the
severity the demo prints — is read from those files here and evaluated with
``monitor.export.promql``, so a threshold, a severity or a ``for:`` edited in the YAML
changes every one of them, and nothing in Python restates them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from monitor.errors import ConfigError
from monitor.export.promql import (
    NAME,
    InstantSample,
    Node,
    SampleIndex,
    evaluate,
    parse,
    selectors,
)
from monitor.paths import dashboards_dir

__all__ = [
    "AlertRule",
    "FiringRule",
    "load_rules",
    "parse_duration",
    "rule_files",
    "rules_by_name",
]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_THRESHOLD = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:\*[^#\n]*)?#\s*threshold:")


def parse_duration(text: str | None) -> float:
    """A Prometheus duration (``15m``, ``1h30m``, ``0s``) in seconds; None or "" is 0."""
    if not text:
        return 0.0
    raw = str(text).strip()
    parts = _DURATION.findall(raw)
    if "".join(n + u for n, u in parts) != raw:
        raise ConfigError(f"rules: {raw!r} is not a Prometheus duration (like 15m or 1h)")
    return sum(float(n) * _UNIT_S[u] for n, u in parts)


@dataclass(frozen=True)
class FiringRule:
    """What one alert rule returns: the alert's labels and its ``$value``."""

    alert: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class AlertRule:
    """One ``alert:`` rule as the YAML states it."""

    name: str
    group: str
    expr: str
    for_s: float
    keep_firing_for_s: float
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    source: Path
    _node: list[Node] = field(default_factory=list, repr=False, compare=False)

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    @property
    def node(self) -> Node:
        if not self._node:
            self._node.append(parse(self.expr))
        return self._node[0]

    @property
    def families(self) -> frozenset[str]:
        """The metric names the expression reads."""
        return frozenset(s.name for s in selectors(self.node) if s.name)

    @property
    def uses_time(self) -> bool:
        return "time()" in re.sub(r"\s+", "", self.expr)

    @property
    def thresholds(self) -> tuple[float, ...]:
        """The literals the YAML marks with ``# threshold:``, in the order written."""
        return tuple(float(n) for n in _THRESHOLD.findall(self.expr))

    def evaluate(
        self, samples: Iterable[InstantSample] | SampleIndex, *, at: float = 0.0
    ) -> list[FiringRule]:
        """The alerts the rule's expression returns over ``samples`` (``for:`` aside).

        Labels as Prometheus builds them: the result series' labels without
        ``__name__`` (empty ones dropped), then the rule's own labels, then ``alertname``.
        """
        out = []
        for sample in evaluate(self.node, samples, at=at):
            labels = {k: v for k, v in sample.labels.items() if k != NAME and v != ""}
            labels.update(self.labels)
            labels["alertname"] = self.name
            out.append(FiringRule(self.name, labels, sample.value))
        return out


def rule_files(folder: Path | None = None) -> list[Path]:
    """The rule files Prometheus loads (``dashboards/prometheus/rules/*.yml``)."""
    base = folder or dashboards_dir() / "prometheus" / "rules"
    return sorted(base.glob("*.yml"))


def _read(path: Path) -> list[AlertRule]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    rules = []
    for group in document.get("groups") or []:
        for raw in group.get("rules") or []:
            if "alert" not in raw:
                continue
            rules.append(
                AlertRule(
                    name=str(raw["alert"]),
                    group=str(group.get("name", "")),
                    expr=str(raw["expr"]),
                    for_s=parse_duration(raw.get("for")),
                    keep_firing_for_s=parse_duration(raw.get("keep_firing_for")),
                    labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                    annotations={str(k): str(v) for k, v in (raw.get("annotations") or {}).items()},
                    source=path,
                )
            )
    return rules


@functools.cache
def _load(paths: tuple[Path, ...], stamps: tuple[float, ...]) -> tuple[AlertRule, ...]:
    del stamps  # part of the cache key only: an edited file is read again
    return tuple(rule for path in paths for rule in _read(path))


def load_rules(paths: Sequence[Path] | None = None) -> tuple[AlertRule, ...]:
    """Every alert rule of the rule files, in file and group order."""
    chosen = tuple(paths) if paths is not None else tuple(rule_files())
    if not chosen:
        raise ConfigError(f"no alert rule files in {dashboards_dir() / 'prometheus' / 'rules'}")
    return _load(chosen, tuple(p.stat().st_mtime for p in chosen))


def rules_by_name(paths: Sequence[Path] | None = None) -> dict[str, AlertRule]:
    """The alert rules by alert name."""
    return {rule.name: rule for rule in load_rules(paths)}
