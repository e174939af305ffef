"""What the demo prints, as plain lines that fit 80 columns without cutting a name.

Pure functions from the figures ``monitor.demo.setup`` reads to text: the nDCG@10
chart, the judges day by day, each judge's health, and the sentences that say which
judge the bias metrics flag.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence

from monitor.demo.judges import SimulatedJudge
from monitor.demo.setup import DayFigure, JudgeDay, JudgeHealth

__all__ = [
    "day_table",
    "exporter_excerpt",
    "findings",
    "flagged_judges",
    "health_table",
    "judges_table",
    "text_chart",
]


def text_chart(
    series: Sequence[DayFigure], width: int = 30, marks: Mapping[dt.date, str] | None = None
) -> list[str]:
    """One line per day: the value as a dot, the CI as a bracket, e.g. ``[──●──]``.

    Lines are 65 characters plus the day's mark, so a short mark fits 80 columns.
    """
    values = [v for f in series for v in (f.value, f.ci_low, f.ci_high) if v is not None]
    if not values:
        return ["(no figures)"]
    low, high = min(values), max(values)
    span = max(high - low, 1e-9)
    lo_edge, hi_edge = low - 0.05 * span, high + 0.05 * span

    def col(v: float) -> int:
        return min(width - 1, max(0, round((v - lo_edge) / (hi_edge - lo_edge) * (width - 1))))

    lines = [
        f"{'day':<10} {'nDCG@10':>7}  {'95% CI':<14}  "
        f"{lo_edge:<5.3f}{' ' * (width - 10)}{hi_edge:>5.3f}"
    ]
    for f in series:
        if f.value is None or math.isnan(f.value):
            lines.append(f"{f.day.isoformat():<10} {'—':>7}")
            continue
        cells = [" "] * width
        if f.ci_low is not None and f.ci_high is not None:
            for c in range(col(f.ci_low), col(f.ci_high) + 1):
                cells[c] = "─"
            cells[col(f.ci_low)] = "["
            cells[col(f.ci_high)] = "]"
        cells[col(f.value)] = "●"
        ci = (
            f"[{f.ci_low:.3f}, {f.ci_high:.3f}]"
            if f.ci_low is not None and f.ci_high is not None
            else ""
        )
        mark = (marks or {}).get(f.day, "")
        line = f"{f.day.isoformat():<10} {f.value:>7.3f}  {ci:<14}  {''.join(cells)} {mark}"
        lines.append(line.rstrip())
    return lines


def _num(value: float | None, spec: str, width: int) -> str:
    return f"{'—':>{width}}" if value is None else f"{value:>{width}{spec}}"


def day_table(rows: Sequence[JudgeDay]) -> list[str]:
    """The judges day by day: agreement, LLM verdicts paid and cached, invalid, cost."""
    lines = [
        f"{'day':<10}  {'alpha':>5}  {'paid':>6}  {'cached':>6}  {'invalid':>7}  {'cost $':>8}"
    ]
    for r in rows:
        lines.append(
            f"{r.day.isoformat():<10}  {_num(r.alpha, '.2f', 5)}  {r.paid:>6,}  {r.cached:>6,}  "
            f"{r.invalid:>7,}  {r.cost_usd:>8.4f}"
        )
    total = sum(r.cost_usd for r in rows)
    lines.append(
        f"{'total':<10}  {'':>5}  {sum(r.paid for r in rows):>6,}  "
        f"{sum(r.cached for r in rows):>6,}  {sum(r.invalid for r in rows):>7,}  {total:>8.4f}"
    )
    return lines


def _tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 1_000:
        return f"{n / 1_000:.0f}k"
    return str(n)


def health_table(rows: Sequence[JudgeHealth], flagged: Mapping[str, str]) -> list[str]:
    """One line per judge: invalid rate, length bias, position consistency, latency, cost.

    ``flagged`` marks a judge's cell: ``{"length": name, "position": name}``.
    """
    name_w = max(11, *(len(r.judge) for r in rows))
    lines = [
        f"{'judge':<{name_w}}  {'invalid':>7}  {'length ρ':>8}  {'position':>8}  "
        f"{'latency':>7}  {'tokens in/out':>13}  {'cost $':>7}"
    ]

    def marked(value: float | None, kind: str, name: str) -> str:
        return _num(value, ".2f", 6) + (" ◀" if flagged.get(kind) == name else "  ")

    for r in rows:
        invalid = "—" if r.invalid_rate is None else f"{r.invalid_rate:.1%}"
        paid = r.input_tokens or r.output_tokens
        latency = f"{r.latency_s:.3f}s" if r.latency_s is not None and paid else "—"
        tokens = f"{_tokens(r.input_tokens)}/{_tokens(r.output_tokens)}" if paid else "—"
        lines.append(
            f"{r.judge:<{name_w}}  {invalid:>7}  {marked(r.length_bias_rho, 'length', r.judge)}  "
            f"{marked(r.position_consistency, 'position', r.judge)}  {latency:>7}  "
            f"{tokens:>13}  {r.cost_usd:>7.2f}"
        )
    return lines


def flagged_judges(rows: Sequence[JudgeHealth]) -> dict[str, str]:
    """The judge with the highest length bias and the one least position-consistent."""
    out: dict[str, str] = {}
    rhos = [r for r in rows if r.length_bias_rho is not None]
    if len(rhos) >= 2:
        out["length"] = max(rhos, key=lambda r: r.length_bias_rho or 0.0).judge
    positions = [r for r in rows if r.position_consistency is not None]
    if len(positions) >= 2:
        out["position"] = min(positions, key=lambda r: r.position_consistency or 0.0).judge
    return out


def findings(rows: Sequence[JudgeHealth], days: Sequence[JudgeDay]) -> list[str]:
    """What the figures say about the judges, one sentence each."""
    by_name = {r.judge: r for r in rows}
    flagged = flagged_judges(rows)
    out = []
    if "length" in flagged:
        top = by_name[flagged["length"]]
        others = max((r.length_bias_rho or 0.0 for r in rows if r.judge != top.judge), default=0.0)
        out.append(
            f"length bias: {top.judge}'s grades rise with the result's length (Spearman ρ "
            f"{top.length_bias_rho:.2f} on average a day; the other judges {others:.2f} at "
            "most)."
        )
    if "position" in flagged:
        low = by_name[flagged["position"]]
        others = min(
            (
                r.position_consistency
                for r in rows
                if r.judge != low.judge and r.position_consistency is not None
            ),
            default=1.0,
        )
        out.append(
            f"position bias: asked 'A or B?' in both orders, {low.judge} named the same "
            f"winner {low.position_consistency:.0%} of the time (the others {others:.0%} or "
            "more)."
        )
    invalid = [r for r in rows if r.invalid_rate]
    if invalid:
        worst = max(invalid, key=lambda r: r.invalid_rate or 0.0)
        out.append(
            f"invalid answers: {worst.judge} {worst.invalid_rate:.1%} of its verdicts (not "
            "a grade even after the repair round; stored as invalid, never guessed)."
        )
    if len(days) >= 2 and days[0].paid:
        first, second = days[0], days[1]
        out.append(
            f"cache: day 2 paid for {second.paid:,} LLM verdicts (${second.cost_usd:.2f}), "
            f"day 1 for {first.paid:,} (${first.cost_usd:.2f}); {second.cached:,} of day 2's "
            "came from the verdict cache (the same query and result, judged before)."
        )
    return out


def judges_table(judges: Sequence[SimulatedJudge], urls: Sequence[str]) -> list[str]:
    """The ensemble as the demo introduces it: each judge's flaw and price, the endpoints."""
    rows = [
        (j.name, j.flaw, f"{j.price_input_per_mtok:.2f} / {j.price_output_per_mtok:.2f}")
        for j in judges
    ]
    rows.append(("lexical", "none: word overlap, local", "free"))
    lines = [f"  {'judge':<12} {'simulated flaw':<34} {'$/M tokens in / out':>20}"]
    lines += [f"  {n:<12} {f:<34} {p:>20}" for n, f, p in rows]
    if urls:
        ports = ", ".join(":" + url.rsplit(":", 1)[1] for url in urls[1:])
        lines.append(f"  endpoints, one per judge: {urls[0]}" + (f", {ports}" if ports else ""))
    return lines


#: Exporter series the demo shows (segment "all"): the metric and labels it must have.
EXCERPT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("judge_monitor_ndcg", ('judge="ensemble"', 'k="10"')),
    ("judge_monitor_changepoint_cusum", ()),
    ("judge_monitor_krippendorff_alpha", ()),
    ("judge_monitor_length_bias_rho", ('judge="sim-verbose"',)),
    ("judge_monitor_position_consistency", ('judge="sim-mini"',)),
    ("judge_monitor_invalid_rate", ('judge="sim-mini"',)),
    ("judge_monitor_cost_dollars", ('judge="sim-large"',)),
    ("judge_monitor_up", ()),
)
_EMPTY_LABEL = re.compile(r',?\b\w+=""')


def exporter_excerpt(body: str) -> list[str]:
    """The ``EXCERPT`` lines of an exposition, empty labels left out, values rounded."""
    out = []
    for metric, wanted in EXCERPT:
        for line in body.splitlines():
            series, _, value = line.rpartition(" ")
            name, _, labels = series.partition("{")
            if name != metric or not all(label in labels for label in wanted):
                continue
            if labels and 'segment="all"' not in labels:
                continue
            with contextlib.suppress(ValueError):
                value = f"{float(value):.4g}"
            out.append(f"{_EMPTY_LABEL.sub('', series).replace('{,', '{')} {value}")
            break
    return out
