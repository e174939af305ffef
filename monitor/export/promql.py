"""The part of PromQL the alert rules are written in, evaluated at one instant in Python.

The rules file (``dashboards/prometheus/rules/``) is the one statement of every alert's
condition. Prometheus evaluates it on what the exporter serves; ``demo``, ``report``,
the daily artifact, the detection-power bench and the baseline's control chart need the
same answer for a stored day without a Prometheus running, so they evaluate the same
expressions here, on the samples the exporter would serve for that day
(``monitor.export.families``). ``tests/dashboards/test_dashboards_rules_python.py``
replays every ``promtool test rules`` case through this evaluator and fails when it
disagrees with what promtool was told to expect, and the end-to-end test compares it
with a real Prometheus.

Supported, with Prometheus's semantics: number literals, instant vector selectors
(``=``, ``!=``, ``=~``, ``!~``), ``( )``, unary minus, arithmetic (``+ - * / %``),
comparisons as filters or with ``bool``, ``and``/``or``/``unless``, one-to-one vector
matching with ``on (...)``/``ignoring (...)``, ``time()``, ``absent()``, ``vector()``,
and ``#`` comments. Anything else (range vectors, aggregations, ``group_left``) is an
``UnsupportedQuery`` naming the construct, never a silently wrong answer.

One module because the lexer, the parser and the evaluator are one grammar: each
operator's precedence, matching and result labels are read in one place.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

__all__ = [
    "Call",
    "InstantSample",
    "Matching",
    "Node",
    "Number",
    "SampleIndex",
    "Selector",
    "UnsupportedQuery",
    "evaluate",
    "parse",
    "selectors",
]

NAME = "__name__"


class UnsupportedQuery(ValueError):
    """The expression uses PromQL this evaluator does not implement (or is invalid)."""


@dataclass(frozen=True, slots=True)
class InstantSample:
    """One series' value at the instant: its labels (``__name__`` included) and value."""

    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class Selector:
    name: str | None
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.name is not None and labels.get(NAME) != self.name:
            return False
        for label, op, value in self.matchers:
            have = labels.get(label, "")
            if op == "=" and have != value:
                return False
            if op == "!=" and have == value:
                return False
            if op == "=~" and not re.fullmatch(value, have):
                return False
            if op == "!~" and re.fullmatch(value, have):
                return False
        return True


@dataclass(frozen=True, slots=True)
class Matching:
    on: bool  # True: on (labels); False: ignoring (labels)
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    lhs: Node
    rhs: Node
    matching: Matching | None
    bool_: bool


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]


Node = Union[Number, Selector, Binary, Call]  # noqa: UP007  (a runtime alias)
Scalar = float
Vector = list[InstantSample]
Value = Union[float, list[InstantSample]]  # noqa: UP007

# --- lexing ---------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>==|!=|<=|>=|=~|!~|[-+*/%^<>=(){},\[\]])
    """,
    re.VERBOSE,
)

_PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    "<": 3,
    "<=": 3,
    ">": 3,
    ">=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
}
_COMPARISONS = {"==", "!=", "<", "<=", ">", ">="}
_SET_OPS = {"and", "or", "unless"}
_OPS: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": lambda a, b: a / b if b else (math.copysign(math.inf, a) if a else math.nan),
    "%": lambda a, b: math.fmod(a, b) if b else math.nan,
    "==": lambda a, b: float(a == b),
    "!=": lambda a, b: float(a != b),
    "<": lambda a, b: float(a < b),
    "<=": lambda a, b: float(a <= b),
    ">": lambda a, b: float(a > b),
    ">=": lambda a, b: float(a >= b),
}
_AGGREGATIONS = {"sum", "min", "max", "avg", "count", "topk", "bottomk", "quantile", "stddev"}


def _tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(expr):
        found = _TOKEN.match(expr, pos)
        if found is None:
            raise UnsupportedQuery(f"PromQL: cannot read {expr[pos : pos + 20]!r}")
        pos = found.end()
        kind = found.lastgroup or ""
        if kind != "space":
            out.append((kind, found.group()))
    return out


class _Parser:
    def __init__(self, expr: str) -> None:
        self.tokens = _tokens(expr)
        self.pos = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if text is not None and token[1] != text:
            raise UnsupportedQuery(f"PromQL: expected {text!r}, found {token[1] or 'the end'!r}")
        self.pos += 1
        return token

    def expression(self, floor: int = 0) -> Node:
        lhs = self.unary()
        while True:
            kind, text = self.peek()
            op = text if kind in ("op", "ident") else ""
            level = _PRECEDENCE.get(op)
            if level is None or level <= floor:
                return lhs
            self.take()
            bool_ = False
            if self.peek()[1] == "bool":
                self.take()
                bool_ = True
            matching = None
            if self.peek()[1] in ("on", "ignoring"):
                on = self.take()[1] == "on"
                matching = Matching(on, self.label_list())
            if self.peek()[1] in ("group_left", "group_right"):
                raise UnsupportedQuery(f"PromQL: {self.peek()[1]} is not supported")
            rhs = self.expression(level)
            lhs = Binary(op, lhs, rhs, matching, bool_)

    def unary(self) -> Node:
        if self.peek()[1] == "-":
            self.take()
            return Binary("*", Number(-1.0), self.unary(), None, False)
        if self.peek()[1] == "+":
            self.take()
        return self.primary()

    def label_list(self) -> tuple[str, ...]:
        self.take("(")
        names: list[str] = []
        while self.peek()[1] != ")":
            kind, text = self.take()
            if kind != "ident":
                raise UnsupportedQuery(f"PromQL: expected a label name, found {text!r}")
            names.append(text)
            if self.peek()[1] == ",":
                self.take()
        self.take(")")
        return tuple(names)

    def primary(self) -> Node:
        kind, text = self.peek()
        if kind == "number":
            self.take()
            return Number(float(text))
        if text == "(":
            self.take()
            inner = self.expression()
            self.take(")")
            return inner
        if text == "{":
            return self.selector(None)
        if kind == "ident":
            self.take()
            if text in _AGGREGATIONS:
                raise UnsupportedQuery(f"PromQL: the aggregation {text}() is not supported")
            if self.peek()[1] == "(":
                self.take()
                args: list[Node] = []
                while self.peek()[1] != ")":
                    args.append(self.expression())
                    if self.peek()[1] == ",":
                        self.take()
                self.take(")")
                return Call(text, tuple(args))
            return self.selector(text)
        raise UnsupportedQuery(f"PromQL: unexpected {text or 'end of expression'!r}")

    def selector(self, name: str | None) -> Selector:
        matchers: list[tuple[str, str, str]] = []
        if self.peek()[1] == "{":
            self.take()
            while self.peek()[1] != "}":
                label = self.take()
                op = self.take()
                value = self.take()
                if (
                    label[0] != "ident"
                    or op[1] not in ("=", "!=", "=~", "!~")
                    or (value[0] != "string")
                ):
                    raise UnsupportedQuery(f"PromQL: bad label matcher {label[1]}{op[1]}{value[1]}")
                matchers.append((label[1], op[1], _unquote(value[1])))
                if self.peek()[1] == ",":
                    self.take()
            self.take("}")
        if self.peek()[1] == "[":
            raise UnsupportedQuery("PromQL: range vectors are not supported")
        if name is None and not matchers:
            raise UnsupportedQuery("PromQL: an empty selector {}")
        return Selector(name, tuple(matchers))


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse(expr: str) -> Node:
    """The expression's syntax tree; ``UnsupportedQuery`` when it is outside the subset."""
    parser = _Parser(expr)
    node = parser.expression()
    if parser.peek()[0] != "end":
        raise UnsupportedQuery(f"PromQL: unexpected {parser.peek()[1]!r} after the expression")
    return node


def selectors(node: Node) -> list[Selector]:
    """Every vector selector in the expression, left to right."""
    if isinstance(node, Selector):
        return [node]
    if isinstance(node, Binary):
        return selectors(node.lhs) + selectors(node.rhs)
    if isinstance(node, Call):
        return [s for arg in node.args for s in selectors(arg)]
    return []


# --- evaluation -----------------------------------------------------------------------


def _signature(labels: Mapping[str, str], matching: Matching | None) -> tuple[tuple[str, str], ...]:
    if matching is not None and matching.on:
        return tuple((k, labels.get(k, "")) for k in sorted(matching.labels))
    ignored = {NAME, *(matching.labels if matching else ())}
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ignored and v != ""))


def _result_labels(
    labels: Mapping[str, str], matching: Matching | None, drop_name: bool
) -> dict[str, str]:
    if matching is not None and matching.on:
        return {k: labels[k] for k in matching.labels if labels.get(k)}
    out = {k: v for k, v in labels.items() if not (matching and k in matching.labels)}
    if drop_name:
        out.pop(NAME, None)
    return out


def _vector_op(node: Binary, lhs: Vector, rhs: Vector) -> Vector:
    if node.op in _SET_OPS:
        right = {_signature(s.labels, node.matching) for s in rhs}
        if node.op == "and":
            return [s for s in lhs if _signature(s.labels, node.matching) in right]
        if node.op == "unless":
            return [s for s in lhs if _signature(s.labels, node.matching) not in right]
        left = {_signature(s.labels, node.matching) for s in lhs}
        return lhs + [s for s in rhs if _signature(s.labels, node.matching) not in left]
    index: dict[tuple[tuple[str, str], ...], list[InstantSample]] = {}
    for sample in rhs:
        index.setdefault(_signature(sample.labels, node.matching), []).append(sample)
    fn = _OPS[node.op]
    comparison = node.op in _COMPARISONS
    out: Vector = []
    for sample in lhs:
        matched = index.get(_signature(sample.labels, node.matching), [])
        if not matched:
            continue
        if len(matched) > 1:
            raise UnsupportedQuery(
                f"PromQL: many-to-many matching for {dict(sample.labels)} (group_left needed)"
            )
        result = fn(sample.value, matched[0].value)
        drop_name = not comparison or node.bool_
        labels = _result_labels(sample.labels, node.matching, drop_name)
        if comparison and not node.bool_:
            if result:
                out.append(InstantSample(labels, sample.value))
            continue
        out.append(InstantSample(labels, result))
    return out


def _scalar_op(node: Binary, vector: Vector, scalar: float, vector_left: bool) -> Vector:
    fn = _OPS[node.op]
    comparison = node.op in _COMPARISONS
    out: Vector = []
    for sample in vector:
        a, b = (sample.value, scalar) if vector_left else (scalar, sample.value)
        result = fn(a, b)
        labels = dict(sample.labels)
        if not comparison or node.bool_:
            labels.pop(NAME, None)
        if comparison and not node.bool_:
            if result:
                out.append(InstantSample(labels, sample.value))
            continue
        out.append(InstantSample(labels, result))
    return out


class SampleIndex:
    """Samples grouped by metric name (a selector reads its own): build it once to
    evaluate several expressions on the same samples."""

    def __init__(self, samples: Sequence[InstantSample]) -> None:
        self.all = samples
        self.by_name: dict[str | None, list[InstantSample]] = {}
        for sample in samples:
            self.by_name.setdefault(sample.labels.get(NAME), []).append(sample)

    def select(self, selector: Selector) -> Vector:
        pool = self.all if selector.name is None else self.by_name.get(selector.name, [])
        return [s for s in pool if selector.matches(s.labels)]


def _binary(node: Binary, samples: SampleIndex, at: float) -> Value:
    lhs = _eval(node.lhs, samples, at)
    rhs = _eval(node.rhs, samples, at)
    if node.op in _SET_OPS:
        if not (isinstance(lhs, list) and isinstance(rhs, list)):
            raise UnsupportedQuery(f"PromQL: {node.op} needs vectors on both sides")
        return _vector_op(node, lhs, rhs)
    if isinstance(lhs, float) and isinstance(rhs, float):
        if node.op in _COMPARISONS and not node.bool_:
            raise UnsupportedQuery("PromQL: comparisons between scalars need bool")
        return _OPS[node.op](lhs, rhs)
    if isinstance(lhs, list) and isinstance(rhs, list):
        return _vector_op(node, lhs, rhs)
    if isinstance(lhs, list):
        assert isinstance(rhs, float)
        return _scalar_op(node, lhs, rhs, vector_left=True)
    assert isinstance(rhs, list) and isinstance(lhs, float)
    return _scalar_op(node, rhs, lhs, vector_left=False)


def _call(node: Call, samples: SampleIndex, at: float) -> Value:
    if node.func == "time" and not node.args:
        return at
    if node.func == "vector" and len(node.args) == 1:
        value = _eval(node.args[0], samples, at)
        if not isinstance(value, float):
            raise UnsupportedQuery("PromQL: vector() takes a scalar")
        return [InstantSample({}, value)]
    if node.func == "absent" and len(node.args) == 1:
        found = _eval(node.args[0], samples, at)
        if not isinstance(found, list):
            raise UnsupportedQuery("PromQL: absent() takes a vector")
        if found:
            return []
        arg = node.args[0]
        labels = {}
        if isinstance(arg, Selector):
            labels = {k: v for k, op, v in arg.matchers if op == "=" and k != NAME}
        return [InstantSample(labels, 1.0)]
    raise UnsupportedQuery(f"PromQL: the function {node.func}() is not supported")


def _eval(node: Node, samples: SampleIndex, at: float) -> Value:
    if isinstance(node, Number):
        return node.value
    if isinstance(node, Selector):
        return samples.select(node)
    if isinstance(node, Binary):
        return _binary(node, samples, at)
    return _call(node, samples, at)


def evaluate(
    expr: str | Node, samples: Iterable[InstantSample] | SampleIndex, *, at: float = 0.0
) -> list[InstantSample]:
    """The instant vector ``expr`` returns over ``samples`` at time ``at`` (Unix seconds).

    A scalar result is returned as one sample without labels, as Prometheus's rule
    evaluation treats it.
    """
    node = parse(expr) if isinstance(expr, str) else expr
    index = samples if isinstance(samples, SampleIndex) else SampleIndex(list(samples))
    result = _eval(node, index, at)
    if isinstance(result, float):
        return [InstantSample({}, result)]
    return result
