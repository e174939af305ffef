"""LLM judges in worker processes, so that a big run uses every core of the machine.

The ``openai`` client spends about a millisecond of CPU per call. Three judges at 64
concurrent calls of 200 ms ask for 960 calls a second, more than one Python process can
drive, so on a big run each LLM judge gets a process of its own. A worker runs exactly
what in-process judging runs (``judging.judge_one``: the cache lookup, chunks, every
chunk stored in the verdict cache as it arrives), on its own event loop and its own
connection to the database; only the items go in and the verdicts come back. A worker
that dies loses at most its chunks in flight: the rerun finds the rest in the cache.

Only judges that can be rebuilt from their configuration move (plain ``llm`` judges
without an injected client); local judges and Batch API judges stay in the process.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine

from monitor.config import JudgeConfig
from monitor.judges.base import Judge
from monitor.judges.llm import LLMJudge
from monitor.store.db import Database
from monitor.types import JudgeItem, Verdict

if TYPE_CHECKING:
    from monitor.judging import JudgeTally, Progress

__all__ = ["AUTO_MIN_ITEMS", "movable", "run_in_workers", "worker_count"]

#: ``judge_processes = 0`` (auto) uses workers from this many items per judge: below
#: it, starting a process (about a second) costs more than one core saves.
AUTO_MIN_ITEMS = 2_000
_HEADER = struct.Struct("!Q")  # the length of each pickled frame a worker writes

Outcome = tuple[list[Verdict | None], "JudgeTally"]


def movable(judge: Judge) -> bool:
    """Whether ``judge`` can be rebuilt from its configuration in another process."""
    return type(judge) is LLMJudge and not judge.has_injected_client


def worker_count(requested: int, judges: Sequence[Judge], items: int) -> int:
    """How many worker processes to judge with; 0 means in this process.

    ``requested``: 0 = auto (one per movable judge on runs of ``AUTO_MIN_ITEMS`` items
    or more, when the machine has more than one core), 1 = never, N = at most N.
    """
    candidates = sum(1 for judge in judges if movable(judge))
    if requested == 1 or candidates == 0 or items == 0:
        return 0
    if requested == 0:
        if items < AUTO_MIN_ITEMS or (os.cpu_count() or 1) < 2:
            return 0
        return candidates
    return min(requested, candidates)


async def run_in_workers(
    database: Database,
    judges: Sequence[Judge],
    items: Sequence[JudgeItem],
    *,
    workers: int,
    chunk: int,
    progress: Progress | None,
) -> dict[str, Outcome]:
    """Every judge's verdicts and tally, judged in ``workers`` processes (judges shared out).

    A worker is ``python -m monitor.judge_workers``: its job and the items (pickled once
    for all workers) arrive as two pickles on stdin; progress and the outcome leave as
    pickled frames on stdout. Progress is passed to ``progress`` on this event loop. A
    worker that fails raises its error here; one that dies without a word is reported
    in its judges' tallies, as an endpoint failure would be.
    """
    groups = [list(judges[i::workers]) for i in range(workers)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    processes: list[asyncio.subprocess.Process] = []
    try:
        for _ in groups:  # all started before any is fed: their imports overlap
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    __name__,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env=env,
                )
            )
        shipped = pickle.dumps(list(items), protocol=pickle.HIGHEST_PROTOCOL)  # once for all
        where = (database.url, database.where)
        results = await asyncio.gather(
            *(
                _drive(process, (where, [j.config for j in group], chunk), shipped, progress)
                for process, group in zip(processes, groups, strict=True)
            )
        )
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
            await process.wait()
    outcomes: dict[str, Outcome] = {}
    for group, (result, code) in zip(groups, results, strict=True):
        if result is not None:
            outcomes.update(result)
            continue
        for judge in group:  # the worker died without a word
            lost = _tally(
                f"judge {judge.name!r}: its worker process stopped (exit code {code}); "
                "the answers it stored before that are kept in the cache"
            )
            outcomes[judge.name] = ([None] * len(items), lost)
    return outcomes


async def _drive(
    process: asyncio.subprocess.Process,
    job: tuple[Any, ...],
    items: bytes,
    progress: Progress | None,
) -> tuple[dict[str, Outcome] | None, int | None]:
    """Feed one worker its job (then the pickled items) and read its frames.

    Returns (outcomes, None), or (None, exit code) for a worker that died without a word.
    """
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL) + items)
    try:
        await process.stdin.drain()
        process.stdin.close()
    except (BrokenPipeError, ConnectionResetError):
        pass  # it died before reading its job: reported below from its exit code
    while True:
        try:
            header = await process.stdout.readexactly(_HEADER.size)
            (size,) = _HEADER.unpack(header)
            kind, *payload = pickle.loads(await process.stdout.readexactly(size))
        except asyncio.IncompleteReadError:
            return None, await process.wait()
        if kind == "progress":
            if progress is not None:
                progress(*payload)
        elif kind == "done":
            await process.wait()
            return payload[0], None
        else:  # "failed": the worker's own error, raised here as it was raised there
            raise payload[0]


def _tally(error: str) -> JudgeTally:
    from monitor.judging import JudgeTally

    return JudgeTally(errors=[error])


def main() -> None:
    """A worker: read the job from stdin, judge, write frames to the real stdout.

    Anything else that writes to stdout (a stray print, a library) goes to stderr, so
    it cannot corrupt the frames.
    """
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def send(*message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        frames.write(_HEADER.pack(len(data)) + data)
        frames.flush()

    try:
        where, configs, chunk = pickle.load(sys.stdin.buffer)
        items = pickle.load(sys.stdin.buffer)
        send("done", asyncio.run(_judge_group(send, where, configs, items, chunk)))
    except BaseException as exc:  # every failure goes back to the parent
        send("failed", _portable(exc))


async def _judge_group(
    send: Callable[..., None],
    where: tuple[str, str],
    configs: list[JudgeConfig],
    items: list[JudgeItem],
    chunk: int,
) -> dict[str, Outcome]:
    from monitor.judges.factory import build_judge, close_judges
    from monitor.judging import judge_one

    url, described = where
    engine = create_engine(url, pool_pre_ping=True)
    database = Database(engine=engine, url=url, where=described, embedded=False)

    def progress(name: str, done: int, total: int) -> None:
        send("progress", name, done, total)

    judges = [build_judge(config) for config in configs]
    try:
        results = await asyncio.gather(
            *(judge_one(database, judge, items, chunk, progress) for judge in judges)
        )
    finally:
        await close_judges(judges)
        engine.dispose()
    return {judge.name: result for judge, result in zip(judges, results, strict=True)}


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling to the parent, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


if __name__ == "__main__":
    main()
