"""What an OpenAI-compatible endpoint did wrong, in the words a failed call reports.

The endpoint as messages name it (never a user, password or query string), the real
cause under a connection error or a timeout (the client's own words hide it), and why a
status 200 answer is not a chat completion. Plain functions over what the ``openai``
client raises or returns, so the Batch API judge and the synchronous one say the same.
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import openai

__all__ = ["endpoint_label", "not_a_completion", "one_line", "transport_cause"]


def endpoint_label(base_url: str | None) -> str:
    """The endpoint as messages name it: scheme, host, port and path; never a user,
    password or query string (where some proxies put a key)."""
    if not base_url:
        return "https://api.openai.com/v1"
    parts = urlsplit(base_url)
    if not parts.hostname:
        return "(an unparsable base_url)"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"


def transport_cause(exc: BaseException, timeout_s: float) -> str:
    """What really went wrong under a connection error or timeout, in a few words.

    The client's own messages ("Connection error.", "Request timed out.") hide it: with
    the aiohttp transport even a refused connection arrives as a timeout. The chain of
    causes says what the socket saw.
    """
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 20:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    names = " ".join(type(e).__name__ for e in chain)
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "connection refused"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "host name not found"
    if any(isinstance(e, ConnectionResetError) for e in chain):
        return "connection reset"
    if "ContentLength" in names or "Payload" in names or "IncompleteRead" in names:
        return "closed the connection mid-response"
    if "ServerDisconnected" in names or "RemoteProtocol" in names or "Disconnected" in text:
        return "closed the connection without answering"
    if "SSL" in names or "Certificate" in names:
        return f"TLS failed ({one_line(str(chain[-1]))})"
    if isinstance(exc, openai.APITimeoutError) or any(isinstance(e, TimeoutError) for e in chain):
        return f"did not answer within {timeout_s:g}s (timed out)"
    return f"cannot be reached ({one_line(str(chain[-1]) or type(chain[-1]).__name__)})"


def not_a_completion(completion: Any) -> str:
    """Why a 200 answer is not a chat completion (a fault of the endpoint), or ""."""
    if isinstance(completion, str):
        if completion.lstrip()[:1] == "<":
            return "answered HTTP 200 with an HTML page, not JSON"
        return "answered HTTP 200 with a body that is not JSON"
    choices = completion.get("choices") if isinstance(completion, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    if isinstance(first, dict) and isinstance(first.get("message"), dict):
        return ""
    return "answered HTTP 200 with JSON that is not a chat completion"


def one_line(text: str, limit: int = 200) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
