"""Replay logged queries against a live search API and judge what it returns now.

The queries come from another source (the log); each distinct normalized query is sent
once to ``url`` (a template such as ``https://search/api?q={query}``, the query
URL-encoded), and every logged search of it yields a record with today's results, so
the day's traffic mix is kept for sampling. Records keep the logged timestamp and
segment, with ``ranker`` set to ``options.ranker`` (default ``"replay"``).

Response mapping (``options``): ``results_path`` (dot path to the array, default
``results``; empty means the response *is* the array), ``id_field`` (``id``),
``title_field`` (``title``), ``text_field`` (``text``). Headers come from environment
variables named in ``headers_env``; their values are never logged or put in errors.
A query that fails (``http 500``, ``timeout``, ``connection error``, ``bad json``,
``bad response``) makes its searches bad rows under that reason, not a crash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote_plus

import httpx

from monitor.config import SourceConfig
from monitor.errors import SourceError
from monitor.sources.base import BadRows, Source, check_window
from monitor.types import Result, SearchRecord

__all__ = ["ReplaySource", "headers_from_env"]

_CHUNK = 2000


def headers_from_env(headers_env: Mapping[str, str]) -> dict[str, str]:
    """Header values read from the named variables; a missing one is named, never shown."""
    headers: dict[str, str] = {}
    for header, var in headers_env.items():
        value = os.environ.get(var)
        if value is None:
            raise SourceError(f"replay source: header {header!r} needs environment variable {var}")
        headers[header] = value
    return headers


def _dig(payload: Any, path: str) -> Any:
    for part in (p for p in path.split(".") if p):
        if isinstance(payload, Mapping) and part in payload:
            payload = payload[part]
        elif isinstance(payload, list) and part.isdigit() and int(part) < len(payload):
            payload = payload[int(part)]
        else:
            return None
    return payload


class ReplaySource:
    """Re-issues the log's queries against ``config.url``; the log is any other Source."""

    def __init__(self, config: SourceConfig, log: Source) -> None:
        if not config.url or "{query}" not in config.url:
            raise SourceError("replay source: source.url must be a template containing {query}")
        if config.concurrency < 1:
            raise SourceError("replay source: concurrency must be at least 1")
        self.config = config
        self.log = log
        self.report = BadRows(source="replay")
        opts = config.options
        self.results_path = str(opts.get("results_path", "results"))
        self.id_field = str(opts.get("id_field", "id"))
        self.title_field = str(opts.get("title_field", "title"))
        self.text_field = str(opts.get("text_field", "text"))
        self.ranker = str(opts.get("ranker", "replay"))
        self.top_k = int(opts.get("top_k", 100))

    def _parse(self, payload: Any) -> tuple[Result, ...] | str:
        items = _dig(payload, self.results_path)
        if not isinstance(items, list):
            return "bad response"
        results: list[Result] = []
        for pos, item in enumerate(items[: self.top_k], start=1):
            if not isinstance(item, Mapping) or item.get(self.id_field) in (None, ""):
                return "bad response"
            meta = {
                k: v
                for k, v in item.items()
                if k not in {self.id_field, self.title_field, self.text_field}
            }
            results.append(
                Result(
                    id=str(item[self.id_field]),
                    position=pos,
                    title=str(item.get(self.title_field) or ""),
                    text=str(item.get(self.text_field) or ""),
                    metadata=meta,
                )
            )
        return tuple(results)

    async def _one(
        self, client: httpx.AsyncClient, gate: asyncio.Semaphore, query: str
    ) -> tuple[Result, ...] | str:
        assert self.config.url is not None
        url = self.config.url.replace("{query}", quote_plus(query))
        async with gate:
            try:
                response = await client.get(url)
            except httpx.TimeoutException:
                return "timeout"
            except httpx.HTTPError:
                return "connection error"
        if response.status_code != 200:
            return f"http {response.status_code}"
        try:
            payload = response.json()
        except ValueError:
            return "bad json"
        return self._parse(payload)

    async def _many(self, queries: list[str]) -> list[tuple[Result, ...] | str]:
        gate = asyncio.Semaphore(self.config.concurrency)
        limits = httpx.Limits(max_connections=self.config.concurrency)
        async with httpx.AsyncClient(
            headers=headers_from_env(self.config.headers_env),
            timeout=httpx.Timeout(self.config.timeout_s),
            limits=limits,
            follow_redirects=True,
        ) as client:
            return await asyncio.gather(*(self._one(client, gate, q) for q in queries))

    def _flush(
        self, chunk: list[SearchRecord], answers: dict[str, tuple[Result, ...] | str]
    ) -> Iterator[SearchRecord]:
        first: dict[str, str] = {}
        for r in chunk:  # the first spelling seen is the one sent
            first.setdefault(r.normalized_query, r.query)
        todo = [(norm, q) for norm, q in sorted(first.items()) if norm not in answers]
        if todo:
            got = asyncio.run(self._many([q for _, q in todo]))
            answers.update(zip((norm for norm, _ in todo), got, strict=True))
        for record in chunk:
            self.report.read += 1
            answer = answers[record.normalized_query]
            if isinstance(answer, str):
                self.report.add(answer, record.query_id)
                continue
            yield SearchRecord(
                query_id=record.query_id,
                query=record.query,
                timestamp=record.timestamp,
                results=answer,
                segment=record.segment,
                clicks=None,
                zero_result=not answer,
                reformulated=record.reformulated,
                ranker=self.ranker,
            )

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        """The log's searches in the window, each with what the live API returns now."""
        s, e = check_window(start, end)
        self.report = BadRows(source=f"replay of {self.log.report.source}")
        headers_from_env(self.config.headers_env)  # fail before reading the log
        answers: dict[str, tuple[Result, ...] | str] = {}
        chunk: list[SearchRecord] = []
        for record in self.log.fetch(s, e):
            chunk.append(record)
            if len(chunk) >= _CHUNK:
                yield from self._flush(chunk, answers)
                chunk = []
        if chunk:
            yield from self._flush(chunk, answers)
        self.report.check(self.config.max_bad_row_share)
