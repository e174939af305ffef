"""Every error is one line: bad configuration, bad usage, no schema, a busy port.

Each case runs the real CLI in a subprocess, as an operator would, and checks what
reaches the terminal: a non-zero exit, the file/line/option named, and no traceback.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.lower().startswith("error")]
    assert len(errors) == 1, done.stderr
    return errors[0]


def test_toml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    """A TOML syntax error says which file, line and column."""
    (tmp_path / "judge-monitor.toml").write_text('ensemble = "median\n[source]\n')
    line = _one_line_error(_cli("run", "--date", "2026-01-01", cwd=tmp_path))
    assert "judge-monitor.toml" in line and "line 1, column" in line


def test_non_utf8_toml_is_named(tmp_path: Path) -> None:
    """A configuration file that is not UTF-8 is named, with the offending byte."""
    (tmp_path / "judge-monitor.toml").write_bytes(b'ensemble = "m\xe9dian"\n')
    line = _one_line_error(_cli("run", "--date", "2026-01-01", cwd=tmp_path))
    assert "judge-monitor.toml" in line and "UTF-8" in line and "0xe9" in line


@pytest.mark.parametrize(
    ("args", "named"),
    [(("run", "--bogus"), "--bogus"), (("backfill", "--start", "2026-01-01"), "--end")],
)
def test_usage_errors_print_the_usage_line(
    tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    """An unknown option or a missing one prints the usage line and one error naming it."""
    done = _cli(*args, cwd=tmp_path)
    line = _one_line_error(done)
    assert named in line
    assert f"Usage: judge-monitor {args[0]}" in done.stderr


def test_read_command_without_schema_says_how_to_create_it(
    tmp_path: Path, empty_database_url: str
) -> None:
    """``report`` on a database with no schema says so and names ``db upgrade``."""
    done = _cli(
        "report", "--date", "2026-01-01", cwd=tmp_path, env={"DATABASE_URL": empty_database_url}
    )
    assert "db upgrade" in _one_line_error(done)


def test_verbose_keeps_the_traceback(tmp_path: Path, empty_database_url: str) -> None:
    """With --verbose the same failure shows its traceback, for those who want it."""
    done = _cli(
        "--verbose", "report", "--date", "2026-01-01",
        cwd=tmp_path, env={"DATABASE_URL": empty_database_url},
    )  # fmt: skip
    assert done.returncode != 0 and "Traceback" in done.stderr


def test_busy_port_is_one_line(tmp_path: Path, database_url: str) -> None:
    """An exporter whose port is taken names the port instead of an OSError traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _cli(
            "exporter", "--port", str(port), "--addr", "127.0.0.1",
            cwd=tmp_path, env={"DATABASE_URL": database_url},
        )  # fmt: skip
    line = _one_line_error(done)
    assert f"--port {port}" in line and "in use" in line
