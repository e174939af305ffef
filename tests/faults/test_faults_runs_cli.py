"""Runs as an operator starts them: two at once, Ctrl-C, Postgres gone mid-run.

Each case runs the real CLI (``python -m monitor``, its own process group, Prefect's
temporary API included) against a fresh real database, with an LLM judge on the fake
endpoint in this test process, whose latency the test turns up to keep a run judging
while it does something to it, and down again to let it finish. The server counts every
completion per prompt, so "paid twice" is counted where it would be billed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fault_setup import DAY, KEY, KEY_VAR
from psycopg import sql
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.testing import FakeOpenAI

#: Prefect's temporary API starts in 5-60 s on a loaded two-core machine
STARTUP_S = 240
SLOW_S = 3.0  # latency that keeps a run judging while the test acts on it
HOLD_S = 30.0  # latency that keeps a run judging while a second run starts beside it
PRICE = 100.0  # dollars per million tokens: every paid call costs something


def _config(tmp_path: Path, base_url: str, *, size: int = 10, name: str = "jm.toml") -> Path:
    path = tmp_path / name
    path.write_text(
        f"""
judge_processes = 1
canary_size = 0  # the canary re-asks its anchors daily on purpose: not what is counted here

[[judges]]
name = "gpt"
kind = "llm"
model = "fake-model"
base_url = "{base_url}"
api_key_env = "{KEY_VAR}"
max_concurrency = 2
max_retries = 1
timeout_s = 120
price_input_per_mtok = {PRICE}
price_output_per_mtok = {PRICE}

[source]
kind = "demo"
[source.options]
seed = 5
searches_per_day = 300
items = 400
queries_per_locale = 200

[sampling]
size = {size}
min_per_stratum = 1
top_k = 3
"""
    )
    return path


def _env(tmp_path: Path, config: Path, database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "JUDGE_MONITOR_CONFIG": str(config),
        "DATABASE_URL": database_url,
        KEY_VAR: KEY,
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        "COLUMNS": "200",
    }


def _start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=STARTUP_S + 120,
    )


def _wait_for(what: str, ready: Callable[[], bool], run: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while not ready():
        if run.poll() is not None:
            out, err = run.communicate()
            pytest.fail(f"the run ended before {what}: {out[-2000:]} {err[-3000:]}")
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def _rows(url: str, sql_text: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql_text), params).all()]
    finally:
        engine.dispose()


def _runs(url: str) -> list[tuple[Any, ...]]:
    return _rows(url, "SELECT id, run_date, status FROM runs ORDER BY id")


def _unique_verdicts(url: str) -> None:
    """Every verdict and ensemble grade of the day stored once."""
    for table, key in (
        ("verdicts", "(sample_id, result_id, judge_id)"),
        ("ensemble_grades", "(sample_id, result_id)"),
    ):
        [(n, distinct)] = _rows(url, f"SELECT count(*), count(DISTINCT {key}) FROM {table}")
        assert n == distinct and n > 0, table


@pytest.mark.parametrize("second_config", ["same", "changed"])
def test_a_second_run_of_the_day_is_refused_and_nothing_is_paid_twice(
    tmp_path: Path, database_url: str, second_config: str
) -> None:
    """While one `run` judges a day, a second `run` of it (same configuration, or a
    changed one that would replace the day's sample) is refused in one line naming the
    first run, its pid and host; the first completes, each prompt was paid once, and its
    row keeps the cost of what was paid."""
    with FakeOpenAI(latency_s=HOLD_S, record_bodies=False) as server:
        config = _config(tmp_path, server.base_url)
        env = _env(tmp_path, config, database_url)
        first = _start(env, "run", "--date", DAY.isoformat())
        _wait_for("judging started", lambda: server.received > 0, first)
        size = 10 if second_config == "same" else 12
        second_env = {
            **env,
            "JUDGE_MONITOR_CONFIG": str(
                _config(tmp_path, server.base_url, size=size, name="second.toml")
            ),
        }
        second = _run(second_env, "run", "--date", DAY.isoformat())
        assert first.poll() is None, "the first run ended before the second was refused"
        server.latency_s = 0.0
        out, err = first.communicate(timeout=STARTUP_S)
        assert first.returncode == 0, out[-2000:] + err[-3000:]

        assert second.returncode == 1, second.stdout[-2000:] + second.stderr[-2000:]
        line = _one_error_line(second.stderr)
        [(run_id, _, status)] = _runs(database_url)
        assert line.startswith(
            f"error: day {DAY.isoformat()} is being judged by run #{run_id} (pid {first.pid} "
            "on host "
        )
        assert line.endswith("UTC); wait for it or stop it")
        assert status == "completed"
        assert server.paid_twice == 0
        paid = server.paid_calls
    [(judged, cost)] = _rows(database_url, "SELECT (counts->>'judged')::int, cost_usd FROM runs")
    [(items, paid_cost)] = _rows(database_url, "SELECT count(*), sum(cost_usd) FROM verdict_cache")
    assert judged == paid == items
    assert cost == pytest.approx(paid_cost) and cost > 0
    _unique_verdicts(database_url)


def test_ctrl_c_in_backfill_exits_at_once_and_records_the_day_aborted(
    tmp_path: Path, database_url: str
) -> None:
    """Ctrl-C (SIGINT to the command's whole process group, as a terminal sends it) in
    the middle of a backfill's first day exits within seconds with code 130 and one
    line, records that day `aborted` and starts no other day; the next backfill then
    completes every day, paying nothing twice."""
    with FakeOpenAI(latency_s=SLOW_S, record_bodies=False) as server:
        env = _env(tmp_path, _config(tmp_path, server.base_url), database_url)
        days = ["--start", DAY.isoformat(), "--end", (DAY.replace(day=DAY.day + 2)).isoformat()]
        backfill = _start(env, "backfill", *days)
        _wait_for("judging started", lambda: server.paid_calls >= 2, backfill)
        interrupted = time.monotonic()
        os.killpg(backfill.pid, signal.SIGINT)
        out, err = backfill.communicate(timeout=120)
        took = time.monotonic() - interrupted
        assert backfill.returncode == 130, out[-2000:] + err[-3000:]
        assert took < 30, f"Ctrl-C took {took:.1f} s to exit"
        assert [line for line in err.splitlines() if line.strip()] == ["interrupted"], err
        print(f"Ctrl-C to exit: {took:.1f} s")
        assert [(d, s) for _, d, s in _runs(database_url)] == [(DAY, "aborted")]
        [(error,)] = _rows(database_url, "SELECT error FROM runs")
        assert error == "interrupted (Ctrl-C)"

        server.latency_s = 0.0
        again = _run(env, "backfill", *days)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
        assert [s for _, _, s in _runs(database_url)] == ["completed"] * 3
        assert server.paid_twice <= 2  # at most the calls in flight at the interrupt
    _unique_verdicts(database_url)


def test_postgres_gone_mid_run_is_one_line_and_the_next_run_takes_the_day_over(
    tmp_path: Path, database_url: str, admin_url: str
) -> None:
    """The database refusing connections and every session of the run terminated
    mid-judging: the run exits non-zero with one line saying the connection was lost;
    its row is left `running`, and once the database is back the next run of the day
    records it abandoned, takes the day over and completes."""
    name = make_url(database_url).database
    assert name
    admin = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with FakeOpenAI(latency_s=SLOW_S, record_bodies=False) as server:
        env = _env(tmp_path, _config(tmp_path, server.base_url), database_url)
        run = _start(env, "run", "--date", DAY.isoformat())
        _wait_for("judging started", lambda: server.paid_calls >= 2, run)
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(
                    sql.Identifier(name)
                )
            )
            try:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (name,),
                )
                paid_before = server.paid_calls
                out, err = run.communicate(timeout=180)
            finally:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(
                        sql.Identifier(name)
                    )
                )
        assert run.returncode == 1, out[-2000:] + err[-3000:]
        line = _one_error_line(err)
        assert line.startswith("error: lost the connection to the database: "), line
        [(run_id, _, status)] = _runs(database_url)
        assert status == "running"  # nothing could record its end

        server.latency_s = 0.0
        rerun = _run(env, "run", "--date", DAY.isoformat())
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
        # lost: the 2 calls in flight, and what came in since the last flush (0.5 s: 2 at most)
        assert server.paid_twice <= 4
        print(f"paid before the outage {paid_before}, paid twice {server.paid_twice}")
        assert f"note: run #{run_id} of {DAY.isoformat()} (pid {run.pid} on host " in rerun.stdout
        [(_, _, status)] = _runs(database_url)
        assert status == "completed"
        [(took_over,)] = _rows(database_url, "SELECT counts->>'took_over' FROM runs")
        assert took_over.startswith(f"run #{run_id} of {DAY.isoformat()} (pid {run.pid} on host ")
        assert "was abandoned" in took_over
    _unique_verdicts(database_url)
