"""The Python view of the alert rules agrees with the rules YAML, case by promtool case.

``monitor.export.rules`` reads the rules files and ``monitor.export.promql`` evaluates
their expressions; ``demo``, the daily artifact, the bench and the baseline's control
chart rely on that. Here every ``promtool test rules`` case in
``dashboards/prometheus/tests/`` is replayed in Python — the input series expanded as
promtool expands them, the rules evaluated every ``evaluation_interval`` with a 5-minute
lookback, ``for:`` and ``keep_firing_for:`` applied as Prometheus applies them — and the
alerts firing at each ``eval_time`` must be exactly the ones promtool is told to expect
(``test_dashboards_rules.py`` has promtool check those expectations against the YAML).
So a rule whose meaning the Python side gets wrong fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.export.alerts import DAY_FAMILIES, day_rules
from monitor.export.promql import NAME, InstantSample, Selector, UnsupportedQuery, parse
from monitor.export.rules import AlertRule, load_rules, parse_duration

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "dashboards" / "prometheus"
TEST_FILES = sorted((PROM / "tests").glob("*.yml"))
LOOKBACK_S = 300.0
STALE = object()


def expand(values: str) -> list[Any]:
    """promtool's series notation: ``a+bxn`` (n+1 values), ``_``, ``_xn``, ``stale``."""
    out: list[Any] = []
    for token in str(values).split():
        if token == "_":
            out.append(None)
        elif token == "stale":
            out.append(STALE)
        elif m := re.fullmatch(r"_x(\d+)", token):
            out += [None] * int(m.group(1))
        elif m := re.fullmatch(r"(-?[\d.]+(?:e[+-]?\d+)?)([+-])([\d.]+)x(\d+)", token):
            a, b = float(m.group(1)), float(m.group(3)) * (1 if m.group(2) == "+" else -1)
            out += [a + i * b for i in range(int(m.group(4)) + 1)]
        elif m := re.fullmatch(r"(-?[\d.]+)x(\d+)", token):
            out += [float(m.group(1))] * (int(m.group(2)) + 1)
        else:
            out.append(float(token))
    return out


@dataclass
class Series:
    labels: dict[str, str]
    points: list[Any]
    interval_s: float

    def at(self, t: float) -> float | None:
        """The value an instant query at ``t`` sees (None: none within the lookback)."""
        index = int(t // self.interval_s)
        for i in range(min(index, len(self.points) - 1), -1, -1):
            if t - i * self.interval_s > LOOKBACK_S:
                return None
            point = self.points[i]
            if point is STALE:
                return None
            if point is not None:
                return float(point)
        return None


def series_of(raw: dict[str, Any], interval_s: float) -> Series:
    node = parse(raw["series"])
    assert isinstance(node, Selector) and node.name, raw["series"]
    labels = {NAME: node.name, **{k: v for k, _op, v in node.matchers}}
    return Series(labels, expand(raw["values"]), interval_s)


@dataclass
class AlertState:
    active_at: float
    firing: bool = False
    keep_since: float | None = None


@dataclass
class Replay:
    """The rules evaluated over a test's input series, every evaluation interval."""

    rules: tuple[AlertRule, ...]
    series: list[Series]
    step_s: float
    states: dict[tuple[str, frozenset[tuple[str, str]]], AlertState] = field(default_factory=dict)
    now: float = -1.0

    def samples(self, t: float) -> list[InstantSample]:
        out = []
        for s in self.series:
            value = s.at(t)
            if value is not None:
                out.append(InstantSample(s.labels, value))
        return out

    def step(self, t: float) -> None:
        samples = self.samples(t)
        for rule in self.rules:
            found = {frozenset(f.labels.items()) for f in rule.evaluate(samples, at=t)}
            for labels in found:
                key = (rule.name, labels)
                state = self.states.get(key)
                if state is None:
                    state = self.states[key] = AlertState(active_at=t)
                state.keep_since = None
                if t - state.active_at >= rule.for_s:
                    state.firing = True
            for key, state in list(self.states.items()):
                if key[0] != rule.name or key[1] in found:
                    continue
                if state.firing and rule.keep_firing_for_s > 0:
                    if state.keep_since is None:
                        state.keep_since = t
                    if t - state.keep_since < rule.keep_firing_for_s:
                        continue
                del self.states[key]

    def firing_at(self, eval_time: float, alert: str) -> set[frozenset[tuple[str, str]]]:
        t = self.now + self.step_s if self.now >= 0 else 0.0
        while t <= eval_time + 1e-9:
            self.step(t)
            self.now = t
            t += self.step_s
        return {labels for (name, labels), s in self.states.items() if name == alert and s.firing}


def cases() -> Iterator[Any]:
    for path in TEST_FILES:
        document = yaml.safe_load(path.read_text())
        for test in document["tests"]:
            yield pytest.param(path, document, test, id=f"{path.name}: {test['name']}")


@pytest.mark.parametrize(("path", "document", "test"), list(cases()))
def test_python_view_fires_what_promtool_expects(
    path: Path, document: dict[str, Any], test: dict[str, Any]
) -> None:
    """Replaying the case in Python fires exactly the alerts promtool is told to expect."""
    rule_paths = [(path.parent / p).resolve() for p in document["rule_files"]]
    rules = load_rules(rule_paths)
    interval = parse_duration(test.get("interval", "1m"))
    step = parse_duration(document.get("evaluation_interval", "1m"))
    series = [series_of(raw, interval) for raw in test["input_series"]]
    checked = 0
    replay = Replay(rules, series, step)
    for case in sorted(test["alert_rule_test"], key=lambda c: parse_duration(c["eval_time"])):
        at = parse_duration(case["eval_time"])
        got = replay.firing_at(at, case["alertname"])
        expected = {
            frozenset({**a["exp_labels"], "alertname": case["alertname"]}.items())
            for a in case.get("exp_alerts") or []
        }
        assert got == expected, (case["alertname"], case["eval_time"])
        checked += 1
    assert checked


def test_every_rule_is_in_the_python_subset() -> None:
    """Each rule's expression parses in monitor.export.promql (else Python cannot follow it)."""
    for rule in load_rules():
        try:
            rule.node  # noqa: B018  (parsing is the check)
        except UnsupportedQuery as exc:
            pytest.fail(f"{rule.name}: {exc}")


def test_day_rules_cover_every_daily_figure_rule() -> None:
    """The rules on daily figures and run status are the ones the day view evaluates."""
    names = {r.name for r in day_rules()}
    for rule in load_rules():
        reads_day = bool(rule.families) and rule.families <= DAY_FAMILIES and not rule.uses_time
        assert (rule.name in names) == reads_day, rule.name
    for required in (
        "JudgeMonitorQualityDropVsBaseline",
        "JudgeMonitorChangePoint",
        "JudgeMonitorJudgeChanged",
        "JudgeMonitorRunFailed",
    ):
        assert required in names


def test_daily_rules_fire_at_once_and_ride_out_a_restart() -> None:
    """Rules on daily values have no for: (they hold all day) and keep firing ≥ 10 minutes."""
    for rule in day_rules():
        assert rule.for_s == 0, f"{rule.name}: for: adds delay to a value that changes daily"
        assert rule.keep_firing_for_s >= 600, f"{rule.name}: a scrape gap would re-notify"
    for rule in load_rules():
        assert rule.for_s <= 3600, f"{rule.name}: for: longer than an hour"


def test_severity_and_thresholds_in_the_runbook_match_the_yaml() -> None:
    """docs/operations.md states each alert's severity and thresholds as the YAML has them."""
    text = (REPO / "docs" / "operations.md").read_text()
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^### |\Z)", text, flags=re.M | re.S))
    for rule in load_rules():
        body = sections.get(rule.name, "")
        assert body.startswith(f"*{rule.severity}.*"), f"{rule.name}: severity in the runbook"
        for threshold in rule.thresholds:
            shown = {f"{threshold:g}", f"{threshold * 100:g}%"}
            assert any(form in body for form in shown), f"{rule.name}: threshold {shown}"
