"""Shared by the benchmark scripts: timing, a scratch database, and result files.

Benchmarks print their figures and never pass or fail on time. Each run appends its
figures as one JSON line to ``bench/results/<name>.jsonl`` (with the commit), and the
script's last printed line is that JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from monitor.config import normalize_database_url
from monitor.store.db import Database
from monitor.store.embedded import start_embedded, stop_embedded
from monitor.store.migrate import upgrade
from monitor.types import Verdict, VerdictStatus

RESULTS = Path(__file__).resolve().parent / "results"
DL19_ENV = "JUDGE_MONITOR_TREC_DL19"
DL19_QRELS = "qrels.dl19-passage.txt"


def add_data_dir_option(parser: argparse.ArgumentParser) -> None:
    """``--data-dir``: the TREC DL19 folder, by default ``$JUDGE_MONITOR_TREC_DL19``."""
    default = os.environ.get(DL19_ENV) or None
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(default) if default else None,
        help=f"folder with {DL19_QRELS} and run.<ranker>.jsonl (default: ${DL19_ENV})",
    )


def require_data_dir(data_dir: Path | None) -> Path:
    """The data folder, or exit with one line saying how to get it."""
    if data_dir is None:
        raise SystemExit(f"no TREC DL19 data: pass --data-dir or set {DL19_ENV} (`make data`)")
    if not (data_dir / DL19_QRELS).is_file():
        raise SystemExit(f"--data-dir {data_dir}: no {DL19_QRELS} there (`make data`)")
    return data_dir


def timed(fn: Callable[[], Any], runs: int = 5) -> dict[str, float]:
    """Run ``fn`` ``runs`` times; median, min and max wall seconds."""
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(seconds),
        "min_s": min(seconds),
        "max_s": max(seconds),
    }


def bench_verdict(judge: str, key: str, grade: int) -> Verdict:
    """A paid, valid verdict of realistic size, as the storage benches write them."""
    return Verdict(
        judge=judge,
        cache_key=key,
        status=VerdictStatus.OK,
        grade=grade,
        reasoning="The passage answers the question directly.",
        raw='{"reasoning": "...", "grade": 2}',
        model="m",
        prompt_version="p",
        input_tokens=420,
        output_tokens=35,
        latency_ms=201.5,
        cost_usd=0.0000876,
    )


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def report(name: str, figures: dict[str, Any]) -> None:
    """Append the figures to bench/results/<name>.jsonl and print them as the last line."""
    record = {"bench": name, "commit": _commit(), "at": dt.datetime.now(dt.UTC).isoformat()}
    record.update(figures)
    RESULTS.mkdir(exist_ok=True)
    line = json.dumps(record, sort_keys=True)
    with (RESULTS / f"{name}.jsonl").open("a") as fh:
        fh.write(line + "\n")
    print(line)


@contextlib.contextmanager
def scratch_database() -> Iterator[Database]:
    """A migrated throwaway database: on DATABASE_URL's server, else an embedded one."""
    env = os.environ.get("DATABASE_URL")
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if env:
        admin = normalize_database_url(env)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="jm-bench-")
        admin = start_embedded(Path(tmp.name), database="bench_admin")
    name = f"jm_bench_{uuid.uuid4().hex[:8]}"
    conninfo = make_url(admin).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(admin).set(database=name).render_as_string(False)
    engine = create_engine(url)
    try:
        upgrade(engine, url)
        yield Database(engine=engine, url=url, where=name, embedded=env is None)
    finally:
        engine.dispose()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            conn.execute(drop.format(sql.Identifier(name)))
        if tmp is not None:
            stop_embedded(Path(tmp.name))
            tmp.cleanup()


def endpoint_busy_s(base_urls: list[str], start: float, end: float) -> float:
    """Seconds within [start, end] (``time.monotonic()``) in which at least one of the
    fake endpoints was answering a chat request: the run's time spent waiting on the
    endpoint, as the endpoints themselves saw it (``GET /fake/busy``)."""
    intervals: list[tuple[float, float]] = []
    for base in base_urls:
        root = base.rsplit("/v1", 1)[0]
        with urllib.request.urlopen(f"{root}/fake/busy", timeout=10) as answer:
            intervals += [(a, b) for a, b in json.load(answer)["busy"]]
    total, reach = 0.0, start
    for a, b in sorted(intervals):
        a, b = max(a, reach), min(b, end)
        if b > a:
            total += b - a
            reach = b
    return total


class WorkerRss:
    """Peak resident memory of this process plus its judge worker processes, in MB.

    A background thread samples ``/proc`` every ``interval_s``: ``ru_maxrss`` of the
    process alone would hide the workers' memory (the fake endpoints, standing in for
    another machine, are not counted).
    """

    def __init__(self, interval_s: float = 0.25) -> None:
        import threading

        self.peak_mb = 0.0
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> WorkerRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, self.now_mb())
            if self._stop.wait(self._interval):
                return

    @staticmethod
    def now_mb() -> float:
        pids = [os.getpid()]
        for children in Path(f"/proc/{os.getpid()}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for pid in children.read_text().split():
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    if b"monitor.judging.workers" in cmdline:
                        pids.append(int(pid))
        total_kb = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total_kb += int(line.split()[1])
        return total_kb / 1024
