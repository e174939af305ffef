"""One entry point from configuration to a ready source, so flows never branch on kind."""

from __future__ import annotations

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.sources.base import Source

__all__ = ["build_source"]


def build_source(config: SourceConfig) -> Source:
    """The source ``config.kind`` names. A replay source reads its queries from the
    source described by ``options.log`` (a SourceConfig as a mapping)."""
    if config.kind == "demo":
        from monitor.sources.demo import DemoSource

        return DemoSource(config)
    if config.kind == "sql":
        from monitor.sources.sql import SqlSource

        return SqlSource(config)
    if config.kind == "files":
        from monitor.sources.files import FilesSource

        return FilesSource(config)
    if config.kind == "trec":
        from monitor.sources.trec import TrecSource

        return TrecSource(config)
    if config.kind == "trec_production":
        from monitor.sources.trec_production import TrecProductionSource

        return TrecProductionSource(config)
    if config.kind == "replay":
        from monitor.sources.replay import ReplaySource

        log = config.options.get("log")
        if not isinstance(log, dict):
            raise SourceError("replay source: options.log must describe the log source")
        log_config = SourceConfig.model_validate(log)
        if log_config.kind == "replay":
            raise SourceError("replay source: options.log cannot itself be a replay source")
        return ReplaySource(config, build_source(log_config))
    raise SourceError(f"unknown source kind {config.kind!r}")
