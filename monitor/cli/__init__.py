"""The ``judge-monitor`` command: the front door to every flow and tool.

Each command group lives in its own module here and is registered below. Errors the
project raises on purpose (``JudgeMonitorError``) end as one red line and exit code 1,
never a traceback.
"""

from __future__ import annotations

import sys

from rich.markup import escape

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


def main() -> None:
    try:
        app(standalone_mode=False)
    except JudgeMonitorError as exc:
        # the message is text, not markup: "[source]" in it must print as written
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click's own usage errors are handled below
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


_ = console
