"""The metric reference (docs/metrics.md) and the public API stay in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

import monitor.export.exporter
import monitor.export.pushgateway
from monitor.export.exporter import all_family_names
from monitor.export.pushgateway import PUSHED_FAMILIES

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "metrics.md"
#: Every other page that may name a metric (none may name one that does not exist).
PAGES = [REPO / "README.md", REPO / "bench" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NOT_METRICS = {"judge_monitor_exporter"}  # the scrape job's name, mentioned in the text


def _named(page: Path) -> set[str]:
    return set(re.findall(r"`(judge_monitor_[a-z0-9_]+)", page.read_text()))


def _documented() -> set[str]:
    return _named(DOC)


def test_every_exported_family_is_documented() -> None:
    """Each family the exporter can emit is named in docs/metrics.md."""
    missing = sorted(set(all_family_names()) - _documented())
    assert not missing, f"add these to docs/metrics.md: {missing}"


def test_every_pushed_family_is_documented() -> None:
    """Each family a flow run pushes is named in docs/metrics.md."""
    missing = sorted(set(PUSHED_FAMILIES) - _documented())
    assert not missing, f"add these to docs/metrics.md: {missing}"


def test_docs_name_no_metric_that_does_not_exist() -> None:
    """No page (README, bench/README.md, docs/) names a judge_monitor_ family nothing emits."""
    emitted = set(all_family_names()) | set(PUSHED_FAMILIES) | NOT_METRICS
    assert DOC in PAGES
    stale = {str(p.relative_to(REPO)): sorted(_named(p) - emitted) for p in PAGES}
    stale = {page: names for page, names in stale.items() if names}
    assert not stale, f"pages naming metrics nothing emits: {stale}"


def test_public_api_is_listed() -> None:
    """__all__ of the exporter modules names only public attributes that exist."""
    for module in (monitor.export.exporter, monitor.export.pushgateway):
        assert module.__all__, module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
