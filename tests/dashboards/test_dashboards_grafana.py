"""Grafana dashboards: generated reproducibly, templated, linked from alerts, on-contract."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from monitor.export.exporter import all_family_names
from monitor.export.pushgateway import PUSHED_FAMILIES

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "dashboards" / "grafana"
RULES = sorted((REPO / "dashboards" / "prometheus" / "rules").glob("*.yml"))
METRIC = re.compile(r"\bjudge_monitor_[a-z0-9_]+\b")
QUOTED = re.compile(r'"[^"]*"')


def metric_names(expr: str) -> set[str]:
    """judge_monitor_* names in a PromQL expression, ignoring label values in quotes."""
    return set(METRIC.findall(QUOTED.sub('""', expr)))


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("jm_grafana_generate", GRAFANA / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(GRAFANA.glob("*.json"))}


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for panel in dashboard["panels"] for t in panel.get("targets", [])]


def test_committed_json_equals_generator_output() -> None:
    """Each committed dashboard file is exactly what generate.py writes; no other exists."""
    built = generator().build_all()
    assert set(built) == {p.name for p in GRAFANA.glob("*.json")}
    for name, text in built.items():
        assert (GRAFANA / name).read_text() == text, f"{name} is stale: run generate.py"


def test_generator_is_deterministic_with_sorted_keys() -> None:
    """Two builds are identical and every JSON object has its keys sorted."""
    gen = generator()
    assert gen.build_all() == gen.build_all()

    def sorted_keys(node: Any) -> bool:
        if isinstance(node, dict):
            return list(node) == sorted(node) and all(sorted_keys(v) for v in node.values())
        if isinstance(node, list):
            return all(sorted_keys(v) for v in node)
        return True

    for name, text in gen.build_all().items():
        assert sorted_keys(json.loads(text)), name


def test_uids_and_panel_ids_unique() -> None:
    """Dashboard uids are unique and fixed; panel ids are unique within a dashboard."""
    boards = committed()
    uids = [b["uid"] for b in boards.values()]
    assert len(uids) == len(set(uids)) == 4
    assert set(uids) == {"jm-search-quality", "jm-judges", "jm-drift", "jm-pipeline"}
    for name, board in boards.items():
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), name
        assert len(board["uid"]) <= 40, name


def test_templated_on_datasource_segment_and_judge() -> None:
    """Each dashboard has datasource, segment and judge variables and every query uses them."""
    for name, board in committed().items():
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource", name
        assert variables["datasource"]["query"] == "prometheus", name
        for var in ("segment", "judge"):
            assert variables[var]["type"] == "query", name
            assert variables[var]["definition"].startswith("label_values("), name
            assert f", {var})" in variables[var]["definition"], name
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "${datasource}", (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "${datasource}", (name, panel["title"])
        uses_segment = [e for e in exprs(board) if "$segment" in e]
        assert uses_segment or board["uid"] == "jm-pipeline", name


def test_panels_on_grid_without_overlap() -> None:
    """Panels fit the 24-column grid and no two panels overlap."""
    for name, board in committed().items():
        cells: set[tuple[int, int]] = set()
        for panel in board["panels"]:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (name, panel["title"])
            mine = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not cells & mine, (name, panel["title"])
            cells |= mine


def test_metric_names_follow_the_exporter_contract() -> None:
    """Every judge_monitor_* name in dashboards and rules is one the exporter or a push emits."""
    known = set(all_family_names()) | set(PUSHED_FAMILIES)
    used: dict[str, str] = {}
    for name, board in committed().items():
        for expr in exprs(board):
            used.update({m: name for m in metric_names(expr)})
        for var in board["templating"]["list"]:
            used.update({m: name for m in metric_names(var.get("definition", ""))})
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                used.update({m: path.name for m in metric_names(rule["expr"])})
    unknown = {m: where for m, where in used.items() if m not in known}
    assert not unknown, f"names no exporter emits: {unknown}"
    assert len(used) > 30


def test_alert_dashboard_links_point_at_real_panels() -> None:
    """Each alert's dashboard annotation names an existing dashboard uid and panel id."""
    panels = {b["uid"]: {p["id"]: p for p in b["panels"]} for b in committed().values()}
    checked = 0
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                # the part after the templated Grafana base URL (judge_monitor_links_info)
                link = urlsplit(rule["annotations"]["dashboard"].split("{{ end }}", 1)[-1])
                uid = link.path.removeprefix("/d/")
                panel_id = int(parse_qs(link.query)["viewPanel"][0])
                assert uid in panels, (rule["alert"], uid)
                assert panel_id in panels[uid], (rule["alert"], panel_id)
                checked += 1
    assert checked >= 10


def test_provisioning_points_at_prometheus_and_the_dashboard_folder() -> None:
    """The provisioned datasource is the compose prometheus; dashboards load from a folder."""
    prov = GRAFANA / "provisioning"
    (ds,) = yaml.safe_load((prov / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert ds["type"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    (provider,) = yaml.safe_load((prov / "dashboards" / "judge-monitor.yml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file" and provider["options"]["path"].startswith("/")


def _board(uid: str) -> dict[str, Any]:
    return next(b for b in committed().values() if b["uid"] == uid)


def _panel(board: dict[str, Any], pid: int) -> dict[str, Any]:
    return next(p for p in board["panels"] if p["id"] == pid)


def test_built_with_the_grafana_sdk_of_the_stacks_grafana() -> None:
    """generate.py pins grafana-foundation-sdk to the Grafana version docker-compose runs."""
    from importlib.metadata import version

    gen = generator()
    pinned = gen.GRAFANA_SDK.split("==", 1)[1]
    assert version("grafana-foundation-sdk") == pinned
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    image = compose["services"]["grafana"]["image"]
    grafana = image.rsplit(":", 1)[1]
    assert pinned.split("!", 1)[1].rsplit(".", 1)[0] == grafana.rsplit(".", 1)[0], image


def test_ci_is_a_band_and_alert_lines_come_from_the_rules() -> None:
    """nDCG@10 shades its CI (upper filled to lower), draws the floor and baseline − margin
    with the rules file's own thresholds."""
    from monitor.export.rules import rules_by_name

    rules = rules_by_name()
    floor = rules["JudgeMonitorQualityBelowFloor"].thresholds[0]
    margin = rules["JudgeMonitorQualityDropVsBaseline"].thresholds[0]
    panel = _panel(_board("jm-search-quality"), 1)
    overrides = {
        o["matcher"]["options"]: o["properties"] for o in panel["fieldConfig"]["overrides"]
    }
    assert {"id": "custom.fillBelowTo", "value": "CI low"} in overrides["CI high"]
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, floor]
    assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    alert_line = next(t for t in panel["targets"] if t["legendFormat"] == "alert line")
    assert alert_line["expr"].endswith(f" - {margin}")
    assert panel["repeat"] == "segment"


def test_every_board_annotates_alerts_change_points_judge_changes_and_runs() -> None:
    """Each dashboard carries the four annotations, each with a title format."""
    for name, board in committed().items():
        annotations = {a["name"]: a for a in board["annotations"]["list"]}
        assert set(annotations) == {
            "Alerts", "Change points", "Judge changes", "New day of figures"
        }, name  # fmt: skip
        assert "ALERTS" in annotations["Alerts"]["expr"]
        assert "judge_monitor_judge_info" in annotations["Judge changes"]["expr"]
        assert all(a["titleFormat"] and a["datasource"]["uid"] == "${datasource}"
                   for a in annotations.values())  # fmt: skip


def test_search_quality_opens_on_headline_and_ranked_segments() -> None:
    """The top row is today-vs-baseline stats coloured at the alert margin, then the
    segments ranked by drop, linking to their own panels with the time range."""
    from monitor.export.rules import rules_by_name

    margin = rules_by_name()["JudgeMonitorQualityDropVsBaseline"].thresholds[0]
    board = _board("jm-search-quality")
    top = [p for p in board["panels"] if p["gridPos"]["y"] == 0]
    assert {p["type"] for p in top} == {"stat"} and len(top) == 4
    delta = _panel(board, 12)
    assert "judge_monitor_ndcg_baseline" in delta["targets"][0]["expr"]
    steps = delta["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert steps[0]["color"] == "red" and steps[1]["value"] == -margin
    ranked = _panel(board, 15)
    assert ranked["type"] == "table"
    assert ranked["targets"][0]["expr"].startswith("sort_desc(")
    links = json.dumps(ranked["fieldConfig"]["overrides"])
    assert "var-segment=${__data.fields.segment}" in links and "__url_time_range" in links


def test_judge_variable_drives_the_quality_panels() -> None:
    """Search quality's judge variable lists the judges quality is exported for, not the
    rows human labels correct (their own panel draws those), and every quality panel
    filters on it (none hard-codes judge="ensemble")."""
    board = _board("jm-search-quality")
    variable = next(v for v in board["templating"]["list"] if v["name"] == "judge")
    assert variable["definition"] == (
        'label_values(judge_monitor_ndcg{judge!~"corrected|humans"}, judge)'
    )
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            if "changepoint" in expr or panel["id"] == 15:
                continue
            assert '$judge"' in expr and 'judge="ensemble"' not in expr, (panel["id"], expr)


def test_daily_figures_draw_one_point_a_day() -> None:
    """Every time series asks for one point a day and draws it, not a 24-hour step."""
    for name, board in committed().items():
        for panel in board["panels"]:
            if panel["type"] != "timeseries":
                continue
            custom = panel["fieldConfig"]["defaults"]["custom"]
            assert panel["interval"] == "1d", (name, panel["id"])
            assert custom["showPoints"] == "always", (name, panel["id"])
            assert custom["lineInterpolation"] == "linear", (name, panel["id"])
