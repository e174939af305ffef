"""Alertmanager config: valid for the real amtool, routed by severity, secrets in files."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "dashboards" / "alertmanager" / "alertmanager.yml"
RULES = sorted((REPO / "dashboards" / "prometheus" / "rules").glob("*.yml"))


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("amtool")
    assert path is not None, (
        "amtool is not on PATH: install it with `apt-get install prometheus-alertmanager` "
        "(Debian/Ubuntu) or take it from an Alertmanager release tarball"
    )
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=60)


def alert_rules() -> list[dict[str, Any]]:
    rules = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [r for r in group["rules"] if "alert" in r]
    return rules


def walk(node: Any) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        pairs = list(node.items())
        for value in node.values():
            pairs += walk(value)
        return pairs
    if isinstance(node, list):
        return [pair for item in node for pair in walk(item)]
    return []


def test_amtool_check_config() -> None:
    """amtool accepts the configuration, its routes, receivers and inhibit rules."""
    out = amtool("check-config", str(CONFIG))
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("severity", "receiver"), [("page", "oncall"), ("ticket", "ticket"), ("info", "webhook")]
)
def test_routes_by_severity(severity: str, receiver: str) -> None:
    """An alert's severity label picks its receiver."""
    out = amtool(
        "config", "routes", "test", f"--config.file={CONFIG}",
        f"severity={severity}", "alertname=JudgeMonitorQualityBelowFloor",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [receiver]


def test_every_rule_severity_has_a_route() -> None:
    """Each severity the rules use has its own route."""
    routes = yaml.safe_load(CONFIG.read_text())["route"]["routes"]
    routed = {m for r in routes for m in r["matchers"]}
    for rule in alert_rules():
        assert f'severity="{rule["labels"]["severity"]}"' in routed, rule["alert"]


def test_page_reaches_slack_email_and_webhook() -> None:
    """The page receiver notifies through Slack, email and the webhook."""
    receivers = {r["name"]: r for r in yaml.safe_load(CONFIG.read_text())["receivers"]}
    oncall = receivers["oncall"]
    assert {"slack_configs", "email_configs", "webhook_configs"} <= set(oncall)


def test_secrets_come_from_files() -> None:
    """No password or Slack URL is inline: Slack and SMTP secrets are *_file paths."""
    pairs = walk(yaml.safe_load(CONFIG.read_text()))
    keys = {k for k, _ in pairs}
    inline = {"api_url", "slack_api_url", "auth_password", "smtp_auth_password", "auth_secret"}
    assert not keys & inline, keys & inline
    files = {k: v for k, v in pairs if k.endswith("_file")}
    assert any(k in {"api_url_file", "slack_api_url_file"} for k in files)
    assert "auth_password_file" in files
    assert all(str(v).startswith("/run/secrets/") for v in files.values())


def test_inhibitions_match_real_alerts() -> None:
    """Inhibit sources are real alert names; targets are labels real alerts carry."""
    config = yaml.safe_load(CONFIG.read_text())
    rules = alert_rules()
    names = {r["alert"] for r in rules}
    sources = "\n".join(m for i in config["inhibit_rules"] for m in i["source_matchers"])
    for required in ("JudgeMonitorPipelineStale", "JudgeMonitorExporterDown"):
        assert required in sources
    for alertname in re.findall(r"JudgeMonitor[A-Za-z0-9]+", sources):
        assert alertname in names, alertname
    from_exporter = [r for r in rules if r["labels"].get("source") == "exporter"]
    assert from_exporter and all(r["alert"] != "JudgeMonitorExporterDown" for r in from_exporter), (
        "ExporterDown must not inhibit itself"
    )
    quality = [r for r in rules if r["labels"]["concern"] in {"quality", "drift"}]
    assert quality and all(r["labels"].get("source") == "exporter" for r in quality)


def _seconds(duration: str) -> float:
    from monitor.export.rules import parse_duration

    return parse_duration(duration)


def test_one_notification_per_alert_per_day() -> None:
    """Alerts group by name, segment and judge, and a firing one repeats once a day at most."""
    route = yaml.safe_load(CONFIG.read_text())["route"]
    assert {"alertname", "segment", "judge"} <= set(route["group_by"])
    assert _seconds(route["repeat_interval"]) >= 24 * 3600
    for child in route["routes"]:
        repeat = child.get("repeat_interval", route["repeat_interval"])
        assert _seconds(repeat) >= 24 * 3600, child["matchers"]
    assert _seconds(route["group_wait"]) <= 300


def test_slack_text_carries_figures_runbook_and_dashboard() -> None:
    """Every Slack message shows the summary, the day's figures, the runbook and the panel."""
    receivers = yaml.safe_load(CONFIG.read_text())["receivers"]
    texts = [s["text"] for r in receivers for s in r.get("slack_configs", [])]
    assert texts
    for text in texts:
        for part in ("summary", "figures", "description", "runbook_url", "dashboard"):
            assert f".Annotations.{part}" in text, (part, text)


def test_ensemble_alerts_inhibit_per_judge_drift() -> None:
    """Ensemble drift or quality drop in a segment silences per-judge drift there."""
    rules = yaml.safe_load(CONFIG.read_text())["inhibit_rules"]
    found = [
        r
        for r in rules
        if 'judge="ensemble"' in r["source_matchers"]
        and 'judge!="ensemble"' in r["target_matchers"]
    ]
    assert len(found) == 1
    assert found[0]["equal"] == ["segment"]
    assert 'alertname="JudgeMonitorGradeDrift"' in found[0]["target_matchers"]
