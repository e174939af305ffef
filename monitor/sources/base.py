"""What every source shares: the ``Source`` protocol, bad-row accounting, row validation.

Production logs are messy. A source never crashes on one bad row and never drops it
silently either: it counts it under a reason, keeps a few examples (a row number or an
id, never the text, which may be private), and when too large a share of what it read
was bad it refuses the whole day, because metrics on a quarter of the traffic would look
healthy while describing something else.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from monitor.errors import SourceError
from monitor.types import Result, SearchRecord

__all__ = [
    "BAD_JSON",
    "BAD_RESULT",
    "BAD_TEXT",
    "BAD_TIMESTAMP",
    "INVALID_UTF8",
    "MISSING_QUERY",
    "MISSING_QUERY_ID",
    "NON_FINITE",
    "NO_RESULTS",
    "NUL_BYTE",
    "OVERSIZED",
    "POSITIONS",
    "BadRow",
    "BadRows",
    "Limits",
    "Source",
    "as_utc",
    "check_window",
    "guarded",
    "parse_results",
    "parse_timestamp",
    "record_from_mapping",
]

MISSING_QUERY = "missing query"
MISSING_QUERY_ID = "missing query id"
NO_RESULTS = "no results"
POSITIONS = "positions not 1..k"
BAD_TIMESTAMP = "bad timestamp"
OVERSIZED = "oversized text"
INVALID_UTF8 = "invalid utf-8"
BAD_JSON = "bad json"
BAD_RESULT = "bad result"
NUL_BYTE = "nul byte"
NON_FINITE = "non-finite number"
BAD_TEXT = "non-string text"

_CORE_FIELDS = ("query_id", "query", "timestamp", "results")


class BadRow(ValueError):
    """A row that cannot become a SearchRecord; ``reason`` is the bucket it is counted in."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class BadRows:
    """Rows read and rows skipped by reason, with a few examples each (ids, never text)."""

    source: str
    read: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 5

    def add(self, reason: str, where: str) -> None:
        """Count one skipped row; ``where`` is a row number or id, so it can be found."""
        self.counts[reason] += 1
        kept = self.examples.setdefault(reason, [])
        if len(kept) < self.max_examples:
            kept.append(where)

    @property
    def bad(self) -> int:
        return sum(self.counts.values())

    @property
    def share(self) -> float:
        """Share of rows read that were bad; 0 for an empty read (an empty day is fine)."""
        return self.bad / self.read if self.read else 0.0

    def summary(self) -> str:
        """One line: how many rows, how many bad, by reason with examples."""
        parts = [
            f"{reason}: {n} (e.g. {', '.join(self.examples.get(reason, []))})"
            for reason, n in self.counts.most_common()
        ]
        detail = "; ".join(parts) if parts else "none"
        return f"{self.source}: {self.bad} of {self.read} rows bad ({detail})"

    def check(self, max_share: float) -> None:
        """Refuse the read when the bad share passes ``max_share``."""
        if self.read and self.share > max_share:
            raise SourceError(
                f"too many bad rows: {self.share:.1%} > max_bad_row_share {max_share:.1%}; "
                + self.summary()
            )


@runtime_checkable
class Source(Protocol):
    """Anything that yields the searches production served between two instants."""

    report: BadRows

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        """Searches with ``start <= timestamp < end``; an empty window yields nothing."""
        ...


@dataclass(frozen=True)
class Limits:
    """Size limits a row must respect: a 5 MB "title" is a bug upstream, not a search."""

    max_query_chars: int = 2_000
    max_text_chars: int = 100_000

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Limits:
        return cls(
            max_query_chars=int(options.get("max_query_chars", 2_000)),
            max_text_chars=int(options.get("max_text_chars", 100_000)),
        )


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken to be UTC already (logs usually are)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def check_window(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """Both bounds as UTC, refusing an inverted window before anything is read."""
    s, e = as_utc(start), as_utc(end)
    if e < s:
        raise SourceError(f"window end {e.isoformat()} is before its start {s.isoformat()}")
    return s, e


def parse_timestamp(value: Any) -> dt.datetime:
    """A datetime, an ISO-8601 string or epoch seconds, as aware UTC; else BadRow."""
    if isinstance(value, dt.datetime):
        return as_utc(value)
    if isinstance(value, bool) or value is None:
        raise BadRow(BAD_TIMESTAMP, repr(value)[:40])
    if isinstance(value, int | float):
        try:
            return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise BadRow(BAD_TIMESTAMP, repr(value)[:40]) from exc
    if isinstance(value, str):
        try:
            return as_utc(dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError as exc:
            raise BadRow(BAD_TIMESTAMP, repr(value)[:40]) from exc
    raise BadRow(BAD_TIMESTAMP, type(value).__name__)


def _check_text(value: str, limit: int, what: str = "text") -> str:
    """``value`` if PostgreSQL can store it: not oversized, valid UTF-8, no NUL byte."""
    if len(value) > limit:
        raise BadRow(OVERSIZED, f"{what}: {len(value)} > {limit} characters")
    try:
        value.encode("utf-8")  # fails on exactly the lone surrogates, at C speed
    except UnicodeEncodeError:
        raise BadRow(INVALID_UTF8, f"{what}: lone surrogate") from None
    if "\x00" in value:  # PostgreSQL text and jsonb cannot hold U+0000
        raise BadRow(NUL_BYTE, what)
    return value


def _text_field(value: Any, what: str) -> str:
    """A text field as a string: missing is empty; a number, NaN or object is a bad row
    (``str(nan)`` would be judged as the word "nan")."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise BadRow(BAD_TEXT, f"{what} is a {type(value).__name__}")


def _check_json(value: Any, what: str, depth: int = 0) -> None:
    """Refuse what ``jsonb`` cannot store: non-finite numbers and NUL bytes, at any depth."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BadRow(NON_FINITE, f"{what} is {value}")
    elif isinstance(value, str):
        if "\x00" in value:
            raise BadRow(NUL_BYTE, what)
    elif isinstance(value, dict | Mapping):  # dict first: an ABC check is slow
        for key, item in value.items():
            if "\x00" in str(key):
                raise BadRow(NUL_BYTE, f"{what} key")
            _check_json(item, f"{what}.{key}", depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_json(item, what, depth + 1)


def _first(item: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        if name in item and item[name] is not None:
            return item[name]
    return None


def parse_results(raw: Any, limits: Limits = Limits()) -> tuple[Result, ...]:
    """A ranked list from a JSON array (or its text) of result objects.

    Each object needs an id (``id``, ``result_id`` or ``docid``); ``position`` (or
    ``rank``) is optional, but when given the positions must be exactly 1..k. Other
    keys besides title/text/metadata are kept in ``metadata``.
    """
    if raw is None:
        raise BadRow(NO_RESULTS)
    if isinstance(raw, str | bytes):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise BadRow(BAD_JSON, "results is not valid JSON") from exc
    if not isinstance(raw, list | tuple):
        raise BadRow(BAD_RESULT, f"results is a {type(raw).__name__}, not an array")
    items: list[tuple[int, Result]] = []
    has_positions = False
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict | Mapping):
            raise BadRow(BAD_RESULT, f"result {i} is not an object")
        rid = _first(item, ("id", "result_id", "docid"))
        if rid is None or str(rid) == "":
            raise BadRow(BAD_RESULT, f"result {i} has no id")
        if isinstance(rid, float):
            raise BadRow(BAD_RESULT, f"result {i} id is a float")
        _check_text(str(rid), limits.max_query_chars, f"result {i} id")
        pos_raw = _first(item, ("position", "rank"))
        if pos_raw is not None:
            has_positions = True
            try:
                pos = int(pos_raw)
            except (TypeError, ValueError) as exc:
                raise BadRow(POSITIONS, f"result {i} position {pos_raw!r}") from exc
        else:
            pos = i
        title = _text_field(item.get("title"), f"result {i} title")
        text = _text_field(_first(item, ("text", "body", "description")), f"result {i} text")
        _check_text(title + text, limits.max_text_chars, f"result {i} text")
        raw_meta = item.get("metadata") or {}
        if not isinstance(raw_meta, dict | Mapping):
            raise BadRow(BAD_RESULT, f"result {i} metadata is not an object")
        meta = dict(raw_meta)
        for key, value in item.items():
            if key not in {
                "id",
                "result_id",
                "docid",
                "position",
                "rank",
                "title",
                "text",
                "body",
                "description",
                "metadata",
            }:
                meta[key] = value
        _check_json(meta, f"result {i} metadata")
        items.append(
            (pos, Result(id=str(rid), position=pos, title=title, text=text, metadata=meta))
        )
    if has_positions:
        items.sort(key=lambda pair: pair[0])
        if [p for p, _ in items] != list(range(1, len(items) + 1)):
            raise BadRow(POSITIONS, f"got {[p for p, _ in items][:12]}")
    return tuple(result for _, result in items)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "t", "yes", "y"}
    return bool(value)


def record_from_mapping(
    row: Mapping[str, Any],
    *,
    segment_fields: Sequence[str] = (),
    limits: Limits = Limits(),
    ranker: str = "production",
) -> SearchRecord:
    """A SearchRecord from one log row in the common shape, or BadRow saying why not.

    The shape: ``query_id``, ``query``, ``timestamp``, ``results`` (JSON array, see
    ``parse_results``), optional ``segment`` (object), ``clicks``, ``zero_result``,
    ``reformulated``, ``ranker``; ``segment_fields`` names top-level keys that are
    segment values too (``locale``, ``surface``…). A missing ``results`` is a bad row;
    an empty array is a legitimate zero-result search.
    """
    query = _text_field(row.get("query"), "query")
    if not query.strip():
        raise BadRow(MISSING_QUERY)
    query = _check_text(query, limits.max_query_chars, "query")
    qid = row.get("query_id")
    if qid is None or str(qid) == "":
        raise BadRow(MISSING_QUERY_ID)
    if isinstance(qid, float):
        raise BadRow(NON_FINITE if not math.isfinite(qid) else BAD_TEXT, "query_id is a float")
    _check_text(str(qid), limits.max_query_chars, "query_id")
    ts = parse_timestamp(row.get("timestamp"))
    results = parse_results(row.get("results"), limits)
    raw_segment = row.get("segment")
    if isinstance(raw_segment, str):
        try:
            raw_segment = json.loads(raw_segment)
        except ValueError:
            raw_segment = None
    if raw_segment is not None and not isinstance(raw_segment, Mapping):
        raw_segment = None
    segment = {str(k): str(v) for k, v in (raw_segment or {}).items() if v is not None}
    for name in segment_fields:
        if row.get(name) is not None:
            segment[name] = str(row[name])
    for key, value in segment.items():
        _check_text(key + value, limits.max_query_chars, f"segment {key!r}")
    clicks = row.get("clicks")
    if isinstance(clicks, float) and not math.isfinite(clicks):
        raise BadRow(NON_FINITE, f"clicks is {clicks}")
    try:
        clicks_n = None if clicks is None else int(clicks)
    except (TypeError, ValueError):
        clicks_n = None
    ranker = _check_text(str(row.get("ranker") or ranker), limits.max_query_chars, "ranker")
    return SearchRecord(
        query_id=str(qid),
        query=query,
        timestamp=ts,
        results=results,
        segment=segment,
        clicks=clicks_n,
        zero_result=_flag(row.get("zero_result")) or not results,
        reformulated=_flag(row.get("reformulated")),
        ranker=ranker,
    )


def guarded(
    rows: Iterable[tuple[str, Mapping[str, Any] | BadRow]],
    *,
    report: BadRows,
    start: dt.datetime,
    end: dt.datetime,
    max_bad_row_share: float,
    segment_fields: Sequence[str] = (),
    limits: Limits = Limits(),
    ranker: str = "production",
) -> Iterator[SearchRecord]:
    """Turn ``(where, row)`` pairs into the window's records, counting every bad one.

    A pair whose row is already a ``BadRow`` (a line that was not JSON, say) is counted
    as is. Rows outside the window are neither yielded nor bad. The share check runs
    after the last row, with the full counts, so the error says everything at once.
    """
    for where, row in rows:
        report.read += 1
        if isinstance(row, BadRow):
            report.add(row.reason, where)
            continue
        try:
            record = record_from_mapping(
                row, segment_fields=segment_fields, limits=limits, ranker=ranker
            )
        except BadRow as bad:
            report.add(bad.reason, where)
            continue
        if start <= record.timestamp < end:
            yield record
    report.check(max_bad_row_share)
