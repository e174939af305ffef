"""LLM judges in worker processes, so that a big run uses every core of the machine.

The ``openai`` client spends about a millisecond of CPU per call. Three judges at 64
concurrent calls of 200 ms ask for 960 calls a second, more than one Python process can
drive, so on a big run each LLM judge gets a process of its own. A worker runs exactly
what in-process judging runs (``judging.judge_one``: the cache lookup, chunks, answers
flushed to the verdict cache in small batches as they arrive), on its own event loop and
its own connection to the database; only the items go in and the verdicts come back,
each flushed batch as soon as it is stored (while the parent mostly waits, not all at
once at the end), failed calls counted in the tallies. A worker that dies loses at most
its calls in flight and its last half second of answers: the parent keeps what it was
sent, and the rerun finds the rest in the cache.

Only judges that can be rebuilt from their configuration move (plain ``llm`` judges
without an injected client); local judges and Batch API judges stay in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import operator
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy import create_engine

from monitor.judges.base import Judge, Portable
from monitor.store.db import Database
from monitor.types import JudgeItem, Result, Verdict

if TYPE_CHECKING:
    from monitor.judging.cache import JudgeTally, Progress

__all__ = ["AUTO_MIN_ITEMS", "movable", "run_in_workers", "warm_workers", "worker_count"]

#: ``judge_processes = 0`` (auto) uses workers from this many items per judge: below
#: it, starting a process (about a second) costs more than one core saves.
AUTO_MIN_ITEMS = 2_000
_HEADER = struct.Struct("!Q")  # the length of each pickled frame a worker writes

Outcome = tuple[list[Verdict | None], "JudgeTally"]
Worker = subprocess.Popen[bytes]
#: A verdict on the wire: its fields in order (rebuilt with ``Verdict(*fields)``).
_verdict_fields = operator.attrgetter(*(f.name for f in dataclasses.fields(Verdict)))

#: Workers started ahead of their job by ``warm_workers``, taken by ``run_in_workers``.
_warm: list[Worker] = []


def movable(judge: Judge) -> bool:
    """Whether ``judge`` can be rebuilt from its configuration in another process."""
    return isinstance(judge, Portable) and judge.portable


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


def _spawn() -> Worker:
    """A worker process: it imports what judging needs, then waits for its job on stdin."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen(
        [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )


@contextlib.contextmanager
def warm_workers(requested: int, judges: Sequence[Judge], expected_items: int) -> Iterator[None]:
    """Start now the workers a run of about ``expected_items`` items will judge with.

    A worker spends a second or so importing (the ``openai`` package alone is half of
    it); started before the day is sampled, that second overlaps with sampling instead
    of delaying the first call. ``run_in_workers`` takes these workers first; those it
    did not take (a smaller sample than expected) are stopped on leaving.
    """
    started = [_spawn() for _ in range(worker_count(requested, judges, expected_items))]
    _warm.extend(started)
    try:
        yield
    finally:
        for worker in started:
            if worker in _warm:
                _warm.remove(worker)
                _stop(worker)


def _stop(worker: Worker) -> None:
    if worker.poll() is None:
        worker.kill()
    worker.wait()
    for pipe in (worker.stdin, worker.stdout):
        if pipe is not None:
            pipe.close()


async def run_in_workers(
    database: Database,
    judges: Sequence[Judge],
    items: Sequence[JudgeItem],
    *,
    workers: int,
    chunk: int,
    progress: Progress | None,
    max_failed: int | None = None,
) -> dict[str, Outcome]:
    """Every judge's verdicts and tally, judged in ``workers`` processes (judges shared out).

    A worker is ``python -m monitor.judging.workers`` (one ``warm_workers`` started ahead,
    or a new one): its job, then the items (pickled once for all workers, while the
    workers set up their judges), arrive as two pickles on stdin; verdicts (a chunk at a
    time), progress and the tallies leave as pickled frames on stdout. Progress is
    passed to ``progress`` on this event loop. A worker that fails raises its error here;
    one that dies without a word is reported in its judges' tallies, as an endpoint
    failure would be, and the verdicts it sent before are kept.
    """
    groups = [list(judges[i::workers]) for i in range(workers)]
    processes: list[Worker] = []
    try:
        for _ in groups:  # all started before any is fed: their imports overlap
            processes.append(_warm.pop() if _warm else _spawn())
        where = (database.url, database.where)
        shipped: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        driving = asyncio.gather(
            *(
                _drive(
                    process,
                    (where, [j.config for j in group], chunk, max_failed),
                    shipped,
                    len(items),
                    progress,
                )
                for process, group in zip(processes, groups, strict=True)
            )
        )
        try:
            shipped.set_result(await asyncio.to_thread(_pack, items))  # the jobs went first
            results = await driving
        except BaseException:
            driving.cancel()  # its feeders may still wait for the items
            raise
    finally:
        for process in processes:
            _stop(process)  # a worker that is done has exited; any other is killed
    outcomes: dict[str, Outcome] = {}
    for group, (answers, tallies, code) in zip(groups, results, strict=True):
        for judge in group:
            verdicts = answers.get(judge.name) or [None] * len(items)
            if tallies is not None:
                outcomes[judge.name] = (verdicts, tallies[judge.name])
                continue
            lost = _tally(  # the worker died without a word
                f"judge {judge.name!r}: its worker process stopped (exit code {code}); "
                "the answers it sent before that are kept, and all it stored is in the cache"
            )
            for verdict in verdicts:
                if verdict is not None:
                    lost.add(verdict)
            outcomes[judge.name] = (verdicts, lost)
    return outcomes


async def _drive(
    process: Worker,
    job: tuple[Any, ...],
    items: asyncio.Future[bytes],
    size: int,
    progress: Progress | None,
) -> tuple[dict[str, list[Verdict | None]], dict[str, JudgeTally] | None, int | None]:
    """Feed one worker its job, then the pickled items once they are ready, and read its
    frames.

    Returns (verdicts by judge, tallies by judge, None), or (the verdicts received, None,
    exit code) for a worker that died without a word.
    """
    assert process.stdin is not None and process.stdout is not None
    loop = asyncio.get_running_loop()
    stdout = asyncio.StreamReader()
    reading, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stdout), process.stdout
    )
    writing, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, process.stdin
    )
    try:
        stdin = asyncio.StreamWriter(writing, protocol, None, loop)
        # one that died before reading its job is reported below, from its exit code
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL))
            await stdin.drain()
            stdin.write(await items)
            await stdin.drain()
        writing.close()
        answers: dict[str, list[Verdict | None]] = {}
        while True:
            try:
                header = await stdout.readexactly(_HEADER.size)
                (length,) = _HEADER.unpack(header)
                kind, *payload = pickle.loads(await stdout.readexactly(length))
            except asyncio.IncompleteReadError:
                return answers, None, await asyncio.to_thread(process.wait)
            if kind == "answers":
                name, rows = payload
                verdicts = answers.setdefault(name, [None] * size)
                for index, *fields in rows:
                    verdicts[index] = Verdict(*fields)
            elif kind == "progress":
                if progress is not None:
                    progress(*payload)
            elif kind == "done":  # its exit is not waited for: it has nothing left to do
                return answers, payload[0], None
            else:  # "failed": the worker's own error, raised here as it was raised there
                raise payload[0]
    finally:
        writing.close()
        reading.close()


def _pack(items: Sequence[JudgeItem]) -> bytes:
    """The items as one pickle of plain tuples: a worker rebuilds 20,000 items from it
    in half the time unpickling the dataclasses themselves takes."""
    rows = [
        (i.query, i.reference, i.result.id, i.result.position, i.result.title, i.result.text)
        + ((dict(i.result.metadata),) if i.result.metadata else ())
        for i in items
    ]
    return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(rows: list[tuple[Any, ...]]) -> list[JudgeItem]:
    return [JudgeItem(query, Result(*result), reference) for query, reference, *result in rows]


def _tally(error: str) -> JudgeTally:
    from monitor.judging.cache import JudgeTally

    return JudgeTally(errors=[error])


def main() -> None:
    """A worker: read the job from stdin, judge, write frames to the real stdout.

    Anything else that writes to stdout (a stray print, a library) goes to stderr, so
    it cannot corrupt the frames.
    """
    frames = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # A chunk's verdicts are a frame of ~60 KB, about a default pipe buffer: with a 1 MB
    # buffer the worker's event loop (and its calls in flight) does not wait for the
    # parent to read one (Linux; elsewhere the default stays).
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(frames.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)

    def send(*message: Any) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        frames.write(_HEADER.pack(len(data)) + data)
        frames.flush()

    try:
        # what judging needs beyond this module, imported before the job arrives (a
        # warm worker waits for it while the day is sampled)
        import monitor.judges.factory
        import monitor.judging.cache  # noqa: F401

        send("done", asyncio.run(_judge_group(send, sys.stdin.buffer)))
    except BaseException as exc:  # every failure goes back to the parent
        send("failed", _portable(exc))
    # Everything is sent and flushed: skip the interpreter's teardown of tens of
    # thousands of objects (a few tenths of a second the run would wait for).
    sys.stderr.flush()
    os._exit(0)


async def _judge_group(send: Callable[..., None], stdin: BinaryIO) -> dict[str, JudgeTally]:
    """Read the job, set up its judges and database, then read the items and judge them;
    the verdicts are sent as they come, the tallies returned."""
    from monitor.judges.factory import build_judge, close_judges
    from monitor.judging.cache import judge_one

    (url, described), configs, chunk, max_failed = pickle.load(stdin)
    engine = create_engine(url, pool_pre_ping=True)
    database = Database(engine=engine, url=url, where=described, embedded=False)

    def progress(name: str, done: int, total: int) -> None:
        send("progress", name, done, total)

    def answered_by(name: str) -> Callable[[list[tuple[int, Verdict]]], None]:
        def answered(pairs: list[tuple[int, Verdict]]) -> None:
            send("answers", name, [(index, *_verdict_fields(v)) for index, v in pairs])

        return answered

    judges = [build_judge(config) for config in configs]
    try:
        engine.connect().close()  # connected while the parent pickles the items
        items = _unpack(pickle.load(stdin))
        results = await asyncio.gather(
            *(
                judge_one(
                    database,
                    judge,
                    items,
                    chunk,
                    progress,
                    answered_by(judge.name),
                    max_failed=max_failed,
                )
                for judge in judges
            )
        )
    finally:
        await close_judges(judges)
        engine.dispose()
    return {judge.name: tally for judge, (_, tally) in zip(judges, results, strict=True)}


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling to the parent, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


if __name__ == "__main__":
    main()
