"""``kill -9`` mid-judging, then rerun: the rerun pays only for what was never answered.

A real ``python -m monitor run --date D`` (its own process group: the CLI, Prefect's
temporary API and any judge worker) judges a day with an LLM judge on the fake endpoint
in this test process, slowly enough that judging takes several seconds. Once the server
has delivered a good part of the day's answers the whole group is killed with SIGKILL.
The rerun then completes, and the server's own count of completions per prompt shows
what was paid twice: at most the calls in flight at the kill plus the answers of the
last flush window (half a second), never the answers paid before it.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fault_setup import DAY, KEY, KEY_VAR
from sqlalchemy import create_engine, text

from monitor.judging.cache import FLUSH_S
from monitor.testing import FakeOpenAI

LATENCY_S = 0.2
CONCURRENCY = 8
QUERIES, TOP_K = 60, 5
#: answers a flush window can hold at the endpoint's pace (a flush's own time included)
WINDOW = CONCURRENCY + math.ceil(CONCURRENCY / LATENCY_S * (FLUSH_S + 0.3))


def _config(tmp_path: Path, base_url: str, processes: int) -> Path:
    path = tmp_path / "judge-monitor.toml"
    path.write_text(
        f"""
judge_processes = {processes}
canary_size = 0  # the canary re-asks anchors on purpose; its calls are counted in its tests

[[judges]]
name = "gpt"
kind = "llm"
model = "fake-model"
base_url = "{base_url}"
api_key_env = "{KEY_VAR}"
max_concurrency = {CONCURRENCY}
max_retries = 1

[source]
kind = "demo"
[source.options]
seed = 5
searches_per_day = 1500
items = 1000
queries_per_locale = 500

[sampling]
size = {QUERIES}
min_per_stratum = 1
top_k = {TOP_K}
"""
    )
    return path


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--date", DAY.isoformat()],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql)).all()]
    finally:
        engine.dispose()


def _count(url: str, sql: str) -> int:
    return int(_rows(url, sql)[0][0])


@pytest.mark.parametrize("processes", [1, 2], ids=["in-process", "judge-worker"])
def test_sigkill_mid_judging_then_the_rerun_pays_only_the_unanswered(
    tmp_path: Path, database_url: str, processes: int
) -> None:
    """Killed after 40% of the day was answered, the rerun re-pays at most the calls in
    flight and one flush window (far below what was answered), completes, and leaves each
    verdict once; at the server, every prompt of the day was answered."""
    expected = QUERIES * TOP_K  # about: a few searches list fewer results
    with FakeOpenAI(latency_s=LATENCY_S, record_bodies=False) as server:
        env = {
            **os.environ,
            "JUDGE_MONITOR_CONFIG": str(_config(tmp_path, server.base_url, processes)),
            "DATABASE_URL": database_url,
            KEY_VAR: KEY,
            "PREFECT_HOME": str(tmp_path / "prefect"),
            # Prefect's temporary API may take more than its default 20 s on a busy machine
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
        }
        run = _start(env, tmp_path / "killed.log")
        deadline = time.monotonic() + 240
        while server.paid_calls < 0.4 * expected:
            assert run.poll() is None, (tmp_path / "killed.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "judging did not start in time"
            time.sleep(0.02)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        time.sleep(3 * LATENCY_S)  # what was in flight reaches the server's count now
        answered = server.paid_calls
        cached = _count(database_url, "SELECT count(*) FROM verdict_cache")
        assert 0.4 * expected <= answered < 0.9 * expected
        assert answered - cached <= WINDOW  # lost at the kill: in flight, unflushed

        rerun = subprocess.run(
            [sys.executable, "-m", "monitor", "run", "--date", DAY.isoformat()],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-3000:]
        paid_twice = server.paid_twice
        assert paid_twice <= WINDOW and paid_twice * 4 < answered
        items = _count(database_url, "SELECT count(*) FROM ensemble_grades")
        assert items > 0.8 * expected
        assert server.distinct_paid == items  # every question of the day answered
    verdicts = _rows(
        database_url,
        "SELECT count(*), count(DISTINCT (sample_id, result_id, judge_id)) FROM verdicts",
    )
    assert verdicts == [(items, items)]
    statuses = _rows(database_url, "SELECT status FROM runs ORDER BY id DESC LIMIT 1")
    assert statuses == [("completed",)]
