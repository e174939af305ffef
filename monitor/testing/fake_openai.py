"""A local HTTP server speaking the OpenAI chat-completions and Batch API protocols.

It is the one fake the project allows: tests and benchmarks drive the real ``openai``
client against it, so retries, timeouts, structured output and batch uploads go through
the same code paths as in production.

It is a tiny HTTP/1.1 keep-alive server, an ``asyncio.Protocol`` in a background thread
(no framework), because a benchmark pushes ~200 concurrent requests with 200 ms of
latency each and the server must never be the bottleneck: it shares the machine's cores
with the client it measures, so every microsecond it spends is taken from the client.

By default it grades deterministically from the text it finds between the prompt's data
delimiters (query/result word overlap -> 0-3), so results are reproducible. Tests script
exact behaviours per request with ``server.script(Reply.grade(2), Reply.error(429), ...)``
or replace the policy (``FakeOpenAI(policy=prefer_first)``).

Faults are scripted the same way: ``Reply.html()`` (an HTML page with status 200),
``Reply.truncated()`` (a JSON body cut short), ``Reply.hang_up()`` (the connection closed
mid-response), ``Reply.slow(s)``; ``server.fail_every(n, reply)`` answers every n-th chat
request with ``reply``. What a provider would bill is counted in ``server.paid``: every
completion delivered whole, by a digest of its prompt (``paid_calls``, ``distinct_paid``,
``paid_twice``).

One module because it is one server that tests import whole: the protocol, the scripted
replies and the batch endpoints share its request loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import math
import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["FakeOpenAI", "RecordedRequest", "Reply", "default_policy", "prefer_first"]

_DATA = re.compile(r"<(query|result|result_a|result_b|reference)>\s*(\".*?\")\s*</\1>", re.S)
_WORDS = re.compile(r"\w+")
_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")
_JSON = "application/json"
_HTML = "text/html; charset=utf-8"
#: A content type ``_route`` never sends: it tells the connection to hang up mid-body.
_HANG_UP = "x-fake/hang-up"
_FAULTS = ("", "html", "truncated", "hang_up")
_REASONS = {
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """What the server does with one chat-completions request.

    ``content=None`` means "whatever the policy would answer"; ``delay_s`` is added to the
    server's latency (a slow answer past the client's timeout); ``fault`` breaks the
    answer on the wire: ``"html"``, ``"truncated"`` or ``"hang_up"``.
    """

    status: int = 200
    content: str | None = None
    grade: int | None = None  # the grade token, for logprobs
    delay_s: float = 0.0
    retry_after: float | None = None
    message: str = ""
    fault: str = ""

    def __post_init__(self) -> None:
        if self.fault not in _FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; choose one of {_FAULTS[1:]}")

    @classmethod
    def grade_answer(cls, grade: int, reasoning: str = "scripted answer") -> Reply:
        """A well-formed pointwise answer (any integer, so out-of-scale can be scripted)."""
        content = json.dumps({"reasoning": reasoning, "grade": grade})
        return cls(content=content, grade=grade)

    @classmethod
    def preference(cls, preference: str, reasoning: str = "scripted answer") -> Reply:
        """A well-formed pairwise answer: ``"A"``, ``"B"`` or ``"tie"``."""
        return cls(content=json.dumps({"reasoning": reasoning, "preference": preference}))

    @classmethod
    def text(cls, content: str) -> Reply:
        """An answer with arbitrary assistant text (non-JSON, fenced, truncated...)."""
        return cls(content=content)

    @classmethod
    def error(cls, status: int, *, retry_after: float | None = None, message: str = "") -> Reply:
        """An HTTP error, optionally with a ``retry-after`` header in seconds."""
        return cls(status=status, retry_after=retry_after, message=message or f"fake {status}")

    @classmethod
    def slow(cls, delay_s: float, then: Reply | None = None) -> Reply:
        """Answer ``then`` (default: the policy's answer) only after ``delay_s`` more seconds."""
        return replace(then or cls(), delay_s=delay_s)

    @classmethod
    def html(cls) -> Reply:
        """Status 200 with an HTML page (a proxy's login or error page), not JSON."""
        return cls(fault="html")

    @classmethod
    def truncated(cls) -> Reply:
        """Status 200, JSON content type, a completion body cut in half (length matches)."""
        return cls(fault="truncated")

    @classmethod
    def hang_up(cls) -> Reply:
        """Headers and half the body of a completion, then the connection is closed."""
        return cls(fault="hang_up")


Policy = Callable[[dict[str, Any]], Reply]
#: (status, extra headers, payload, content type, the prompt digest of a completion
#: that is billed once delivered whole, else None)
_Answer = tuple[int, dict[str, str], bytes, str, str | None]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the server saw, with the status it answered."""

    method: str
    path: str
    body: Any  # parsed JSON for JSON bodies, raw bytes otherwise
    status: int
    via: str = "http"  # "http", or "batch" for lines of a batch input file


def prompt_fields(body: dict[str, Any]) -> dict[str, str]:
    """The quoted data fields (query, result, ...) found in a request's messages."""
    found: dict[str, str] = {}
    for message in body.get("messages", []):
        content = message.get("content")
        if not isinstance(content, str):
            continue
        for name, quoted in _DATA.findall(content):
            try:
                found[name] = json.loads(quoted)
            except json.JSONDecodeError:
                continue
    return found


def _overlap_grade(query: str, text: str) -> int:
    query_words = set(_WORDS.findall(query.casefold()))
    text_words = set(_WORDS.findall(text.casefold()))
    if not query_words:
        return 0
    share = len(query_words & text_words) / len(query_words)
    if share == 0:
        return 0
    if share == 1:
        return 3
    return 2 if share >= 0.5 else 1


def default_policy(body: dict[str, Any]) -> Reply:
    """Grade by word overlap between query and result, so answers are reproducible."""
    fields = prompt_fields(body)
    query = fields.get("query", "")
    if "result_a" in fields or "result_b" in fields:
        a = _overlap_grade(query, fields.get("result_a", ""))
        b = _overlap_grade(query, fields.get("result_b", ""))
        preference = "A" if a > b else "B" if b > a else "tie"
        return Reply.preference(preference, reasoning=f"overlap A={a} B={b}")
    text = fields.get("result", "") + " " + fields.get("reference", "")
    grade = _overlap_grade(query, text)
    return Reply.grade_answer(grade, reasoning=f"word overlap gives {grade}")


def prefer_first(body: dict[str, Any]) -> Reply:
    """A position-biased judge: always prefers whichever result is shown first."""
    del body
    return Reply.preference("A", reasoning="the first one looks better")


def _approx_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _logprobs(content: str, grade: int | None, top: int) -> dict[str, Any]:
    """Token logprobs for ``content``; the grade digit gets a spread over 0-3."""
    entries: list[dict[str, Any]] = []
    seen_grade_key = False
    for token in _TOKENS.findall(content):
        alternatives = [{"token": token, "logprob": 0.0, "bytes": list(token.encode())}]
        logprob = 0.0
        if seen_grade_key and grade is not None and token == str(grade):
            weights = {g: (0.7 if g == grade else 0.1) for g in range(4)}
            alternatives = [
                {"token": str(g), "logprob": math.log(w), "bytes": list(str(g).encode())}
                for g, w in sorted(weights.items(), key=lambda kv: -kv[1])
            ]
            logprob = math.log(0.7)
            seen_grade_key = False
        if token == "grade":
            seen_grade_key = True
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": alternatives[: max(top, 0)],
            }
        )
    return {"content": entries, "refusal": None}


class _Bucket:
    """Refuse requests above ``rpm`` per minute, the way a real endpoint does."""

    def __init__(self, rpm: float, burst: float | None) -> None:
        self.rate = rpm / 60.0
        self.capacity = burst if burst is not None else max(1.0, self.rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float | None:
        """None when the request may pass, else the seconds until it could."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    created_at: int
    status: str = "validating"
    output_file_id: str | None = None
    polls: int = 0
    counts: dict[str, int] = field(
        default_factory=lambda: {"total": 0, "completed": 0, "failed": 0}
    )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "completion_window": self.completion_window,
            "created_at": self.created_at,
            "input_file_id": self.input_file_id,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": None,
            "request_counts": dict(self.counts),
        }


class FakeOpenAI:
    """An OpenAI-compatible endpoint on 127.0.0.1, run in a background thread.

    ``latency_s`` is added to every chat answer; ``rpm_limit`` makes it answer 429 (with
    ``retry-after``) above that many requests per minute (a token bucket of ``rpm_burst``);
    ``supports_json_schema=False`` makes it refuse ``response_format=json_schema`` with a
    400, like endpoints that only know JSON mode; ``batch_polls`` is how many status polls
    a batch stays ``in_progress``.
    """

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        policy: Policy = default_policy,
        rpm_limit: float | None = None,
        rpm_burst: float | None = None,
        supports_json_schema: bool = True,
        batch_polls: int = 1,
        record_bodies: bool = True,
        port: int = 0,
    ) -> None:
        self.latency_s = latency_s
        self.policy = policy
        self.supports_json_schema = supports_json_schema
        self.batch_polls = batch_polls
        self.record_bodies = record_bodies
        self.requests: list[RecordedRequest] = []
        self.status_counts: Counter[int] = Counter()
        self.received = 0  # chat requests that arrived, answered or not (slow, cut off)
        self.in_flight = 0
        self.max_in_flight = 0
        #: (start, end) on ``time.monotonic()``, a clock all processes of the machine
        #: share, of each stretch with at least one chat request being answered: the
        #: time a client spent waiting on this endpoint.
        self.busy: list[tuple[float, float]] = []
        self._busy_since = 0.0
        #: completions delivered whole (what a provider bills), by a digest of the prompt
        self.paid: Counter[str] = Counter()
        self._scripted: deque[Reply] = deque()
        self._every: tuple[int, Reply] | None = None
        self._every_seen = 0
        self._bucket = _Bucket(rpm_limit, rpm_burst) if rpm_limit else None
        self._ids = itertools.count(1)
        self._files: dict[str, bytes] = {}
        self._batches: dict[str, _Batch] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._timers: set[asyncio.Handle] = set()
        self._connections: set[_Connection] = set()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self.port = port

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenAI:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """The URL to give ``openai.AsyncOpenAI(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fake-openai", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=10)
        if self._startup_error is not None:
            raise RuntimeError("fake OpenAI server failed to start") from self._startup_error

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._loop = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                loop.create_server(lambda: _Connection(self), "127.0.0.1", self.port, backlog=1024)
            )
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # surfaced to the starting thread
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for handle in list(self._timers):
            handle.cancel()
        for connection in list(self._connections):
            connection.close()

    # -- scripting and inspection ----------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue behaviours for the next chat requests, in order; then the policy resumes."""
        self._scripted.extend(replies)

    def fail_every(self, n: int, reply: Reply | None) -> None:
        """Answer every ``n``-th chat request (counted from now) with ``reply``; None stops.

        Scripted replies come first; the requests they answer count towards ``n`` too.
        """
        if reply is not None and n < 1:
            raise ValueError(f"fail_every needs n >= 1, not {n}")
        self._every = None if reply is None else (n, reply)
        self._every_seen = 0

    @property
    def paid_calls(self) -> int:
        """Completions delivered whole: the calls a provider would bill."""
        return sum(self.paid.values())

    @property
    def distinct_paid(self) -> int:
        """How many distinct prompts were answered (each once or more)."""
        return len(self.paid)

    @property
    def paid_twice(self) -> int:
        """Completions delivered for a prompt already answered before: paid again."""
        return sum(count - 1 for count in self.paid.values() if count > 1)

    @property
    def total(self) -> int:
        """Every HTTP request that reached the server."""
        return sum(1 for r in list(self.requests) if r.via == "http")

    def chat_requests(self) -> list[RecordedRequest]:
        """The chat-completion requests (HTTP and batch lines), oldest first."""
        return [r for r in list(self.requests) if r.path == "/v1/chat/completions"]

    def reset(self) -> None:
        """Forget recorded requests, counts and unconsumed scripts."""
        self.requests.clear()
        self.status_counts.clear()
        self.received = self.max_in_flight = 0
        self.busy.clear()
        self.paid.clear()
        self._scripted.clear()
        self._every = None

    # -- HTTP ------------------------------------------------------------------------------

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Answer:
        """Every request but a chat completion (``_chat``), answered at once."""
        if method == "POST" and path == "/v1/files":
            status, answer = self._upload(headers.get("content-type", ""), body)
        elif method == "GET" and path.startswith("/v1/files/") and path.endswith("/content"):
            content = self._files.get(path.split("/")[3])
            status = 200 if content is not None else 404
            self._record(method, path, b"", status)
            if content is None:
                answer = _error_body(404, "no such file")
                return status, {}, json.dumps(answer).encode(), _JSON, None
            return status, {}, content, "application/octet-stream", None
        elif method == "POST" and path == "/v1/batches":
            status, answer = self._create_batch(json.loads(body or b"{}"))
        elif method == "GET" and path.startswith("/v1/batches/"):
            status, answer = self._poll_batch(path.rsplit("/", 1)[1])
        elif method == "GET" and path == "/fake/busy":  # for a benchmark in another process
            status, answer = 200, {"busy": self.busy, "in_flight": self.in_flight}
        else:
            status, answer = 404, _error_body(404, f"no route for {method} {path}")
        self._record(method, path, body if self.record_bodies else b"", status)
        return status, {}, json.dumps(answer).encode(), _JSON, None

    def _record(self, method: str, path: str, body: Any, status: int, via: str = "http") -> None:
        if via == "http":
            self.status_counts[status] += 1
        self.requests.append(
            RecordedRequest(method, path, body if self.record_bodies else None, status, via)
        )

    # -- chat completions ------------------------------------------------------------------

    def _chat(self, body: bytes, respond: Callable[[_Answer], None]) -> None:
        """Answer a chat request through ``respond``, after the latency.

        A timer, not a task and a sleep: the benchmarks hold ~200 requests in flight on
        the cores of the client they measure, and a task per request costs them.
        """
        request = json.loads(body or b"{}")
        self.received += 1
        if self.in_flight == 0:
            self._busy_since = time.monotonic()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        early, reply = self._chat_plan(request)
        delay = 0.0 if early is not None else self.latency_s + (reply.delay_s if reply else 0.0)

        def finish() -> None:
            self._timers.discard(handle)
            try:
                status, extra, answer = early or self._answer(request, reply)
            finally:
                self.in_flight -= 1
                if self.in_flight == 0:
                    self.busy.append((self._busy_since, time.monotonic()))
            self._record("POST", "/v1/chat/completions", request, status)
            respond(_chat_payload(request, status, extra, answer, reply.fault if reply else ""))

        loop = asyncio.get_running_loop()
        handle = loop.call_later(delay, finish) if delay > 0 else loop.call_soon(finish)
        self._timers.add(handle)

    def _chat_plan(
        self, request: dict[str, Any]
    ) -> tuple[tuple[int, dict[str, str], dict[str, Any]] | None, Reply | None]:
        """(an answer given at once, a 429 or 400, else None; the scripted reply or None)."""
        if self._bucket is not None:
            wait = self._bucket.take()
            if wait is not None:
                return (429, {"retry-after": f"{wait:.3f}"}, _error_body(429, "rate limit")), None
        reply = self._scripted.popleft() if self._scripted else None
        if self._every is not None:
            self._every_seen += 1
            every, faulty = self._every
            if reply is None and self._every_seen % every == 0:
                reply = faulty
        fmt = (request.get("response_format") or {}).get("type")
        if reply is None and fmt == "json_schema" and not self.supports_json_schema:
            return (400, {}, _error_body(400, "response_format json_schema is not supported")), None
        return None, reply

    def _answer(
        self, request: dict[str, Any], reply: Reply | None
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        if reply is not None and reply.status != 200:
            extra = {} if reply.retry_after is None else {"retry-after": f"{reply.retry_after}"}
            return reply.status, extra, _error_body(reply.status, reply.message)
        if reply is None or reply.content is None:
            reply = self.policy(request)
        content = reply.content or ""
        prompt_text = "".join(str(m.get("content", "")) for m in request.get("messages", []))
        prompt_tokens = _approx_tokens(prompt_text) + 4 * len(request.get("messages", []))
        completion_tokens = _approx_tokens(content)
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
        }
        if request.get("logprobs"):
            choice["logprobs"] = _logprobs(content, reply.grade, request.get("top_logprobs") or 0)
        return (
            200,
            {},
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model", "fake"),
                "choices": [choice],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )

    # -- files and batches -----------------------------------------------------------------

    def _upload(self, content_type: str, body: bytes) -> tuple[int, dict[str, Any]]:
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if match is None:
            return 400, _error_body(400, "expected multipart/form-data")
        fields: dict[str, tuple[str, bytes]] = {}
        for part in body.split(b"--" + match.group(1).encode())[1:-1]:
            head, _, data = part.strip(b"\r\n").partition(b"\r\n\r\n")
            name = re.search(rb'name="([^"]+)"', head)
            filename = re.search(rb'filename="([^"]*)"', head)
            if name:
                label = filename.group(1).decode() if filename else ""
                fields[name.group(1).decode()] = (label, data)
        if "file" not in fields:
            return 400, _error_body(400, "missing 'file' field")
        file_id = f"file-{next(self._ids)}"
        label, data = fields["file"]
        self._files[file_id] = data
        purpose = fields.get("purpose", ("", b"batch"))[1].decode()
        return 200, {
            "id": file_id,
            "object": "file",
            "bytes": len(data),
            "created_at": int(time.time()),
            "filename": label or "upload.jsonl",
            "purpose": purpose,
            "status": "processed",
        }

    def _create_batch(self, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        file_id = request.get("input_file_id", "")
        if file_id not in self._files:
            return 400, _error_body(400, f"input_file_id {file_id!r} does not exist")
        batch = _Batch(
            id=f"batch_{next(self._ids)}",
            input_file_id=file_id,
            endpoint=request.get("endpoint", ""),
            completion_window=request.get("completion_window", "24h"),
            created_at=int(time.time()),
        )
        self._batches[batch.id] = batch
        return 200, batch.as_json()

    def _poll_batch(self, batch_id: str) -> tuple[int, dict[str, Any]]:
        batch = self._batches.get(batch_id)
        if batch is None:
            return 404, _error_body(404, f"no batch {batch_id!r}")
        batch.polls += 1
        if batch.status == "validating":
            batch.status = "in_progress"
        if batch.status == "in_progress" and batch.polls > self.batch_polls:
            self._complete(batch)
        return 200, batch.as_json()

    def _complete(self, batch: _Batch) -> None:
        lines = []
        for raw in self._files[batch.input_file_id].decode().splitlines():
            if not raw.strip():
                continue
            item = json.loads(raw)
            reply = self._scripted.popleft() if self._scripted else None
            status, _, answer = self._answer(item["body"], reply)
            self._record("POST", item.get("url", ""), item["body"], status, via="batch")
            if status == 200:
                self.paid[_digest(item["body"])] += 1
            batch.counts["total"] += 1
            batch.counts["completed" if status == 200 else "failed"] += 1
            lines.append(
                json.dumps(
                    {
                        "id": f"batch_req_{next(self._ids)}",
                        "custom_id": item["custom_id"],
                        "response": {"status_code": status, "request_id": "", "body": answer},
                        "error": None,
                    }
                )
            )
        output_id = f"file-{next(self._ids)}"
        self._files[output_id] = ("\n".join(lines) + "\n").encode()
        batch.output_file_id = output_id
        batch.status = "completed"


class _Connection(asyncio.Protocol):
    """One keep-alive connection: requests are parsed from the bytes received and
    answered one at a time, in order (HTTP/1.1 without pipelining, as clients use it)."""

    def __init__(self, server: FakeOpenAI) -> None:
        self._server = server
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._server._connections.discard(self)
        self._transport = None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._busy:
            self._next()

    def _next(self) -> None:
        try:
            request = _parse_request(self._buffer)
        except ValueError:
            self.close()  # not HTTP: hang up, as a real server would
            return
        if request is None:
            return  # wait for the rest of it
        self._busy = True
        method, target, headers, body = request
        path = target.split("?", 1)[0]
        if method == "POST" and path == "/v1/chat/completions":
            self._server._chat(body, lambda answer: self._send(answer, headers))
            return
        self._send(self._server._route(method, path, headers, body), headers)

    def _send(self, answer: _Answer, headers: dict[str, str]) -> None:
        status, extra, payload, content_type, billed = answer
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # the client gave up (a timeout) while the answer was delayed
        hang_up = content_type == _HANG_UP
        head = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}",
            f"content-type: {_JSON if hang_up else content_type}",
            f"content-length: {len(payload)}",
            "connection: keep-alive",
            *(f"{k}: {v}" for k, v in extra.items()),
        ]
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload
        if hang_up:  # promise the whole body, send half of it, hang up
            transport.write(data[: len(data) - len(payload) // 2])
            transport.close()
            return
        transport.write(data)
        if billed is not None:
            self._server.paid[billed] += 1
        if headers.get("connection", "").lower() == "close":
            transport.close()
            return
        self._busy = False
        if self._buffer:
            self._next()


def _chat_payload(
    request: dict[str, Any], status: int, extra: dict[str, str], answer: Any, fault: str
) -> _Answer:
    """A chat answer on the wire, broken as ``fault`` says."""
    payload = json.dumps(answer).encode()
    if fault == "html":
        page = b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>"
        return status, extra, page, _HTML, None
    if fault == "truncated":
        return status, extra, payload[: len(payload) // 2], _JSON, None
    if fault == "hang_up":
        return status, extra, payload, _HANG_UP, None
    return status, extra, payload, _JSON, _digest(request) if status == 200 else None


def _parse_request(buffer: bytearray) -> tuple[str, str, dict[str, str], bytes] | None:
    """Take one whole request off the front of ``buffer``; None while it is incomplete.

    Bodies come with ``content-length`` or chunked; a malformed request is a ValueError.
    """
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    start = end + 4
    if "content-length" in headers:
        stop = start + int(headers["content-length"])
        if len(buffer) < stop:
            return None
        body = bytes(buffer[start:stop])
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        stop = start
        while True:
            line_end = buffer.find(b"\r\n", stop)
            if line_end < 0:
                return None
            size = int(bytes(buffer[stop:line_end]).split(b";")[0].strip(), 16)
            stop = line_end + 2 + size + 2  # the chunk and its CRLF
            if len(buffer) < stop:
                return None
            if size == 0:
                break
            chunks.append(bytes(buffer[line_end + 2 : stop - 2]))
        body = b"".join(chunks)
    else:
        body, stop = b"", start
    del buffer[:stop]
    return method, target, headers, body


def _digest(request: dict[str, Any]) -> str:
    """The prompt of a chat request (its messages) as a short digest, to count repeats."""
    messages = json.dumps(request.get("messages", []), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(messages.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _error_body(status: int, message: str) -> dict[str, Any]:
    kind = "rate_limit_exceeded" if status == 429 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": None, "code": str(status)}}


def main(argv: list[str] | None = None) -> None:
    """Serve the fake in the foreground (``python -m monitor.testing``).

    A benchmark that wants its client alone on its process's GIL runs the server this
    way, in another process, and reads the base URL from the first line printed.
    """
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--rpm", type=float, default=None, help="answer 429 above this rate")
    args = parser.parse_args(argv)
    server = FakeOpenAI(
        latency_s=args.latency, rpm_limit=args.rpm, record_bodies=False, port=args.port
    )
    with server:
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
