"""Replay against a real local HTTP search server, including a 500 and a timeout."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.sources.base import BadRows
from monitor.sources.replay import ReplaySource
from monitor.types import SearchRecord

START = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
END = START + dt.timedelta(days=1)
SEEN_HEADERS: list[str | None] = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        q = parse_qs(urlparse(self.path).query)["q"][0]
        SEEN_HEADERS.append(self.headers.get("X-Api-Key"))
        if q == "boom":
            self.send_response(500)
            self.end_headers()
            return
        if q == "slow":
            time.sleep(1.0)
        body = json.dumps(
            {
                "data": {
                    "hits": [
                        {"sku": f"{q}-{i}", "name": f"{q} {i}", "blurb": "x", "price": i}
                        for i in range(3)
                    ]
                }
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # the client may have timed out first, as the timeout case intends
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def search_url() -> Iterator[str]:
    """A search API on a free local port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/search?q={{query}}"
    server.shutdown()
    server.server_close()


class ListSource:
    """A log that is just a list of records (a real Source, not a mock)."""

    def __init__(self, queries: list[str]) -> None:
        self.report = BadRows(source="list")
        self.records = [
            SearchRecord(
                query_id=f"s{i}",
                query=q,
                timestamp=START + dt.timedelta(minutes=i),
                results=(),
                segment={"locale": "en"},
            )
            for i, q in enumerate(queries)
        ]

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        return (r for r in self.records if start <= r.timestamp < end)


def config(url: str, **over: object) -> SourceConfig:
    base: dict[str, object] = dict(
        kind="replay",
        url=url,
        timeout_s=0.3,
        concurrency=2,
        max_bad_row_share=0.5,
        headers_env={"X-Api-Key": "SEARCH_KEY"},
        options={
            "results_path": "data.hits",
            "id_field": "sku",
            "title_field": "name",
            "text_field": "blurb",
        },
    )
    base.update(over)
    return SourceConfig.model_validate(base)


def test_replay_maps_results_and_counts_failures(
    search_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Good queries come back mapped; a 500 and a timeout are bad rows by reason."""
    monkeypatch.setenv("SEARCH_KEY", "sekret-value")
    log = ListSource(["red shoes", "Red  Shoes", "boom", "slow", "hats"])
    source = ReplaySource(config(search_url), log)
    got = list(source.fetch(START, END))
    assert [r.query_id for r in got] == ["s0", "s1", "s4"]
    assert [x.id for x in got[0].results] == ["red shoes-0", "red shoes-1", "red shoes-2"]
    assert got[0].results[1].title == "red shoes 1" and got[0].results[1].metadata["price"] == 1
    assert got[0].ranker == "replay"
    assert dict(source.report.counts) == {"http 500": 1, "timeout": 1}
    assert "sekret-value" not in source.report.summary()
    assert set(SEEN_HEADERS[-4:]) == {"sekret-value"}


def test_missing_header_variable_named_not_valued(
    search_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unset header variable is named in the error before any request."""
    monkeypatch.delenv("SEARCH_KEY", raising=False)
    with pytest.raises(SourceError, match="SEARCH_KEY"):
        list(ReplaySource(config(search_url), ListSource(["a"])).fetch(START, END))


def test_all_failing_is_refused(search_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """When most queries fail the day is refused with the counts."""
    monkeypatch.setenv("SEARCH_KEY", "k")
    with pytest.raises(SourceError, match=r"http 500: 3"):
        list(ReplaySource(config(search_url), ListSource(["boom"] * 3 + ["ok"])).fetch(START, END))
