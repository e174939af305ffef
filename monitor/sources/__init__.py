"""Where production's searches come from: SQL logs, file drops, live replay, TREC, demo."""

from __future__ import annotations

from monitor.sources.base import BadRows, Source
from monitor.sources.factory import build_source

__all__ = ["BadRows", "Source", "build_source"]
