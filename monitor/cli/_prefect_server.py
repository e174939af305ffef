"""Prefect's temporary API server out of reach of the terminal's Ctrl-C.

Without ``PREFECT_API_URL``, Prefect starts a temporary API server for the command, a
``python -m uvicorn`` child in the command's process group. Ctrl-C in a terminal sends
SIGINT to the whole group: the server shuts down at once, while the interrupted flow
still has to tell it that its run crashed and to send its last logs. Each of those calls
then retries against a closed port, and the command hung for a minute or more, printing
Prefect's "Error logging to API" dumps and tracebacks, with the day left ``running``.

``detach_temporary_server`` makes that server start in a process group of its own, so
Ctrl-C reaches only the command, which records its day as ``aborted``, lets Prefect mark
the run crashed and stops the server on its way out (Prefect's own ``atexit``). So that
a command killed outright (``kill -9``) does not leave the server behind, on Linux it is
also told to stop when the command's process ends (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["detach_temporary_server"]

_PR_SET_PDEATHSIG = 1


def detach_temporary_server() -> None:
    """Start Prefect's temporary server (if it is to be used) outside the terminal's
    process group, bound to this process's life. A no-op with ``PREFECT_API_URL`` set."""
    if os.environ.get("PREFECT_API_URL"):
        return
    from prefect.server.api import server as prefect_server

    if isinstance(prefect_server.subprocess, _DetachedSubprocess):
        return
    prefect_server.subprocess = _DetachedSubprocess()  # type: ignore[assignment]


class _DetachedSubprocess:
    """``subprocess`` as the server module sees it: its ``Popen`` detaches the child."""

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    @staticmethod
    def Popen(*args: Any, **kwargs: Any) -> subprocess.Popen[Any]:
        stop_with_us = _stop_with_parent()
        if stop_with_us is not None:  # else left as it was: never a server outliving us
            kwargs.setdefault("process_group", 0)  # its own group: Ctrl-C does not reach it
            kwargs.setdefault("preexec_fn", stop_with_us)
        return subprocess.Popen(*args, **kwargs)


def _stop_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that has the child SIGTERMed when this process ends (Linux).

    The kernel sends it when the *thread* that started the child ends, so it is only
    used from the main thread (which lasts as long as the process).
    """
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    prctl = ctypes.CDLL(libc_name, use_errno=True).prctl  # resolved before the fork
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent ended before the line above
            os._exit(1)

    return preexec
