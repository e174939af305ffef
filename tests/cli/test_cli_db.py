"""`judge-monitor db …` as a user runs it: a real process, real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from monitor.store.embedded import stop_embedded


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=base,
        cwd=cwd,
        timeout=300,
    )


def test_version_and_help() -> None:
    """--version prints the version; --help lists the db commands."""
    out = run_cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("judge-monitor ")
    helped = run_cli("db", "--help")
    assert helped.returncode == 0 and "upgrade" in helped.stdout and "status" in helped.stdout


def test_upgrade_then_status_on_database_url(empty_database_url: str) -> None:
    """db upgrade migrates an empty database; db status then reports it up to date."""
    env = {"DATABASE_URL": empty_database_url}
    up = run_cli("db", "upgrade", env=env)
    assert up.returncode == 0, up.stderr
    assert "schema upgraded from empty to" in up.stdout
    again = run_cli("db", "upgrade", env=env)
    assert "already at revision" in again.stdout
    status = run_cli("db", "status", env=env)
    assert status.returncode == 0
    assert "up to date" in status.stdout and "verdicts" in status.stdout


def test_unreachable_database_is_one_line_without_password() -> None:
    """A wrong DATABASE_URL: exit 1, one line naming the host, no password, no traceback."""
    out = run_cli("db", "status", env={"DATABASE_URL": "postgresql://bob:s3cr3t@127.0.0.1:1/x"})
    assert out.returncode == 1
    assert "127.0.0.1:1/x" in out.stderr
    assert "s3cr3t" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_embedded_default_starts_once_and_is_reused() -> None:
    """With no URL, the CLI starts an embedded PostgreSQL in the data folder and reuses it."""
    # outside pytest's basetemp, which a concurrent pytest may prune or re-create 0700
    with tempfile.TemporaryDirectory(prefix="jm-cli-") as tmp:
        _embedded_default(Path(tmp))


def _embedded_default(tmp_path: Path) -> None:
    env = {"JUDGE_MONITOR_DATA_DIR": str(tmp_path / "data")}
    try:
        first = run_cli("db", "upgrade", env=env)
        assert first.returncode == 0, first.stderr
        assert f"embedded PostgreSQL in {tmp_path / 'data' / 'pgdata'}" in first.stdout
        pid_file = tmp_path / "data" / "pgdata" / "postmaster.pid"
        pid = pid_file.read_text().split()[0]
        second = run_cli("db", "status", env=env)
        assert second.returncode == 0 and "up to date" in second.stdout
        assert pid_file.read_text().split()[0] == pid
    finally:
        stop_embedded(tmp_path / "data")
