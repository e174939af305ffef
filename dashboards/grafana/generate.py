"""Write the Grafana dashboards of judge-monitor as JSON, with Grafana's own Python SDK.

The dashboards are built with ``grafana-foundation-sdk`` (pinned to its Grafana 11.1
build, the Grafana the compose stack runs: ``grafana-foundation-sdk==1769699681!11.1.0``)
and written as JSON with sorted keys, so uids and panel ids never move (alerts link to
``/d/<uid>?viewPanel=<id>``) and a diff shows only what changed. Thresholds drawn on the
panels are read from the alert rules (``monitor.export.rules``), the one place they are
written. Run it after editing this file:

    python dashboards/grafana/generate.py            # rewrite the JSON files
    python dashboards/grafana/generate.py --check    # exit 1 if a file is stale

What the SDK cannot express is added to its output in ``_finish``: the Prometheus
annotation fields (``step``, ``titleFormat``, ``textFormat``, ``tagKeys``) and a query
variable's ``definition``.

Each board reads in seconds: Search quality opens on a headline row (today against the
baseline, red where an alert would fire) and the segments ranked by their drop, then
one nDCG@10 panel per segment with its CI as a shaded band, the baseline, the alert line
(baseline minus the margin) and the floor; daily figures are drawn as one point a day.
Every board annotates firing alerts, change points, judge model/prompt changes and new
days of figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, table, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from monitor.export.rules import rules_by_name

__all__ = ["DASHBOARDS", "GRAFANA_SDK", "build_all", "main", "render"]

HERE = Path(__file__).resolve().parent
GRAFANA_SDK = "grafana-foundation-sdk==1769699681!11.1.0"
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
SEG = 'segment=~"$segment"'
JUDGE = 'judge=~"$judge"'
Q10 = f'{SEG},judge=~"$judge",k="10"'
RULES = rules_by_name()


def threshold(alert: str, index: int = 0) -> float:
    """The ``index``-th ``# threshold:`` literal of an alert rule."""
    return RULES[alert].thresholds[index]


MARGIN = threshold("JudgeMonitorQualityDropVsBaseline")
FLOOR = threshold("JudgeMonitorQualityBelowFloor")
CUSUM = threshold("JudgeMonitorChangePoint")
PANEL_MARGIN = threshold("JudgeMonitorPanelDrop")


def _query(expr: str, legend: str, ref: str, *, instant: bool = False) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DS)
    if instant:
        q = q.instant().format(pm.PromQueryFormat.TABLE)
    return q


def _steps(pairs: list[tuple[str, float | None]]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(color=color, value=value) for color, value in pairs])
    )


def _line(
    pid: int,
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "none",
    minimum: float | None = None,
    maximum: float | None = None,
    limit: float | None = None,
    below_is_bad: bool = False,
    width: int = 12,
) -> timeseries.Panel:
    """A daily series: one point a day joined by lines; ``limit`` draws the alert's line."""
    panel = (
        timeseries.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(DS)
        .span(width)
        .height(8)
        .unit(unit)
        .interval("1d")  # one point a day: the figures are daily
        .draw_style(cm.GraphDrawStyle.LINE)
        .line_interpolation(cm.LineInterpolation.LINEAR)
        .show_points(cm.VisibilityMode.ALWAYS)
        .point_size(6)
        .line_width(2)
        .span_nulls(True)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.TABLE)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.NONE))
    )
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + i)))
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if limit is None:
        return panel.thresholds(_steps([("green", None)]))
    pairs = [("red", None), ("green", limit)] if below_is_bad else [("green", None), ("red", limit)]
    return panel.thresholds(_steps(pairs)).thresholds_style(
        cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.DASHED)
    )


def _stat(
    pid: int,
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "none",
    steps: list[tuple[str, float | None]] | None = None,
    width: int = 6,
    height: int = 5,
) -> stat.Panel:
    panel = (
        stat.Panel()
        .id(pid)
        .title(title)
        .description(description)
        .datasource(DS)
        .span(width)
        .height(height)
        .unit(unit)
        .decimals(3)
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.AREA)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .thresholds(_steps(steps or [("green", None)]))
    )
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(_query(expr, legend, chr(ord("A") + i)))
    return panel


def _props(**values: object) -> list[dm.DynamicConfigValue]:
    return [dm.DynamicConfigValue(id_val=k.replace("__", "."), value=v) for k, v in values.items()]


def _with_band(pid: int, metric: str, k: str, title: str, description: str) -> timeseries.Panel:
    """A segment's daily figure, its 95% CI as a shaded band, the baseline and, for
    nDCG@10, the alert line (baseline − margin) and the floor. Repeated per segment."""
    sel = f'{SEG},judge=~"$judge",k="{k}"'
    targets = [
        (f"{metric}{{{sel}}}", "$segment"),
        (f"{metric}_ci_lower{{{sel}}}", "CI low"),
        (f"{metric}_ci_upper{{{sel}}}", "CI high"),
        (f"{metric}_baseline{{{sel}}}", "baseline"),
    ]
    alert_line = metric == "judge_monitor_ndcg" and k == "10"
    if alert_line:
        targets.append((f"{metric}_baseline{{{sel}}} - {MARGIN}", "alert line"))
    panel = _line(
        pid,
        title,
        description,
        targets,
        unit="percentunit" if "precision" in metric else "none",
        minimum=0,
        maximum=1,
        limit=FLOOR if alert_line else None,
        below_is_bad=True,
    ).repeat("segment")
    bound = _props(custom__lineWidth=0, custom__showPoints="never", custom__hideFrom={
        "legend": True, "tooltip": False, "viz": False})  # fmt: skip
    panel = panel.override_by_name("CI low", bound)
    panel = panel.override_by_name(
        "CI high", [*bound, *_props(custom__fillBelowTo="CI low", custom__fillOpacity=25)]
    )
    gray = {"fixedColor": "gray", "mode": "fixed"}
    dashed = {"dash": [10, 10], "fill": "dash"}
    panel = panel.override_by_name(
        "baseline", _props(color=gray, custom__lineStyle=dashed, custom__showPoints="never")
    )
    red = {"fixedColor": "red", "mode": "fixed"}
    dotted = {"dash": [2, 6], "fill": "dot"}
    return panel.override_by_name(
        "alert line", _props(color=red, custom__lineStyle=dotted, custom__showPoints="never")
    )


def _variables(judge_metric: str, judge_default: str) -> list[Any]:
    def query_var(name: str, label: str, definition: str, default: str) -> Any:
        return (
            db.QueryVariable(name)
            .label(label)
            .datasource(DS)
            .query({"qryType": 1, "query": definition, "refId": "PrometheusVariableQueryEditor"})
            .current(dm.VariableOption(selected=True, text=[default], value=[default]))
            .multi(True)
            .include_all(True)
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
        )

    return [
        db.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        query_var("segment", "Segment", "label_values(judge_monitor_ndcg, segment)", "all"),
        # the rows human labels correct are drawn by their own panel, not as judges
        query_var(
            "judge",
            "Judge",
            f'label_values({judge_metric}{{judge!~"corrected|humans"}}, judge)',
            judge_default,
        ),
    ]


#: (name, colour, expr, title format, text format): on every board
ANNOTATIONS = [
    (
        "Alerts",
        "red",
        'ALERTS{alertname=~"JudgeMonitor.*",alertstate="firing"}',
        "{{alertname}}",
        "{{severity}} · segment {{segment}} · judge {{judge}}",
    ),
    (
        "Change points",
        "orange",
        f'judge_monitor_changepoint_cusum{{k="10"}} > {CUSUM:g}',
        "Change point",
        "CUSUM above {CUSUM} in segment {{segment}}".replace("{CUSUM}", f"{CUSUM:g}"),
    ),
    (
        "Judge changes",
        "purple",
        "judge_monitor_judge_info unless judge_monitor_judge_info offset 1h",
        "Judge {{judge}} changed",
        "model {{model}} · prompt {{prompt_version}} · endpoint {{endpoint_host}}",
    ),
    (
        "New day of figures",
        "blue",
        "changes(judge_monitor_metrics_date_timestamp_seconds[10m]) > 0",
        "Daily run: new figures",
        "the daily run stored a new day",
    ),
]


def _dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Any],
    judge_metric: str,
    judge_default: str = "$__all",
) -> dict[str, Any]:
    board = (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["judge-monitor"])
        .editable()
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .time("now-30d", "now")
        .timezone("utc")
        .refresh("5m")
        .version(1)
        .link(
            db.DashboardLink("judge-monitor")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["judge-monitor"])
            .icon("external link")
            .as_dropdown(False)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for variable in _variables(judge_metric, judge_default):
        board = board.with_variable(variable)
    for name, colour, expr, _title, _text in ANNOTATIONS:
        board = board.annotation(
            db.AnnotationQuery()
            .name(name)
            .datasource(DS)
            .enable(True)
            .icon_color(colour)
            .expr(expr)
        )
    x = y = row_h = 0
    for panel in panels:
        built = panel.build()
        w, h = built.grid_pos.w, built.grid_pos.h
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        panel = panel.grid_pos(dm.GridPos(h=h, w=w, x=x, y=y))
        x, row_h = x + w, max(row_h, h)
        board = board.with_panel(panel)
    return _finish(json.loads(json.dumps(board.build(), cls=JSONEncoder)))


def _finish(board: dict[str, Any]) -> dict[str, Any]:
    """Add what the SDK's models cannot hold: Prometheus annotation formats and step, and
    each query variable's ``definition`` (what Grafana shows as the query)."""
    for item, (_name, _colour, _expr, title, text) in zip(
        board["annotations"]["list"], ANNOTATIONS, strict=True
    ):
        item.update({"step": "1h", "titleFormat": title, "textFormat": text, "tagKeys": ""})
    for variable in board["templating"]["list"]:
        if variable.get("type") == "query":
            variable["definition"] = variable["query"]["query"]
    board["schemaVersion"] = 39
    return board


def _headline() -> list[Any]:
    """Today against the baseline for the headline figures, red where an alert would fire."""
    sel = f'{SEG},judge=~"$judge"'
    drop = [("red", None), ("orange", -MARGIN), ("green", -MARGIN / 2)]
    return [
        _stat(
            11,
            "nDCG@10 today",
            f"The latest day's nDCG@10; red below the floor of {FLOOR:g}.",
            [(f'judge_monitor_ndcg{{{sel},k="10"}}', "{{segment}}")],
            steps=[("red", None), ("green", FLOOR)],
        ),
        _stat(
            12,
            "nDCG@10 vs baseline",
            f"Today minus the baseline (the segment's in-control days); red below −{MARGIN:g}, "
            "where the quality-drop page fires (when the CI is below the baseline too).",
            [
                (
                    f'judge_monitor_ndcg{{{sel},k="10"}}'
                    f' - judge_monitor_ndcg_baseline{{{sel},k="10"}}',
                    "{{segment}}",
                )
            ],
            steps=drop,
        ),
        _stat(
            13,
            "Precision@10 vs baseline",
            "Today minus the baseline of precision@10.",
            [
                (
                    f'judge_monitor_precision{{{sel},k="10"}} - '
                    f'judge_monitor_precision_baseline{{{sel},k="10"}}',
                    "{{segment}}",
                )
            ],
            steps=drop,
        ),
        _stat(
            14,
            "Bad top-1 vs baseline",
            "Today minus the baseline of the share of queries whose first result is "
            "irrelevant (up is worse).",
            [
                (
                    f"judge_monitor_bad_top1_rate{{{sel}}} - judge_monitor_bad_top1_rate_baseline"
                    f"{{{sel}}}",
                    "{{segment}}",
                )
            ],
            steps=[("green", None), ("orange", MARGIN / 2), ("red", MARGIN)],
        ),
    ]


def _ranked() -> table.Panel:
    """The segments ranked by their nDCG@10 drop against the baseline (biggest first)."""
    today = 'judge_monitor_ndcg{judge="ensemble",k="10"}'
    base = 'judge_monitor_ndcg_baseline{judge="ensemble",k="10"}'
    link = db.DashboardLink("Open ${__data.fields.segment}").url(
        "/d/jm-search-quality?var-segment=${__data.fields.segment}&${__url_time_range}"
    )
    return (
        table.Panel()
        .id(15)
        .title("Segments ranked by drop (nDCG@10)")
        .description(
            f"Baseline minus today per segment, biggest drop first; red above {MARGIN:g}. "
            "Click a segment to open its panels."
        )
        .datasource(DS)
        .span(24)
        .height(7)
        .with_target(_query(f"sort_desc({base} - {today})", "{{segment}}", "A", instant=True))
        .with_target(_query(today, "{{segment}}", "B", instant=True))
        .with_target(_query(base, "{{segment}}", "C", instant=True))
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="merge", options={}, disabled=None, filter_val=None, topic=None
            )
        )
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "judge": True, "k": True, "locale": True},
                    "renameByName": {
                        "Value #A": "drop",
                        "Value #B": "today",
                        "Value #C": "baseline",
                    },
                    "indexByName": {"segment": 0, "Value #A": 1, "Value #B": 2, "Value #C": 3},
                },
                disabled=None,
                filter_val=None,
                topic=None,
            )
        )
        .sort_by([cb.TableSortByFieldState().display_name("drop").desc(True)])
        .decimals(3)
        .thresholds(_steps([("green", None), ("orange", MARGIN / 2), ("red", MARGIN)]))
        .override_by_name("drop", _props(custom__cellOptions={"type": "color-background"}))
        .override_by_name("segment", _props(links=[link.build()]))
    )


def _judge_vs_corrected(pid: int) -> timeseries.Panel:
    """The judge-only nDCG@10 (the headline pooled ``ndcg``, of the judge variable's
    judge, the ensemble by default) beside the same figure corrected by human labels
    (judge="corrected", with its 95% CI band): a widening gap is a judge drifting away
    from what people see. Repeated per segment.

    The corrected line is drawn where the judge-only one is (``and ignoring (judge)``),
    so the judge variable still drives the panel."""
    judge_only = f'judge_monitor_ndcg{{{SEG},judge=~"$judge",judge!~"corrected|humans",k="10"}}'
    shown = f' and ignoring (judge) judge_monitor_ndcg{{{SEG},judge=~"$judge",k="10"}}'
    corrected = f'{SEG},judge="corrected",k="10"'
    panel = _line(
        pid,
        "Judge-only vs corrected nDCG@10 — $segment",
        "The judges' nDCG@10 (judge-only) and the same figure corrected by human labels "
        "(PPI++, docs/calibration.md) with its 95% CI band; the human side's ideal is every "
        "human label stored for the query. Empty where no labels are stored (judge-monitor "
        "labels export --for-annotation, then labels import).",
        [
            (judge_only, "judge-only ({{judge}})"),
            (f"judge_monitor_ndcg{{{corrected}}}{shown}", "corrected"),
            (f"judge_monitor_ndcg_ci_lower{{{corrected}}}{shown}", "corrected CI low"),
            (f"judge_monitor_ndcg_ci_upper{{{corrected}}}{shown}", "corrected CI high"),
        ],
        minimum=0,
        maximum=1,
    ).repeat("segment")
    bound = _props(custom__lineWidth=0, custom__showPoints="never", custom__hideFrom={
        "legend": True, "tooltip": False, "viz": False})  # fmt: skip
    panel = panel.override_by_name("corrected CI low", bound)
    return panel.override_by_name(
        "corrected CI high",
        [*bound, *_props(custom__fillBelowTo="corrected CI low", custom__fillOpacity=25)],
    )


def search_quality() -> dict[str, Any]:
    bands = [
        _with_band(
            1,
            "judge_monitor_ndcg",
            "10",
            "nDCG@10 — $segment",
            "Daily nDCG@10 with its 95% CI (band), the baseline (gray dashes: the mean of the "
            "segment's in-control days), the alert line (red dots: baseline minus the "
            f"margin {MARGIN:g}) and the floor {FLOOR:g} (dashed threshold).",
        ),
        _with_band(2, "judge_monitor_ndcg", "3", "nDCG@3 — $segment",
                   "Head-of-list quality: nDCG@3 with its 95% CI band and the baseline."),
        _with_band(3, "judge_monitor_precision", "10", "Precision@10 — $segment",
                   "Share of the top 10 graded relevant, with its 95% CI band and baseline."),
        _with_band(4, "judge_monitor_precision", "3", "Precision@3 — $segment",
                   "Share of the top 3 graded relevant, with its 95% CI band and baseline."),
        _judge_vs_corrected(16),
    ]  # fmt: skip
    sel = f'{SEG},judge=~"$judge"'
    overall = 'segment="all",judge=~"$judge",k="10"'  # what CUPED is computed for
    rest = [
        _line(5, "Bad top-1 rate", "Share of queries whose first result is irrelevant (0).",
              [(f"judge_monitor_bad_top1_rate{{{sel}}}", "{{segment}}"),
               (f"judge_monitor_bad_top1_rate_baseline{{{sel}}}", "{{segment}} baseline")],
              unit="percentunit", minimum=0, width=8),
        _line(6, "No-relevant rate", "Share of queries with no relevant result in the list.",
              [(f"judge_monitor_no_relevant_rate{{{sel}}}", "{{segment}}")],
              unit="percentunit", minimum=0, width=8),
        _line(7, "Mean grade", "Mean ensemble grade of the judged results (0 … 3).",
              [(f"judge_monitor_mean_grade{{{sel}}}", "{{segment}}")],
              minimum=0, maximum=3, width=8),
        _line(8, "Change point: CUSUM on nDCG@10",
              f"CUSUM of daily nDCG@10 in baseline standard deviations; above {CUSUM:g} a "
              "shift is declared (dashed line).",
              [(f'judge_monitor_changepoint_cusum{{{SEG},k="10"}}', "{{segment}}")],
              minimum=0, limit=CUSUM, width=16),
        _stat(9, "Shift started", "How long before the latest day the detected shift began.",
              [(f"judge_monitor_changepoint_start_age_seconds{{{SEG}}}", "{{segment}}")],
              unit="s", width=8, height=8),
        _line(17, "Paired panel: nDCG@10 change against each query's own past",
              "Only with a paired panel (sampling.panel_share > 0): the mean over the panel's "
              "head queries of today's nDCG@10 minus the same query's recent mean, with its "
              "95% CI; the alert pages when the whole CI is below zero and the mean below "
              f"{PANEL_MARGIN:g} (dashed line).",
              [(f'judge_monitor_panel_ndcg_change{{{sel},k="10"}}', "{{segment}} change"),
               (f'judge_monitor_panel_ndcg_change_ci_lower{{{sel},k="10"}}', "CI low"),
               (f'judge_monitor_panel_ndcg_change_ci_upper{{{sel},k="10"}}', "CI high")],
              limit=PANEL_MARGIN, below_is_bad=True, width=24),
        _line(18, "nDCG@10 with CUPED: the draw's luck taken out",
              "Only with the setting cuped on: the day's nDCG@10 with each query's own recent "
              "days as a control variate, its 95% CI, next to the headline nDCG@10 (segment "
              "all only). It moves less from day to day and reads a regression at about its true "
              "size; see docs/detection-power.md.",
              [(f'judge_monitor_ndcg_cuped{{{overall}}}', "CUPED"),
               (f'judge_monitor_ndcg_cuped_ci_lower{{{overall}}}', "CI low"),
               (f'judge_monitor_ndcg_cuped_ci_upper{{{overall}}}', "CI high"),
               (f'judge_monitor_ndcg{{{overall}}}', "headline nDCG@10")],
              minimum=0, maximum=1, width=24),
        _line(10, "Unjudged share",
              "Share of sampled results without a valid ensemble grade; high values make "
              "every quality figure less certain.",
              [(f"judge_monitor_unjudged_share{{{sel}}}", "{{segment}}")],
              unit="percentunit", minimum=0, width=24),
    ]  # fmt: skip
    return _dashboard(
        "jm-search-quality",
        "judge-monitor / Search quality",
        "Daily search quality as the judge ensemble grades it: today against the baseline, "
        "segments ranked by drop, each segment's figures with their CI.",
        [*_headline(), _ranked(), *bands, *rest],
        "judge_monitor_ndcg",
        "ensemble",
    )


def judges() -> dict[str, Any]:
    alpha = threshold("JudgeMonitorJudgeDisagreement")
    kappa = threshold("JudgeMonitorJudgeHumanKappaLow")
    f1 = threshold("JudgeMonitorJudgeHumanF1Low")
    invalid = threshold("JudgeMonitorInvalidAnswers")
    canary = threshold("JudgeMonitorJudgeChanged")
    p = [
        _line(1, "Inter-judge agreement (Krippendorff's alpha)",
              f"Ordinal alpha across the ensemble; below {alpha:g} the ensemble is unreliable.",
              [(f'judge_monitor_krippendorff_alpha{{{SEG},judge="ensemble"}}', "{{segment}}")],
              minimum=-1, maximum=1, limit=alpha, below_is_bad=True),
        _line(2, "Pairwise Cohen's kappa", "Weighted kappa for each pair of judges (a~b).",
              [(f'judge_monitor_cohen_kappa{{{SEG},judge=~".*~.*"}}', "{{judge}} {{segment}}")],
              minimum=-1, maximum=1),
        _line(3, "Agreement with human labels (kappa)",
              f"Weighted kappa of each judge against human labels; below {kappa:g} a ticket.",
              [(f"judge_monitor_human_kappa{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              minimum=-1, maximum=1, limit=kappa, below_is_bad=True),
        _line(4, "Agreement with human labels (P / R / F1 at grade ≥ 2)",
              f"Precision, recall and F1 of 'relevant' against human labels; F1 below {f1:g}.",
              [(f'judge_monitor_human_precision{{{SEG},{JUDGE},k="2"}}', "{{judge}} P"),
               (f'judge_monitor_human_recall{{{SEG},{JUDGE},k="2"}}', "{{judge}} R"),
               (f'judge_monitor_human_f1{{{SEG},{JUDGE},k="2"}}', "{{judge}} F1")],
              minimum=0, maximum=1, limit=f1, below_is_bad=True),
        _line(5, "Rank agreement with humans (Kendall tau, Spearman rho)",
              "Rank correlation between judge grades and human grades.",
              [(f"judge_monitor_human_tau{{{SEG},{JUDGE}}}", "{{judge}} tau"),
               (f"judge_monitor_human_rho{{{SEG},{JUDGE}}}", "{{judge}} rho")],
              minimum=-1, maximum=1),
        _line(6, "Length bias (Spearman rho of grade vs result length)",
              "Near 0 is good; a judge that grades long results higher drifts positive.",
              [(f"judge_monitor_length_bias_rho{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              minimum=-1, maximum=1),
        _line(7, "Position consistency (pairwise, both orders)",
              "Share of pairwise verdicts that agree when A and B swap places.",
              [(f"judge_monitor_position_consistency{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              unit="percentunit", minimum=0, maximum=1),
        _line(8, "Invalid answer rate",
              f"Share of answers invalid after retries; above {invalid:.0%} a ticket.",
              [(f"judge_monitor_invalid_rate{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              unit="percentunit", minimum=0, limit=invalid),
        _line(9, "Latency per call", "Mean judge call latency.",
              [(f"judge_monitor_latency_seconds{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              unit="s", minimum=0, width=8),
        _line(10, "Tokens", "Input and output tokens each judge spent on the day.",
              [(f"judge_monitor_input_tokens{{{SEG},{JUDGE}}}", "{{judge}} in"),
               (f"judge_monitor_output_tokens{{{SEG},{JUDGE}}}", "{{judge}} out")],
              unit="short", minimum=0, width=8),
        _line(11, "Cost (USD)", "Judge spend per day and its baseline; twice it is a ticket.",
              [(f"judge_monitor_cost_dollars{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}"),
               (f"judge_monitor_cost_dollars_baseline{{{SEG},{JUDGE}}}", "{{judge}} baseline")],
              unit="currencyUSD", minimum=0, width=8),
        _line(12, "Verdict cache hit rate", "Share of verdicts served from the verdict cache.",
              [(f"judge_monitor_cache_hit_rate{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              unit="percentunit", minimum=0, maximum=1),
        _stat(13, "Judges as configured",
              "Each judge's model, prompt version and endpoint host (judge_monitor_judge_info); "
              "a change is annotated on every board.",
              [(f"judge_monitor_judge_info{{{JUDGE}}}",
                "{{judge}}: {{model}} · {{prompt_version}} · {{endpoint_host}}")],
              width=12, height=8),
        _line(14, "Judge canary: anchors graded differently",
              "Share of the canary's fixed anchors (re-judged daily without the cache) each "
              f"judge graded differently from its first days; above {canary:.0%} the judge "
              "changed behind its name (JudgeMonitorJudgeChanged).",
              [(f"judge_monitor_canary_changed_share{{{JUDGE}}}", "{{judge}}"),
               (f"judge_monitor_canary_grade_shift{{{JUDGE}}}", "{{judge}} grade shift")],
              unit="percentunit", minimum=0, limit=canary, width=24),
    ]  # fmt: skip
    return _dashboard(
        "jm-judges",
        "judge-monitor / Judges",
        "Judge health: agreement between judges and with humans, the canary, biases, cost.",
        p,
        "judge_monitor_invalid_rate",
    )


def drift() -> dict[str, Any]:
    psi = threshold("JudgeMonitorGradeDrift")
    p = [
        _line(1, "Grade distribution PSI",
              f"Population stability index of grades against the baseline; above {psi:g} "
              "a ticket (per-judge drift is inhibited while the ensemble's fires).",
              [(f"judge_monitor_grade_psi{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              minimum=0, limit=psi),
        _line(2, "Grade distribution chi-square p-value",
              "Small p-values mean the grade distribution differs from the baseline.",
              [(f"judge_monitor_grade_chi2_pvalue{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
              minimum=0, maximum=1),
        _line(3, "Query mix PSI", "PSI of the segment mix against the baseline window.",
              [(f"judge_monitor_query_mix_psi{{{SEG}}}", "{{segment}}")],
              minimum=0, limit=psi, width=8),
        _line(4, "Query length KS statistic",
              "Kolmogorov-Smirnov distance of query lengths, today vs the baseline.",
              [(f"judge_monitor_query_length_ks{{{SEG}}}", "{{segment}}")],
              minimum=0, maximum=1, width=8),
        _line(5, "New query share",
              "Share of today's searches whose query was not seen in the baseline window.",
              [(f"judge_monitor_new_query_share{{{SEG}}}", "{{segment}}")],
              unit="percentunit", minimum=0, maximum=1, width=8),
    ]  # fmt: skip
    return _dashboard(
        "jm-drift",
        "judge-monitor / Drift",
        "Drift of grades and of the query mix against the baseline window.",
        p,
        "judge_monitor_grade_psi",
    )


def pipeline() -> dict[str, Any]:
    stale = threshold("JudgeMonitorPipelineStale") * 3600
    p = [
        _stat(1, "Last successful daily run (age)",
              f"Time since the daily flow last succeeded; above {stale / 3600:g} h it is stale.",
              [('time() - judge_monitor_last_success_timestamp_seconds{flow="daily"}', "daily")],
              unit="s", steps=[("green", None), ("orange", 86400), ("red", stale)]),
        _stat(2, "Last run", "How the latest run of each flow ended (1 = this status).",
              [("judge_monitor_last_run_status == 1", "{{flow}}: {{status}}"),
               ("judge_monitor_last_run_success", "{{flow}} succeeded")],
              steps=[("red", None), ("green", 1)]),
        _stat(3, "Exporter up",
              "Prometheus can scrape the exporter (up) and the exporter can read Postgres.",
              [('up{job="judge_monitor_exporter"}', "scrape"), ("judge_monitor_up", "database")],
              steps=[("red", None), ("green", 1)]),
        _stat(4, "Metrics day (age)", "Age of the latest day in daily_metrics.",
              [("time() - judge_monitor_metrics_date_timestamp_seconds", "latest day")],
              unit="s", steps=[("green", None), ("orange", 129600), ("red", 172800)]),
        _line(5, "Run duration", "Duration of the latest run of each flow.",
              [("judge_monitor_run_duration_seconds", "{{flow}}"),
               ("judge_monitor_flow_duration_seconds", "{{flow}} (pushed)")],
              unit="s", minimum=0),
        _line(6, "Verdicts per run", "Verdicts of the latest run: judged (paid), cached, invalid.",
              [("judge_monitor_run_verdicts", "{{flow}} {{kind}}"),
               ("judge_monitor_flow_verdicts", "{{flow}} {{kind}} (pushed)")],
              unit="short", minimum=0),
        _line(7, "Run cost (USD)", "What the latest run of each flow paid the judge endpoints.",
              [("judge_monitor_run_cost_dollars", "{{flow}}"),
               ("judge_monitor_flow_cost_dollars", "{{flow}} (pushed)")],
              unit="currencyUSD", minimum=0, width=8),
        _line(8, "Bad source rows", "Rows the source could not read in the latest run.",
              [("judge_monitor_run_bad_rows", "{{flow}}")], unit="short", minimum=0, width=8),
        _line(9, "Exporter scrape errors", "Scrapes in which the exporter could not read Postgres.",
              [("increase(judge_monitor_scrape_errors_total[1h])", "errors / 1h")],
              unit="short", minimum=0, width=8),
        _line(10, "Failed judge calls",
              "Calls of the latest run that got no answer after the retries (the run is "
              "degraded; a rerun of the day asks them again) and invalid answers.",
              [('judge_monitor_run_verdicts{kind="failed"}', "{{flow}} failed"),
               ('judge_monitor_run_verdicts{kind="invalid"}', "{{flow}} invalid")],
              unit="short", minimum=0),
        _line(11, "Results graded by part of the ensemble",
              "Share of the day's results whose ensemble grade lacks a judge (its call failed "
              "or was invalid): figures on such a day rest on fewer judges.",
              [('judge_monitor_partial_ensemble_share{segment="all"}', "partial ensemble")],
              unit="percentunit", minimum=0, maximum=1),
        _line(12, "Fresh lists judged under the paid-call ceiling",
              "With sampling.paid_calls_per_day set: the share of the day's fresh lists "
              "needing paid calls that were judged (1: the day fitted); below 1, those "
              "judged stand for the rest, and the day's CIs are wider.",
              [('judge_monitor_ceiling_judged_share{segment="all"}', "judged share")],
              unit="percentunit", minimum=0, maximum=1),
    ]  # fmt: skip
    return _dashboard(
        "jm-pipeline",
        "judge-monitor / Pipeline",
        "Is the daily pipeline running: last success, run status, durations, verdicts, cost, "
        "failed calls.",
        p,
        "judge_monitor_last_run_success",
    )


DASHBOARDS = {
    "search_quality.json": search_quality,
    "judges.json": judges,
    "drift.json": drift,
    "pipeline.json": pipeline,
}


def render(dashboard: dict[str, Any]) -> str:
    """The exact text committed: sorted keys, two-space indent, trailing newline."""
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def build_all() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    stale = []
    for name, text in build_all().items():
        path = HERE / name
        if check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale dashboards (run {Path(__file__).name}): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
