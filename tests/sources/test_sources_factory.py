"""build_source turns each configured kind into a working source."""

from __future__ import annotations

import pytest

import monitor.sources.factory as factory
from monitor.config import SourceConfig
from monitor.errors import InputError, SourceError
from monitor.sources.base import Source
from monitor.sources.demo import DemoSource
from monitor.sources.files import FilesSource
from monitor.sources.replay import ReplaySource
from monitor.sources.sql import SqlSource
from monitor.sources.trec import TrecSource


def test_each_kind() -> None:
    """Every kind builds its class, and each satisfies the Source protocol."""
    built = [
        factory.build_source(SourceConfig(kind="demo")),
        factory.build_source(SourceConfig(kind="files", path="x.jsonl")),
        factory.build_source(SourceConfig(kind="sql", url="sqlite://", table="t")),
        factory.build_source(SourceConfig(kind="trec", path="run.x.jsonl")),
        factory.build_source(
            SourceConfig(
                kind="replay",
                url="http://h/?q={query}",
                options={"log": {"kind": "files", "path": "x"}},
            )
        ),
    ]
    kinds = (DemoSource, FilesSource, SqlSource, TrecSource, ReplaySource)
    for source, kind in zip(built, kinds, strict=True):
        assert isinstance(source, kind) and isinstance(source, Source)


def test_replay_needs_a_log() -> None:
    """A replay source without options.log says so."""
    with pytest.raises(SourceError, match=r"options\.log"):
        factory.build_source(SourceConfig(kind="replay", url="http://h/?q={query}"))


def test_trec_production_needs_its_data_dir() -> None:
    """A trec_production source without options.data_dir names the option and `make data`."""
    with pytest.raises(InputError, match=r"data_dir is required.*make data"):
        factory.build_source(SourceConfig(kind="trec_production"))
