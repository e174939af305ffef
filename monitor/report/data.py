"""The report as data: what ``report --json`` prints, the same content as the page.

Every field of ``DailyReport`` (dates as ISO strings, no NaN), plus the derived views a
script wants without recomputing them: ``headline`` (the quality figures of the chosen
segment), ``page_alerts`` (how many page alerts fire: ``--fail-on-alert`` exits 2 when
not 0), each segment's ``change`` and ``change_ci``, each query's ``drop`` and the
``summary`` sentences.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

from monitor.report.model import DailyReport, SegmentDrop
from monitor.report.queries import QueryView
from monitor.report.summary import summary

__all__ = ["as_json"]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, QueryView):
            out["drop"] = value.drop
        if isinstance(value, SegmentDrop):
            out["change"] = value.change
            out["change_ci"] = _plain(value.change_ci)
        return out
    if isinstance(value, Mapping):
        return {str(key): _plain(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def as_json(report: DailyReport) -> dict[str, Any]:
    """The report as plain data (dates as ISO strings, no NaN): what ``--json`` prints."""
    data: dict[str, Any] = {"summary": summary(report)}
    data.update(_plain(report))
    data["headline"] = _plain(report.headline)
    data["page_alerts"] = len(report.page_alerts)
    return data
