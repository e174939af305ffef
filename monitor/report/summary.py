"""The report in sentences: what broke, where, since when, how sure, what the judges said.

The first thing every view of the report shows (the terminal, the HTML page, the JSON's
``summary``), so a reader gets the answer before any table.
"""

from __future__ import annotations

from collections import defaultdict

from monitor.report.figures import format_value
from monitor.report.model import DailyReport, SegmentDrop

__all__ = ["summary"]


def _ci(low: float | None, high: float | None, signed: bool = False) -> str:
    if low is None or high is None:
        return ""
    if signed:
        return f" [95% CI {low:+.3f}, {high:+.3f}]"
    return f" [95% CI {format_value(low)}, {format_value(high)}]"


def _against(s: SegmentDrop, k: int) -> str:
    text = f"nDCG@{k} of {s.segment} is {s.value:.3f}{_ci(s.ci_low, s.ci_high)}"
    if s.baseline is None or s.drop is None:
        return text + " (no baseline yet)"
    low, high = s.change_ci or (None, None)
    text += f" against a baseline of {s.baseline:.3f}: {-s.drop:+.3f}{_ci(low, high, True)}"
    if s.clear:
        text += ", the whole CI below the baseline"
    elif low is not None and high is not None and low <= 0 <= high:
        text += ", within the noise (the CI includes no change)"
    return text


def _corrected(report: DailyReport, focus: str) -> str | None:
    """The focus segment's headline nDCG corrected by human labels against the
    judge-only one; None when no label was stored for the day's window (no corrected
    row)."""
    k = report.trend_k
    rows = {
        ln.current.judge: ln.current
        for ln in report.lines
        if (ln.current.metric, ln.current.k, ln.current.segment) == ("ndcg", k, focus)
    }
    fixed = rows.get("corrected")
    if fixed is None:
        return None
    figure = f"nDCG@{k}"
    if fixed.value is None:
        return f"No corrected {figure} of {focus}: {fixed.reason or 'no value'}."
    judged = rows.get("ensemble")
    against = "" if judged is None or judged.value is None else f" (judge-only {judged.value:.3f})"
    plural = "s" if fixed.n != 1 else ""
    return (
        f"Corrected by {fixed.n:,} human label{plural}, {figure} of {focus} is "
        f"{fixed.value:.3f}{_ci(fixed.ci_low, fixed.ci_high)}{against}."
    )


def summary(report: DailyReport) -> list[str]:
    """A few sentences answering what changed on the report's day."""
    out: list[str] = []
    k = report.trend_k
    pages = report.page_alerts
    if pages:
        segments: dict[str, list[str]] = defaultdict(list)
        since = min(a.since for a in pages)
        for a in pages:
            segments[a.alert.removeprefix("JudgeMonitor")].append(a.segment)
        listed = "; ".join(f"{name} ({', '.join(segs)})" for name, segs in segments.items())
        out.append(
            f"{len(pages)} page alert{'s' if len(pages) > 1 else ''} fire, the first since "
            f"{since}: {listed}."
        )
    elif report.alerts:
        out.append(f"No page alert fires; {len(report.alerts)} ticket alert(s) do.")
    else:
        out.append("No alert fires.")
    by_segment = {s.segment: s for s in report.segments}
    focus = report.segment or "all"
    if focus in by_segment:
        out.append(_against(by_segment[focus], k) + ".")
    if (corrected := _corrected(report, focus)) is not None:
        out.append(corrected)
    clear = [s for s in report.segments if s.clear and s.segment != focus]
    if clear:
        worst = clear[0]
        others = ", ".join(f"{s.segment} ({-s.drop:+.3f})" for s in clear[1:] if s.drop is not None)
        out.append(
            f"Biggest drop: {_against(worst, k)}."
            + (f" Also clearly below their baseline: {others}." if others else "")
        )
    elif report.segments and focus == "all":
        out.append("No segment is clearly below its baseline (every CI reaches it).")
    if report.changepoint is not None:
        out.append(
            f"The change point (CUSUM on daily nDCG@{k}) puts the start of the shift on "
            f"{report.changepoint}."
        )
    else:
        out.append(f"No change point in the daily nDCG@{k} series (CUSUM).")
    if report.worst:
        q = report.worst[0]
        said = ""
        top = q.results[0] if q.results else None
        if top is not None and top.opinions:
            o = max(top.opinions, key=lambda o: len(o.reasoning))  # the one that says most
            grade = "no grade" if o.grade is None else f"grade {o.grade}"
            reason = f': "{o.reasoning.strip().rstrip(".")}"' if o.reasoning.strip() else ""
            said = f"; judge {o.judge} gave its first result {grade}{reason}"
        out.append(f'Lowest query today: "{q.query}" ({q.segment}), nDCG@{k} {q.ndcg:.3f}{said}.')
    return out
