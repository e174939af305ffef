"""The daily report as one self-contained HTML page: the artifact people read.

One file, inline CSS and SVG, no script and no external asset: it can be mailed or
attached to a ticket and still opens, offline, years later. In reading order: what
changed (summary, alerts, segments ranked by their drop), the headline figures against
the baseline, nDCG@10 per segment as small multiples (CI band, baseline, change point
and annotations), the judges' health, the grade distribution, the worst queries with
each judge's grade and reasoning, the judges' disagreements, and every figure (folded).
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from monitor.report.charts import COLOURS, Line, Mark, bars_svg, change_chart, line_chart
from monitor.report.figures import (
    ReportLine,
    format_ci,
    format_value,
    grade_shares,
    judge_caption,
)
from monitor.report.health import Series
from monitor.report.model import Alert, DailyReport, SegmentTrend
from monitor.report.queries import Disagreement, QueryView, ResultView
from monitor.report.style import CSS as _CSS
from monitor.report.summary import summary
from monitor.types import GRADE_LABELS, MAX_GRADE

__all__ = ["render_html"]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _grade(value: float | None) -> str:
    return "—" if value is None else (f"{value:.0f}" if value == int(value) else f"{value:.1f}")


def _line_cells(ln: ReportLine) -> str:
    c = ln.current
    if c.value is None:
        value = f'<span class="null">— {_e(c.reason or "no value")}</span>'
    else:
        value = format_value(c.value)
    change = ""
    if c.value is not None and ln.baseline is not None:
        change = f"{c.value - ln.baseline:+.3f}"
    return (
        f'<td class="num">{value}</td><td class="num">{format_ci(c.ci_low, c.ci_high)}</td>'
        f'<td class="num">{c.n}</td><td class="num">{format_value(ln.baseline)}</td>'
        f'<td class="num">{change}</td><td class="{ln.assessment}">{ln.arrow} '
        f"{_e(ln.assessment if ln.assessment in ('better', 'worse') else '')}</td>"
    )


_HEAD = (
    '<th class="num">value</th><th class="num">95% CI</th><th class="num">n</th>'
    '<th class="num">baseline</th><th class="num">change</th><th></th>'
)


def _figures_table(lines: Sequence[ReportLine], *, with_section: bool) -> str:
    head = "<th>section</th>" if with_section else ""
    out = [f"<table><tr>{head}<th>figure</th><th>segment</th><th>judge</th>{_HEAD}</tr>"]
    for ln in lines:
        c = ln.current
        section = f"<td>{_e(ln.section)}</td>" if with_section else ""
        out.append(
            f"<tr>{section}<td>{_e(c.label)}</td><td>{_e(c.segment)}</td>"
            f"<td>{_e(judge_caption(c.judge, c.n))}</td>"
            f"{_line_cells(ln)}</tr>"
        )
    out.append("</table>")
    return "".join(out)


def _alerts_table(alerts: Sequence[Alert]) -> str:
    rows = [
        "<table><tr><th>severity</th><th>alert</th><th>segment</th><th>judge</th>"
        '<th class="num">value</th><th class="num">baseline</th><th>since</th></tr>'
    ]
    for a in alerts:
        rows.append(
            f'<tr><td class="{_e(a.severity)}">{_e(a.severity)}</td><td>{_e(a.alert)}</td>'
            f"<td>{_e(a.segment)}</td><td>{_e(a.judge)}</td>"
            f'<td class="num">{format_value(a.value)}</td>'
            f'<td class="num">{format_value(a.baseline)}</td><td>{a.since}</td></tr>'
        )
    rows.append("</table>")
    return "".join(rows)


def _changed(report: DailyReport) -> str:
    sentences = summary(report)
    ok = "" if report.page_alerts else " ok"
    parts = [
        f'<div class="summary{ok}" id="summary"><ul>'
        + "".join(f"<li>{_e(s)}</li>" for s in sentences)
        + "</ul></div>"
    ]
    pages = [a for a in report.alerts if a.severity == "page"]
    others = [a for a in report.alerts if a.severity != "page"]
    if pages:
        parts.append("<h3>Page alerts that fire</h3>" + _alerts_table(pages))
    if others:
        parts.append(
            f"<details><summary>{len(others)} other alert(s) that fire (ticket, info)"
            f"</summary>{_alerts_table(others)}</details>"
        )
    if not report.alerts:
        parts.append('<p class="why">No alert rule holds on this day\'s figures.</p>')
    k = report.trend_k
    ranked = [s for s in report.segments if s.drop is not None]
    if ranked:
        rows = [
            (
                s.segment,
                s.change or 0.0,
                s.change_ci[0] if s.change_ci else None,
                s.change_ci[1] if s.change_ci else None,
                s.clear,
            )
            for s in ranked
        ]
        parts.append(
            f"<h3>Segments ranked by their nDCG@{k} drop (dot: today − baseline; line: 95% CI;"
            " red: the whole CI below the baseline)</h3>"
            + change_chart(rows, width=720, label=f"nDCG@{k} − baseline")
        )
        parts.append(
            "<details><summary>the figures behind the chart</summary>"
            '<table><tr><th>segment</th><th class="num">nDCG@' + str(k) + "</th>"
            '<th class="num">95% CI</th><th class="num">n</th><th class="num">baseline</th>'
            '<th class="num">change</th><th class="num">change 95% CI</th></tr>'
        )
        for s in ranked:
            ci = "" if s.change_ci is None else "[{:+.3f}, {:+.3f}]".format(*s.change_ci)
            cls = ' class="worse"' if s.clear else ""
            parts.append(
                f"<tr{cls}><td>{_e(s.segment)}</td><td class='num'>{s.value:.3f}</td>"
                f"<td class='num'>{format_ci(s.ci_low, s.ci_high)}</td>"
                f"<td class='num'>{s.n}</td><td class='num'>{format_value(s.baseline)}</td>"
                f"<td class='num'>{s.change or 0.0:+.3f}</td><td class='num'>{ci}</td></tr>"
            )
        parts.append("</table></details>")
    else:
        parts.append(
            f'<p class="why">No segment has a baseline for nDCG@{k} yet: the baseline is the '
            "mean of the days before this one, and none is stored.</p>"
        )
    return "".join(parts)


def _marks(report: DailyReport) -> list[Mark]:
    return [Mark(a.day, a.kind, a.label) for a in report.annotations]


def _multiple(report: DailyReport, trend: SegmentTrend, big: bool, lo: float, hi: float) -> str:
    days = [p.day for p in trend.points]
    line = Line(
        trend.segment,
        [p.value for p in trend.points],
        [p.ci_low for p in trend.points],
        [p.ci_high for p in trend.points],
        COLOURS[0],
    )
    svg = line_chart(
        days,
        [line],
        width=1080 if big else 350,
        height=260 if big else 170,
        lo=lo,
        hi=hi,
        baseline=trend.baseline,
        reference=set(report.reference_days.get(trend.segment, ())),
        marks=_marks(report),
        mark_labels=big,
        title=f"nDCG@{report.trend_k} of {trend.segment}",
    )
    today = trend.points[-1].value if trend.points else None
    caption = f"<b>{_e(trend.segment)}</b>"
    if today is not None:
        caption += f" {today:.3f}"
        if trend.baseline is not None:
            change = today - trend.baseline
            drop = next((s for s in report.segments if s.segment == trend.segment), None)
            cls = ' class="worse"' if drop is not None and drop.clear else ""
            caption += f" vs baseline {trend.baseline:.3f} (<span{cls}>{change:+.3f}</span>)"
    return f"<figure><figcaption>{caption}</figcaption>{svg}</figure>"


def _trends(report: DailyReport) -> str:
    if not report.trends:
        return f'<p class="why">No nDCG@{report.trend_k} figure is stored for this day.</p>'
    values = [
        v
        for t in report.trends
        for p in t.points
        for v in (p.value, p.ci_low, p.ci_high, t.baseline)
        if v is not None
    ]
    lo, hi = max(0.0, min(values) - 0.03), min(1.0, max(values) + 0.03)
    first = next((t for t in report.trends if t.segment == "all"), report.trends[0])
    rest = [t for t in report.trends if t is not first]
    key = (
        '<p class="key"><span>line: the day\'s value; band: its 95% CI</span>'
        "<span>dashed: the baseline (mean of the shaded window)</span>"
        '<span style="color:#d62728">red: change point</span>'
        '<span style="color:#ff7f0e">orange: an alert first fired</span>'
        '<span style="color:#7f7f7f">grey: configuration changed</span>'
        f"<span>same y scale in every chart; from {report.first_day}, the first day with "
        "figures</span></p>"
    )
    grid = "".join(_multiple(report, t, False, lo, hi) for t in rest)
    return key + _multiple(report, first, True, lo, hi) + (f'<div class="grid">{grid}</div>')


def _health_chart(
    report: DailyReport, series: Sequence[Series], title: str, lo: float | None
) -> str:
    days = [p.day for p in series[0].points]
    lines = [
        Line(
            s.label,
            [p.value for p in s.points],
            [p.ci_low for p in s.points],
            [p.ci_high for p in s.points],
            COLOURS[i % len(COLOURS)],
        )
        for i, s in enumerate(series)
    ]
    return line_chart(
        days, lines, width=360, height=170 + 15 * len(lines), marks=_marks(report),
        mark_labels=False, legend=True, title=title, lo=lo,
    )  # fmt: skip


def _health(report: DailyReport) -> str:
    h = report.health
    parts = []
    panels = (
        ("agreement", "Agreement among judges and with humans", h.agreement, None),
        ("invalid", "Invalid answers (share of a judge's answers)", h.invalid, 0.0),
        ("cost", "Cost of the judges' paid calls (US dollars a day)", h.cost, 0.0),
    )
    for key, title, series, lo in panels:
        body = (
            _health_chart(report, series, title, lo)
            if series
            else f'<p class="why">{_e(h.empty.get(key, "Nothing to draw."))}</p>'
        )
        if key == "agreement" and series and "humans" in h.empty:
            body += f'<p class="why">{_e(h.empty["humans"])}</p>'
        parts.append(f"<figure><figcaption><b>{_e(title)}</b></figcaption>{body}</figure>")
    return f'<div class="grid">{"".join(parts)}</div>'


def _grades(report: DailyReport) -> str:
    today = grade_shares(report.grades_today)
    base = grade_shares(report.grades_baseline)
    return bars_svg(
        [f"{g} {GRADE_LABELS[g]}" for g in range(MAX_GRADE + 1)],
        [
            (f"{report.day} (n={sum(report.grades_today.values())})", list(today.values())),
            (f"baseline (n={sum(report.grades_baseline.values())})", list(base.values())),
        ],
        width=720,
    )


def _opinions(r: ResultView) -> str:
    if not r.opinions:
        return '<span class="null">no judge verdict stored</span>'
    return "<br>".join(
        f'<span class="op"><b>{_e(o.judge)}</b>: '
        f"{'invalid' if o.grade is None else o.grade}</span> "
        + (f"<q>{_e(o.reasoning)}</q>" if o.reasoning else "")
        for o in r.opinions
    )


def _results(results: Sequence[ResultView]) -> str:
    rows = [
        '<table class="results"><tr><th>#</th><th>result</th><th class="num">ensemble</th>'
        "<th>each judge: grade and reasoning</th></tr>"
    ]
    for r in results:
        rows.append(
            f'<tr><td class="pos">{r.position}</td>'
            f'<td class="res"><b>{_e(r.title or r.result_id)}</b>'
            f'<div class="body">{_e(r.body)}</div></td>'
            f'<td class="num">{_grade(r.grade)}</td><td>{_opinions(r)}</td></tr>'
        )
    rows.append("</table>")
    return "".join(rows)


def _queries(views: Sequence[QueryView], k: int, *, empty: str, opened: int = 1) -> str:
    if not views:
        return f'<p class="why">{_e(empty)}</p>'
    out = []
    for i, q in enumerate(views):
        history = (
            f"; its mean over {q.history_n} earlier day(s) {q.history_mean:.3f} "
            f"({q.ndcg - q.history_mean:+.3f})"
            if q.history_mean is not None
            else ""
        )
        if q.shown_ndcg is not None:  # several lists that day: the worst one is shown
            history += f"; served several lists, the one shown {q.shown_ndcg:.3f}"
        out.append(
            f'<details class="query"{" open" if i < opened else ""}><summary>'
            f"<b>{_e(q.query)}</b> · {_e(q.segment)} · nDCG@{k} {q.ndcg:.3f}{_e(history)}"
            f"</summary>{_results(q.results)}</details>"
        )
    return "".join(out)


def _disagreements(report: DailyReport) -> str:
    items: Sequence[Disagreement] = report.disagreements
    if not items:
        return (
            '<p class="why">No result of the day has two judges who disagree: a disagreement '
            "needs at least two judges in the ensemble grading the same result.</p>"
        )
    out = []
    for d in items:
        out.append(
            f'<details class="query" open><summary><b>{_e(d.query)}</b> · {_e(d.segment)} · '
            f"result {d.result.position} · the judges' grades spread {d.spread:.2f} (sd)</summary>"
            f"{_results([d.result])}</details>"
        )
    return "".join(out)


def render_html(report: DailyReport) -> str:
    """The day's report as one self-contained HTML page (inline CSS and SVG only)."""
    k = report.trend_k
    scope = f" · segment {report.segment}" if report.segment else ""
    title = f"judge-monitor report {report.day.isoformat()}{scope}"
    frozen = "".join(
        f" The baseline of {_e(seg)} is frozen: its days from {since} on are out of control "
        "(an alert held) and stay out until quality comes back or the new level is accepted."
        for seg, since in report.frozen_since.items()
    )
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p class=\"sub\">Baseline: each figure's mean over its segment's last "
        f"{report.baseline_days} in-control days (all traffic: {report.baseline_start} … "
        f"{report.baseline_end}; shaded in the charts). CIs are 95% (weighted bootstrap over "
        f"the day's sampled queries).{frozen}</p>",
        f'<h2 id="changed">What changed</h2>{_changed(report)}',
        f'<h2 id="headline">Headline figures vs baseline</h2>'
        f"{_figures_table(report.headline, with_section=False)}",
        f'<h2 id="trends">nDCG@{k} by segment</h2>{_trends(report)}',
        f'<h2 id="health">Judge health</h2>{_health(report)}',
        f'<h2 id="grades">Ensemble grades today vs baseline</h2>{_grades(report)}',
        f'<h2 id="worst">The worst queries of the day</h2><h3>Lowest nDCG@{k}</h3>'
        + _queries(report.worst, k, empty="No query of the day has a judged result.")
        + f"<h3>Biggest drops against their own history (nDCG@{k})</h3>"
        + _queries(
            report.drops,
            k,
            empty="No query sampled today was also sampled in the baseline window with a "
            "higher nDCG.",
        ),
        f'<h2 id="disagreements">The judges\' biggest disagreements</h2>{_disagreements(report)}',
        f'<h2 id="all">Every figure</h2><details><summary>{len(report.lines)} figures of '
        f"{report.day} against their baseline</summary>"
        f"{_figures_table(report.lines, with_section=True)}</details>",
    ]
    # a table wider than a phone scrolls inside its own box, not the page
    content = "".join(body).replace("<table", '<div class="scroll"><table')
    content = content.replace("</table>", "</table></div>")
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>{content}</body></html>"
    )
