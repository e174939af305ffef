"""The metric list in README.md and the public API stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import monitor.exporter
import monitor.pushgateway
from monitor.exporter import all_family_names
from monitor.pushgateway import PUSHED_FAMILIES

DOC = Path(__file__).resolve().parents[2] / "README.md"
NOT_METRICS = {"judge_monitor_exporter"}  # the scrape job's name, mentioned in the text


def _documented() -> set[str]:
    return set(re.findall(r"`(judge_monitor_[a-z0-9_]+)", DOC.read_text()))


def test_every_exported_family_is_documented() -> None:
    """Each family the exporter can emit is named in README.md."""
    missing = sorted(set(all_family_names()) - _documented())
    assert not missing, f"add these to README.md: {missing}"


def test_every_pushed_family_is_documented() -> None:
    """Each family a flow run pushes is named in README.md."""
    missing = sorted(set(PUSHED_FAMILIES) - _documented())
    assert not missing, f"add these to README.md: {missing}"


def test_docs_name_no_metric_that_does_not_exist() -> None:
    """README.md names no judge_monitor_ family the code does not emit."""
    stale = sorted(_documented() - set(all_family_names()) - set(PUSHED_FAMILIES) - NOT_METRICS)
    assert not stale, f"README.md lists metrics nothing emits: {stale}"


def test_public_api_is_listed() -> None:
    """__all__ of the exporter modules names only public attributes that exist."""
    for module in (monitor.exporter, monitor.pushgateway):
        assert module.__all__, module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
