"""Write the Grafana dashboards of judge-monitor as JSON, reproducibly.

Dashboards are generated rather than hand-edited so that uids and panel ids never move
(alert annotations link to ``/d/<uid>?viewPanel=<id>``) and the committed JSON has
sorted keys, so a diff shows only what changed. Run it after editing this file:

    python dashboards/grafana/generate.py            # rewrite the JSON files
    python dashboards/grafana/generate.py --check    # exit 1 if a file is stale

It uses only the standard library so it runs without the project installed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["DASHBOARDS", "build_all", "main", "render"]

HERE = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
SEG = 'segment=~"$segment"'
JUDGE = 'judge=~"$judge"'

Panel = dict[str, Any]


def _target(expr: str, legend: str, ref: str) -> dict[str, Any]:
    return {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": ref}


def _timeseries(
    pid: int,
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "none",
    minimum: float | None = None,
    maximum: float | None = None,
    threshold: float | None = None,
    threshold_below: bool = False,
    overrides: list[dict[str, Any]] | None = None,
    width: int = 12,
) -> Panel:
    """A time series; ``threshold`` draws the alert line the rule files use."""
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if threshold is not None:
        steps = (
            [{"color": "red", "value": None}, {"color": "green", "value": threshold}]
            if threshold_below
            else [{"color": "green", "value": None}, {"color": "red", "value": threshold}]
        )
    defaults: dict[str, Any] = {
        "custom": {
            "drawStyle": "line",
            "fillOpacity": 0,
            "lineWidth": 2,
            "showPoints": "auto",
            "spanNulls": True,
            "thresholdsStyle": {"mode": "line" if threshold is not None else "off"},
        },
        "thresholds": {"mode": "absolute", "steps": steps},
        "unit": unit,
    }
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "gridPos": {"h": 8, "w": width, "x": 0, "y": 0},
        "id": pid,
        "options": {
            "legend": {"displayMode": "table", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "none"},
        },
        "targets": [
            _target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)
        ],
        "title": title,
        "type": "timeseries",
    }


def _stat(
    pid: int,
    title: str,
    description: str,
    targets: list[tuple[str, str]],
    *,
    unit: str = "none",
    steps: list[tuple[str, float | None]] | None = None,
    width: int = 6,
) -> Panel:
    return {
        "datasource": DS,
        "description": description,
        "fieldConfig": {
            "defaults": {
                "thresholds": {
                    "mode": "absolute",
                    "steps": [
                        {"color": color, "value": value}
                        for color, value in (steps or [("green", None)])
                    ],
                },
                "unit": unit,
            },
            "overrides": [],
        },
        "gridPos": {"h": 6, "w": width, "x": 0, "y": 0},
        "id": pid,
        "options": {
            "colorMode": "background",
            "graphMode": "none",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "textMode": "auto",
        },
        "targets": [
            _target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(targets)
        ],
        "title": title,
        "type": "stat",
    }


def _ci_overrides() -> list[dict[str, Any]]:
    """Draw the CI bounds (query refs B and C) as thin dashed lines under the estimate."""
    style = [
        {"id": "custom.lineStyle", "value": {"dash": [4, 4], "fill": "dash"}},
        {"id": "custom.lineWidth", "value": 1},
        {"id": "custom.fillOpacity", "value": 8},
    ]
    baseline = [
        {"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
        {"id": "color", "value": {"fixedColor": "gray", "mode": "fixed"}},
    ]
    return [
        {"matcher": {"id": "byFrameRefID", "options": "B"}, "properties": style},
        {"matcher": {"id": "byFrameRefID", "options": "C"}, "properties": style},
        {"matcher": {"id": "byFrameRefID", "options": "D"}, "properties": baseline},
    ]


def _with_ci(pid: int, metric: str, k: str, title: str, description: str) -> Panel:
    sel = f'{SEG},judge="ensemble",k="{k}"'
    return _timeseries(
        pid,
        title,
        description,
        [
            (f"{metric}{{{sel}}}", "{{segment}}"),
            (f"{metric}_ci_lower{{{sel}}}", "{{segment}} 95% CI low"),
            (f"{metric}_ci_upper{{{sel}}}", "{{segment}} 95% CI high"),
            (f"{metric}_baseline{{{sel}}}", "{{segment}} 7-day baseline"),
        ],
        unit="percentunit" if "precision" in metric else "none",
        minimum=0,
        maximum=1,
        overrides=_ci_overrides(),
    )


def _variables(judge_metric: str) -> dict[str, Any]:
    def query_var(name: str, label: str, query: str, default: str) -> dict[str, Any]:
        return {
            "current": {"selected": True, "text": [default], "value": [default]},
            "datasource": DS,
            "definition": query,
            "includeAll": True,
            "label": label,
            "multi": True,
            "name": name,
            "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor"},
            "refresh": 2,
            "sort": 1,
            "type": "query",
        }

    return {
        "list": [
            {
                "current": {},
                "hide": 0,
                "label": "Data source",
                "name": "datasource",
                "query": "prometheus",
                "refresh": 1,
                "type": "datasource",
            },
            query_var("segment", "Segment", "label_values(judge_monitor_ndcg, segment)", "all"),
            query_var("judge", "Judge", f"label_values({judge_metric}, judge)", "$__all"),
        ]
    }


def _layout(panels: list[Panel]) -> list[Panel]:
    """Flow panels left to right, top to bottom on Grafana's 24-column grid."""
    x = y = row_h = 0
    for panel in panels:
        pos = panel["gridPos"]
        if x + pos["w"] > 24:
            x, y, row_h = 0, y + row_h, 0
        pos["x"], pos["y"] = x, y
        x += pos["w"]
        row_h = max(row_h, pos["h"])
    return panels


def _dashboard(
    uid: str, title: str, description: str, panels: list[Panel], judge_metric: str
) -> dict[str, Any]:
    return {
        "annotations": {"list": []},
        "description": description,
        "editable": True,
        "graphTooltip": 1,
        "links": [
            {
                "asDropdown": False,
                "icon": "external link",
                "includeVars": True,
                "keepTime": True,
                "tags": ["judge-monitor"],
                "title": "judge-monitor",
                "type": "dashboards",
            }
        ],
        "panels": _layout(panels),
        "refresh": "5m",
        "schemaVersion": 39,
        "tags": ["judge-monitor"],
        "templating": _variables(judge_metric),
        "time": {"from": "now-30d", "to": "now"},
        "timezone": "utc",
        "title": title,
        "uid": uid,
        "version": 1,
    }


def search_quality() -> dict[str, Any]:
    p = [
        _with_ci(
            1,
            "judge_monitor_ndcg",
            "10",
            "nDCG@10 (ensemble)",
            "Weighted daily nDCG@10 per segment with its 95% CI and the 7-day baseline. "
            "A drop below the baseline by more than the alert margin pages.",
        ),
        _with_ci(
            2,
            "judge_monitor_ndcg",
            "3",
            "nDCG@3 (ensemble)",
            "Head-of-list quality: nDCG@3 per segment with 95% CI and 7-day baseline.",
        ),
        _with_ci(
            3,
            "judge_monitor_precision",
            "10",
            "Precision@10 (ensemble)",
            "Share of the top 10 graded relevant (grade ≥ the relevant grade), with 95% CI.",
        ),
        _with_ci(
            4,
            "judge_monitor_precision",
            "3",
            "Precision@3 (ensemble)",
            "Share of the top 3 graded relevant, with 95% CI.",
        ),
        _timeseries(
            5,
            "Bad top-1 rate",
            "Share of queries whose first result the ensemble graded irrelevant (0).",
            [
                (f'judge_monitor_bad_top1_rate{{{SEG},judge="ensemble"}}', "{{segment}}"),
                (
                    f'judge_monitor_bad_top1_rate_baseline{{{SEG},judge="ensemble"}}',
                    "{{segment}} 7-day baseline",
                ),
            ],
            unit="percentunit",
            minimum=0,
            width=8,
        ),
        _timeseries(
            6,
            "No-relevant rate",
            "Share of queries with no relevant result in the judged list.",
            [(f'judge_monitor_no_relevant_rate{{{SEG},judge="ensemble"}}', "{{segment}}")],
            unit="percentunit",
            minimum=0,
            width=8,
        ),
        _timeseries(
            7,
            "Mean grade",
            "Mean ensemble grade over all judged results (0 irrelevant … 3 perfect).",
            [(f'judge_monitor_mean_grade{{{SEG},judge="ensemble"}}', "{{segment}}")],
            minimum=0,
            maximum=3,
            width=8,
        ),
        _timeseries(
            8,
            "Change point: CUSUM on nDCG@10",
            "CUSUM of daily nDCG@10 in baseline standard deviations. Above 5 a shift is "
            "declared; the stat next to it says how many days ago it started.",
            [(f'judge_monitor_changepoint_cusum{{{SEG},k="10"}}', "{{segment}} {{judge}}")],
            minimum=0,
            threshold=5,
            width=16,
        ),
        _stat(
            9,
            "Shift started (days ago)",
            "Estimated start of the detected shift, in days before the latest metrics day.",
            [(f"judge_monitor_changepoint_start_days_ago{{{SEG}}}", "{{segment}}")],
            width=8,
        ),
        _timeseries(
            10,
            "Unjudged share",
            "Share of sampled results without a valid ensemble grade (invalid or missing "
            "verdicts). High values make every quality figure less certain.",
            [(f'judge_monitor_unjudged_share{{{SEG},judge="ensemble"}}', "{{segment}}")],
            unit="percentunit",
            minimum=0,
            width=24,
        ),
    ]
    return _dashboard(
        "jm-search-quality",
        "judge-monitor / Search quality",
        "Daily search quality as graded by the judge ensemble, per segment, with CIs.",
        p,
        "judge_monitor_invalid_rate",
    )


def judges() -> dict[str, Any]:
    p = [
        _timeseries(
            1,
            "Inter-judge agreement (Krippendorff's alpha)",
            "Ordinal alpha across the ensemble. Below 0.4 the judges disagree too much "
            "for the ensemble grade to be trusted.",
            [(f'judge_monitor_krippendorff_alpha{{{SEG},judge="ensemble"}}', "{{segment}}")],
            minimum=-1,
            maximum=1,
            threshold=0.4,
            threshold_below=True,
        ),
        _timeseries(
            2,
            "Pairwise Cohen's kappa",
            "Weighted kappa for each pair of judges (label judge = a~b).",
            [(f'judge_monitor_cohen_kappa{{{SEG},judge=~".*~.*"}}', "{{judge}} {{segment}}")],
            minimum=-1,
            maximum=1,
        ),
        _timeseries(
            3,
            "Agreement with human labels (kappa)",
            "Weighted kappa between each judge and the human labels. Below 0.4 a ticket opens.",
            [(f"judge_monitor_human_kappa{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            minimum=-1,
            maximum=1,
            threshold=0.4,
            threshold_below=True,
        ),
        _timeseries(
            4,
            "Agreement with human labels (P / R / F1 at grade ≥ 2)",
            "Precision, recall and F1 of 'relevant' (grade ≥ k) against human labels.",
            [
                (f'judge_monitor_human_precision{{{SEG},{JUDGE},k="2"}}', "{{judge}} P"),
                (f'judge_monitor_human_recall{{{SEG},{JUDGE},k="2"}}', "{{judge}} R"),
                (f'judge_monitor_human_f1{{{SEG},{JUDGE},k="2"}}', "{{judge}} F1"),
            ],
            minimum=0,
            maximum=1,
            threshold=0.5,
            threshold_below=True,
        ),
        _timeseries(
            5,
            "Rank agreement with humans (Kendall tau, Spearman rho)",
            "Rank correlation between judge grades and human grades.",
            [
                (f"judge_monitor_human_tau{{{SEG},{JUDGE}}}", "{{judge}} tau"),
                (f"judge_monitor_human_rho{{{SEG},{JUDGE}}}", "{{judge}} rho"),
            ],
            minimum=-1,
            maximum=1,
        ),
        _timeseries(
            6,
            "Length bias (Spearman rho of grade vs result length)",
            "Near 0 is good; a judge that grades long results higher drifts positive.",
            [(f"judge_monitor_length_bias_rho{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            minimum=-1,
            maximum=1,
        ),
        _timeseries(
            7,
            "Position consistency (pairwise, both orders)",
            "Share of pairwise verdicts that agree when A and B swap places.",
            [(f"judge_monitor_position_consistency{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
        _timeseries(
            8,
            "Invalid answer rate",
            "Share of judge answers that stayed invalid JSON after retries. Above 5% a "
            "ticket opens: look at the judge's endpoint, model and prompt version.",
            [(f"judge_monitor_invalid_rate{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            unit="percentunit",
            minimum=0,
            threshold=0.05,
        ),
        _timeseries(
            9,
            "Latency per call",
            "Judge call latency (seconds).",
            [(f"judge_monitor_latency_seconds{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            unit="s",
            minimum=0,
            width=8,
        ),
        _timeseries(
            10,
            "Tokens",
            "Input and output tokens spent by each judge on the latest day.",
            [
                (f"judge_monitor_input_tokens{{{SEG},{JUDGE}}}", "{{judge}} in"),
                (f"judge_monitor_output_tokens{{{SEG},{JUDGE}}}", "{{judge}} out"),
            ],
            unit="short",
            minimum=0,
            width=8,
        ),
        _timeseries(
            11,
            "Cost (USD)",
            "Judge spend per day and its 7-day baseline; twice the baseline opens a ticket.",
            [
                (f"judge_monitor_cost_dollars{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}"),
                (
                    f"judge_monitor_cost_dollars_baseline{{{SEG},{JUDGE}}}",
                    "{{judge}} {{segment}} 7-day baseline",
                ),
            ],
            unit="currencyUSD",
            minimum=0,
            width=8,
        ),
        _timeseries(
            12,
            "Verdict cache hit rate",
            "Share of verdicts served from the Postgres verdict cache (not paid for again).",
            [(f"judge_monitor_cache_hit_rate{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            unit="percentunit",
            minimum=0,
            maximum=1,
            width=24,
        ),
    ]
    return _dashboard(
        "jm-judges",
        "judge-monitor / Judges",
        "Judge health: agreement between judges and with humans, biases, failures, cost.",
        p,
        "judge_monitor_invalid_rate",
    )


def drift() -> dict[str, Any]:
    p = [
        _timeseries(
            1,
            "Grade distribution PSI",
            "Population stability index of the grade distribution against the baseline "
            "window. Higher means more drift; above 0.2 a ticket opens.",
            [(f"judge_monitor_grade_psi{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            minimum=0,
            threshold=0.2,
        ),
        _timeseries(
            2,
            "Grade distribution chi-square p-value",
            "Small p-values mean the grade distribution differs from the baseline.",
            [(f"judge_monitor_grade_chi2_pvalue{{{SEG},{JUDGE}}}", "{{judge}} {{segment}}")],
            minimum=0,
            maximum=1,
        ),
        _timeseries(
            3,
            "Query mix PSI",
            "PSI of the segment mix of sampled traffic against the baseline window.",
            [(f"judge_monitor_query_mix_psi{{{SEG}}}", "{{segment}}")],
            minimum=0,
            threshold=0.2,
            width=8,
        ),
        _timeseries(
            4,
            "Query length KS statistic",
            "Kolmogorov-Smirnov distance between today's and the baseline query lengths.",
            [(f"judge_monitor_query_length_ks{{{SEG}}}", "{{segment}}")],
            minimum=0,
            maximum=1,
            width=8,
        ),
        _timeseries(
            5,
            "New query share",
            "Share of today's sampled queries never seen in the baseline window.",
            [(f"judge_monitor_new_query_share{{{SEG}}}", "{{segment}}")],
            unit="percentunit",
            minimum=0,
            maximum=1,
            width=8,
        ),
    ]
    return _dashboard(
        "jm-drift",
        "judge-monitor / Drift",
        "Drift of grades and of the query mix against the baseline window.",
        p,
        "judge_monitor_grade_psi",
    )


def pipeline() -> dict[str, Any]:
    p = [
        _stat(
            1,
            "Last successful daily run (age)",
            "Time since the daily flow last succeeded. Above 26 h the pipeline is stale.",
            [
                (
                    'time() - judge_monitor_last_success_timestamp_seconds{flow="daily"}',
                    "daily",
                )
            ],
            unit="s",
            steps=[("green", None), ("orange", 86400), ("red", 93600)],
        ),
        _stat(
            2,
            "Last run succeeded",
            "1 when the latest run of each flow succeeded.",
            [("judge_monitor_last_run_success", "{{flow}}")],
            steps=[("red", None), ("green", 1)],
        ),
        _stat(
            3,
            "Exporter up",
            "Prometheus can scrape the exporter (up) and the exporter can read Postgres.",
            [
                ('up{job="judge_monitor_exporter"}', "scrape"),
                ("judge_monitor_up", "database"),
            ],
            steps=[("red", None), ("green", 1)],
        ),
        _stat(
            4,
            "Metrics day (age)",
            "Age of the latest day present in daily_metrics.",
            [("time() - judge_monitor_metrics_date_timestamp_seconds", "latest day")],
            unit="s",
            steps=[("green", None), ("orange", 129600), ("red", 172800)],
        ),
        _timeseries(
            5,
            "Run duration",
            "Duration of the latest run of each flow (exporter view and Pushgateway view).",
            [
                ("judge_monitor_run_duration_seconds", "{{flow}}"),
                ("judge_monitor_flow_duration_seconds", "{{flow}} (pushed)"),
            ],
            unit="s",
            minimum=0,
        ),
        _timeseries(
            6,
            "Verdicts per run",
            "Verdicts of the latest run by kind: judged (paid), cached, invalid.",
            [
                ("judge_monitor_run_verdicts", "{{flow}} {{kind}}"),
                ("judge_monitor_flow_verdicts", "{{flow}} {{kind}} (pushed)"),
            ],
            unit="short",
            minimum=0,
        ),
        _timeseries(
            7,
            "Run cost (USD)",
            "What the latest run of each flow paid the judge endpoints.",
            [
                ("judge_monitor_run_cost_dollars", "{{flow}}"),
                ("judge_monitor_flow_cost_dollars", "{{flow}} (pushed)"),
            ],
            unit="currencyUSD",
            minimum=0,
            width=8,
        ),
        _timeseries(
            8,
            "Bad source rows",
            "Rows the source could not read in the latest run (counted with a reason).",
            [("judge_monitor_run_bad_rows", "{{flow}}")],
            unit="short",
            minimum=0,
            width=8,
        ),
        _timeseries(
            9,
            "Exporter scrape errors",
            "Errors the exporter hit while reading Postgres at scrape time.",
            [("increase(judge_monitor_scrape_errors_total[1h])", "errors / 1h")],
            unit="short",
            minimum=0,
            width=8,
        ),
    ]
    return _dashboard(
        "jm-pipeline",
        "judge-monitor / Pipeline",
        "Is the daily pipeline running: last success, durations, verdicts, cost, exporter.",
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
