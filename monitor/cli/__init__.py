"""The ``judge-monitor`` command: the front door to every flow and tool.

Each command group lives in its own module here and is registered below. Errors the
project raises on purpose (``JudgeMonitorError``) end as one red line and exit code 1,
never a traceback.
"""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.markup import escape

from monitor.cli import baseline as _baseline  # noqa: F401
from monitor.cli import calibrate as _calibrate  # noqa: F401
from monitor.cli import compare as _compare  # noqa: F401
from monitor.cli import dashboards as _dashboards  # noqa: F401
from monitor.cli import data as _data  # noqa: F401
from monitor.cli import db as _db  # noqa: F401  (registers its commands)
from monitor.cli import demo as _demo  # noqa: F401
from monitor.cli import exporter as _exporter  # noqa: F401
from monitor.cli import labels as _labels  # noqa: F401
from monitor.cli import report as _report  # noqa: F401
from monitor.cli import run as _run  # noqa: F401
from monitor.cli import sample as _sample  # noqa: F401
from monitor.cli import serve as _serve  # noqa: F401
from monitor.cli.app import app, console, err_console
from monitor.errors import JudgeMonitorError

__all__ = ["app", "main"]


def _fail(message: str) -> NoReturn:
    # the message is text, not markup: "[source]" in it must print as written
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    sys.exit(1)


def _database_problem(exc: Exception) -> str | None:
    """One line for a database failure a user can act on, or None for a bug."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    first = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    if type(orig).__name__ == "UndefinedTable":
        return (
            f"the database has no judge-monitor schema ({first}): create it with "
            "`judge-monitor db upgrade` (or run `judge-monitor demo` for the demo's data)"
        )
    if isinstance(exc, OperationalError):
        return f"lost the connection to the database: {first}"
    return None


def main() -> None:
    verbose = "--verbose" in sys.argv  # keeps the traceback of any failure
    try:
        # typer returns an exit code instead of raising, for Ctrl-C (130) and typer.Exit
        code = app(standalone_mode=False, prog_name="judge-monitor")
    except JudgeMonitorError as exc:
        if verbose:
            raise
        _fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        # click's usage errors (typer may ship its own copy of click, so they are
        # recognised by what they can do, not by class): the usage line and one error line
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        problem = None if verbose else _database_problem(exc)
        if problem is not None:
            _fail(problem)
        raise
    if code == 130:
        err_console.print("[yellow]interrupted[/]")
    if isinstance(code, int) and code:
        sys.exit(code)


_ = console
