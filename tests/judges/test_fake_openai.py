"""The test double itself: HTTP/1.1 as clients speak it, and what it tells a benchmark.

The judge tests drive it through the real ``openai`` client; these cover what that
client never sends (chunked bodies, two requests in one packet, garbage) and the busy
time a benchmark reads from ``GET /fake/busy``.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request

from monitor.testing import FakeOpenAI

CHAT = {"model": "m", "messages": [{"role": "user", "content": '<query>"a b"</query>'}]}


def _post(body: bytes, *, chunked: bool = False) -> bytes:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    if not chunked:
        return head + b"content-length: %d\r\n\r\n" % len(body) + body
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:]))
    return head + b"transfer-encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


def _answers(sock: socket.socket, count: int) -> list[dict[str, object]]:
    """Read ``count`` HTTP answers (content-length bodies) off ``sock``."""
    data, out = b"", []
    while len(out) < count:
        data += sock.recv(65536)
        while b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) < length:
                break
            assert head.startswith(b"HTTP/1.1 200 ")
            out.append(json.loads(rest[:length]))
            data = rest[length:]
    return out


def test_keep_alive_chunked_and_back_to_back_requests_are_answered_in_order() -> None:
    body = json.dumps(CHAT).encode()
    with FakeOpenAI() as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(5)
        sock.sendall(_post(body))  # one request, then two in one packet, one chunked
        first = _answers(sock, 1)
        sock.sendall(_post(body, chunked=True) + _post(body))
        later = _answers(sock, 2)
        ids = [answer["id"] for answer in first + later]
        assert ids == ["chatcmpl-1", "chatcmpl-2", "chatcmpl-3"]  # one connection, in order
        assert [r.body for r in server.chat_requests()] == [CHAT] * 3


def test_garbage_gets_the_connection_closed() -> None:
    with FakeOpenAI() as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(5)
        sock.sendall(b"\x16\x03\x01garbage\r\n\r\n")  # no request line
        assert sock.recv(100) == b""  # hung up, nothing answered
        assert server.received == 0


def test_busy_time_covers_the_requests_being_answered() -> None:
    """What a benchmark reads as 'time spent waiting on the endpoint'."""
    with FakeOpenAI(latency_s=0.2) as server:
        root = server.base_url.removesuffix("/v1")
        request = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            data=json.dumps(CHAT).encode(),
            headers={"content-type": "application/json"},
        )
        before = time.monotonic()
        for _ in range(2):
            urllib.request.urlopen(request, timeout=5).read()
            time.sleep(0.1)  # idle between the two: not busy
        with urllib.request.urlopen(f"{root}/fake/busy", timeout=5) as answer:
            seen = json.load(answer)
    assert seen["in_flight"] == 0
    (a0, b0), (a1, b1) = seen["busy"]
    assert before <= a0 < b0 < a1 < b1 <= time.monotonic()
    assert 0.2 <= b0 - a0 < 0.3 and 0.2 <= b1 - a1 < 0.3
