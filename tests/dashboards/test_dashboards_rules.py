"""Prometheus alert rules and scrape config: checked and unit-tested by the real promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
PROM = REPO / "dashboards" / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TEST_FILES = sorted((PROM / "tests").glob("*.yml"))
SEVERITIES = {"page", "ticket", "info"}
LINKS = 'query "topk(1, last_over_time(judge_monitor_links_info[1d]))"'
LINKS_GRAFANA = "{{ range " + LINKS + " }}{{ .Labels.grafana_url }}{{ end }}/d/"
LINKS_RUNBOOK = "{{ range " + LINKS + " }}{{ .Labels.runbook_url }}"


def promtool() -> str:
    path = shutil.which("promtool")
    assert path is not None, (
        "promtool is not on PATH: install it with `apt-get install prometheus` "
        "(Debian/Ubuntu) or take it from a Prometheus release tarball"
    )
    return path


def run_promtool(*args: str, cwd: Path = PROM) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool(), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def alert_rules() -> list[dict[str, Any]]:
    rules = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            rules += [rule for rule in group["rules"] if "alert" in rule]
    return rules


def test_rule_and_test_files_exist() -> None:
    """The rules folder holds rule files and the tests folder holds promtool test files."""
    assert RULE_FILES, f"no rule files in {PROM / 'rules'}"
    assert TEST_FILES, f"no promtool test files in {PROM / 'tests'}"


def test_promtool_check_rules() -> None:
    """promtool accepts every rule file (syntax, PromQL, templates)."""
    out = run_promtool("check", "rules", *map(str, RULE_FILES))
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_test_rules() -> None:
    """Every promtool unit test of the alert rules passes."""
    out = run_promtool("test", "rules", *(p.name for p in TEST_FILES), cwd=PROM / "tests")
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_config() -> None:
    """The compose stack's prometheus.yml is valid and loads the rule files it names."""
    out = run_promtool("check", "config", "prometheus.yml")
    assert out.returncode == 0, out.stdout + out.stderr
    found = re.search(r"SUCCESS: (\d+) rule files found", out.stdout)
    assert found and int(found.group(1)) == len(RULE_FILES), out.stdout


def test_every_alert_has_firing_and_quiet_cases() -> None:
    """Each alert rule is expected to fire in some test case and to stay silent in another."""
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    names = {rule["alert"] for rule in alert_rules()}
    assert names, "no alert rules found"
    assert not names - firing, f"alerts without a firing test case: {sorted(names - firing)}"
    assert not names - quiet, f"alerts without a not-firing test case: {sorted(names - quiet)}"
    assert not (firing | quiet) - names, f"tests name unknown alerts: {(firing | quiet) - names}"


def test_every_alert_is_routable_and_explained() -> None:
    """Each alert has a known severity, a concern, summary/figures/description, and absolute
    dashboard and runbook links built from the exporter's judge_monitor_links_info."""
    for rule in alert_rules():
        name = rule["alert"]
        assert rule["labels"].get("severity") in SEVERITIES, name
        assert rule["labels"].get("concern"), name
        annotations = rule.get("annotations", {})
        for key in ("summary", "figures", "description", "dashboard", "runbook_url"):
            assert annotations.get(key), f"{name} has no {key} annotation"
        anchor = annotations["runbook_url"].rsplit("#", 1)[1]
        assert anchor == name.lower(), f"{name}: runbook anchor {anchor!r}"
        assert LINKS_GRAFANA in annotations["dashboard"], f"{name}: dashboard link not absolute"
        assert LINKS_RUNBOOK in annotations["runbook_url"], f"{name}: runbook link not absolute"
        assert "localhost" not in annotations["dashboard"] + annotations["description"], name


def test_alert_names_unique() -> None:
    """No two alert rules share a name (Alertmanager routes and inhibits by name)."""
    names = [rule["alert"] for rule in alert_rules()]
    assert len(names) == len(set(names))


def test_every_alert_is_documented() -> None:
    """docs/operations.md has a section (the runbook anchor) for every alert."""
    text = (REPO / "docs" / "operations.md").read_text()
    headings = set(re.findall(r"^### (\w+)$", text, flags=re.MULTILINE))
    missing = {rule["alert"] for rule in alert_rules()} - headings
    assert not missing, f"alerts without a section in docs/operations.md: {sorted(missing)}"
