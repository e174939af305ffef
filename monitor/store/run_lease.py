"""One run of a day at a time, and a run that died is never ``running`` forever.

``DayLease`` holds a Postgres advisory lock keyed by (flow, day) on a connection of its
own for as long as the run lasts, and beats the run's heartbeat (``runs.heartbeat_at``)
on that connection from a background thread, every quarter of the lease.

* A second run of the same day does not get the lock and is refused at once with one
  line naming the run that holds it (``DayBusyError``): it would only redo what the
  first is doing, and pay for every answer the first has not stored yet. Refusing, not
  waiting, because the cases that reach it are two schedulers, or a person starting a
  run by hand beside the scheduled one: both are better told than queued.
* The lock lives as long as the lock's session: a process that dies (``kill -9``, a
  lost host, Postgres restarted) loses it with its connection, and the next run of the
  day takes it. Holding it, that run knows any ``running`` row of the day is dead and
  rewrites it as ``abandoned`` before starting (``abandon_running``).
* The compare flow holds ("compare", day), whichever rankers it compares: two
  comparisons sharing a ranker would replace each other's rows, and the same pair run
  twice would share one ``runs`` row; so one comparison of a day runs at a time, and
  a refused one is told which pair holds the day.
* The heartbeat is for those who cannot take the lock to find out: ``db status`` and
  the exporter read a ``running`` row whose heartbeat is older than its lease as
  ``abandoned`` (``monitor.store.runs.STALE_RUN``). Why a thread, not a beat per step or
  per judged chunk: a chunk of slow LLM calls with retries can take minutes, so a lease
  long enough for the slowest step would be slow to notice a death; a thread beats at a
  steady pace whatever the step. A process that hangs with its thread alive is what the
  flow timeout and the calls' own timeouts are for.

If the lease's connection breaks while the run goes on, the next beat reconnects and
takes the lock again; if another run has taken it meanwhile, ``check`` raises at the
run's next step (and the run writes nothing more to the day's row).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import threading
import zlib
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from monitor.errors import DatabaseError
from monitor.store.db import Database
from monitor.store.runs import STALE_RUN

__all__ = ["AbandonedRun", "DayBusyError", "DayLease", "abandon_running", "lock_keys"]

log = logging.getLogger(__name__)


class DayBusyError(DatabaseError):
    """Another run holds the day: one line naming it."""


def lock_keys(flow: str, day: dt.date) -> tuple[int, int]:
    """The advisory lock's two int4 keys: the flow's name (CRC-32) and the day's ordinal."""
    crc = zlib.crc32(f"judge-monitor:{flow}".encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc, day.toordinal()


@dataclass(frozen=True, slots=True)
class AbandonedRun:
    """A ``running`` row whose process had gone, as the next run of its day found it."""

    run_id: int
    pid: int | None
    host: str | None
    started_at: dt.datetime
    heartbeat_at: dt.datetime | None

    def describe(self, day: dt.date) -> str:
        """One line: which run of which day was abandoned, by whom, alive until when."""
        last = _when(self.heartbeat_at or self.started_at)
        return (
            f"run #{self.run_id} of {day.isoformat()} ({_owner(self.pid, self.host)}, "
            f"started {_when(self.started_at)}) was abandoned: no heartbeat since {last}"
        )


def abandon_running(
    conn: Connection, *, flow: str, run_date: dt.date, run_key: str = ""
) -> AbandonedRun | None:
    """Rewrite the day's ``running`` row (of ``run_key``: compare's pair) as
    ``abandoned``; for the holder of its lock only.

    Whoever holds the (flow, day) lock knows no other process is running the day: a
    ``running`` row is what a process that died left. Its ``finished_at`` becomes its
    last heartbeat (when it was last known alive). Only the row the run then reuses:
    another pair's stays until that pair is compared again (its stale heartbeat reads
    ``abandoned`` meanwhile), as a day not rerun keeps its row.
    """
    row = conn.execute(
        text(
            "UPDATE runs SET status = 'abandoned', "
            "finished_at = coalesce(heartbeat_at, started_at), "
            "error = 'abandoned: its process stopped without recording an outcome' "
            "WHERE flow = :f AND run_date = :d AND run_key = :k AND status = 'running' "
            "RETURNING id, pid, host, started_at, heartbeat_at"
        ),
        {"f": flow, "d": run_date, "k": run_key},
    ).first()
    if row is None:
        return None
    return AbandonedRun(
        run_id=row.id,
        pid=row.pid,
        host=row.host,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
    )


class DayLease:
    """The (flow, day) lock and the run's heartbeat, for the run's duration.

    ``acquire`` takes the lock or raises ``DayBusyError``; ``claim`` names this process
    (``pid``, ``host``) and the lease (``lease_s``) in the run's row and starts beating
    its heartbeat; ``release`` (or leaving the ``with``) stops the beat and ends the
    lock's session.
    """

    def __init__(self, database: Database, *, flow: str, day: dt.date, lease_s: float) -> None:
        self.flow = flow
        self.day = day
        self.lease_s = lease_s
        self.pid = os.getpid()
        self.host = socket.gethostname()
        self._keys = lock_keys(flow, day)
        # NullPool: closing the connection ends its session, and so the lock, for sure
        self._engine = create_engine(
            database.url, poolclass=NullPool, connect_args={"connect_timeout": 10}
        )
        self._conn: Connection | None = None
        self._run_id: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lost: str | None = None

    # -- the lock -------------------------------------------------------------------

    def acquire(self) -> DayLease:
        conn = self._connect()
        if not self._try_lock(conn):
            try:
                message = self._busy_message(conn)
            finally:
                conn.close()
                self._engine.dispose()
            raise DayBusyError(message)
        self._conn = conn
        return self

    def _connect(self) -> Connection:
        conn = self._engine.connect()
        conn.execution_options(isolation_level="AUTOCOMMIT")
        return conn

    def _try_lock(self, conn: Connection) -> bool:
        a, b = self._keys
        return bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": a, "b": b}).scalar()
        )

    def _busy_message(self, conn: Connection) -> str:
        row = conn.execute(
            text(
                "SELECT id, run_key, pid, host, started_at, heartbeat_at, "
                f"({STALE_RUN}) AS stale FROM runs "
                "WHERE flow = :f AND run_date = :d AND status = 'running' "
                "ORDER BY started_at DESC LIMIT 1"
            ),
            {"f": self.flow, "d": self.day},
        ).first()
        day = self.day.isoformat()
        if row is None:  # the holder has the lock but has not written its row yet
            return (
                f"day {day} is being judged by another run (it is starting); wait for it or stop it"
            )
        which = f" of {self.flow} {row.run_key}" if row.run_key else ""
        message = (
            f"day {day} is being judged by run #{row.id}{which} ({_owner(row.pid, row.host)}, "
            f"started {_when(row.started_at)}); wait for it or stop it"
        )
        if row.stale:
            backend = self._holder_backend(conn)
            message += (
                f" (its last heartbeat, {_when(row.heartbeat_at or row.started_at)}, is past "
                "its lease: if that process is gone, end its database session"
                + (f" with SELECT pg_terminate_backend({backend})" if backend else "")
                + ")"
            )
        return message

    def _holder_backend(self, conn: Connection) -> int | None:
        """The database session holding the day's lock (for a hung holder)."""
        a, b = self._keys
        found = conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND classid::bigint = :a AND objid::bigint = :b AND objsubid = 2 "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"a": a & 0xFFFFFFFF, "b": b},
        ).scalar()
        return int(found) if found is not None else None

    # -- the heartbeat ----------------------------------------------------------------

    def claim(self, run_id: int) -> None:
        """Write this process and the lease into ``run_id``'s row, then beat its heartbeat."""
        assert self._conn is not None, "claim a run after acquiring its day"
        self._conn.execute(
            text(
                "UPDATE runs SET pid = :pid, host = :host, lease_s = :lease, "
                "heartbeat_at = now() WHERE id = :id"
            ),
            {"pid": self.pid, "host": self.host, "lease": self.lease_s, "id": run_id},
        )
        self._run_id = run_id
        # beat every quarter of the lease until released
        self._thread = threading.Thread(
            target=self._beat_loop, name=f"run-heartbeat-{run_id}", daemon=True
        )
        self._thread.start()

    def _beat_loop(self) -> None:
        interval = max(self.lease_s / 4, 0.05)
        while not self._stop.wait(interval):
            try:
                self._beat()
            except Exception as exc:  # the connection broke: the lock went with it
                log.info("run heartbeat: %s", _first_line(exc))
                self._regain()

    def _beat(self) -> None:
        if self._conn is None:
            self._regain()
            return
        beaten = self._conn.execute(
            text(
                "UPDATE runs SET heartbeat_at = now() WHERE id = :id AND status = 'running' "
                "AND pid = :pid AND host = :host"
            ),
            {"id": self._run_id, "pid": self.pid, "host": self.host},
        ).rowcount
        if not beaten and not self._stop.is_set():
            self._lost = (
                f"run #{self._run_id} of {self.day.isoformat()} was taken over by another run "
                "(this run's heartbeat had stopped)"
            )
            self._stop.set()

    def _regain(self) -> None:
        """After a broken connection: a new one, and the lock again if nobody took it."""
        self._close_connection()
        try:
            conn = self._connect()
        except Exception:  # the database is still away: try again at the next beat
            return
        try:
            held = self._try_lock(conn)
        except Exception:
            conn.close()
            return
        if held:
            self._conn = conn
            return
        conn.close()
        self._lost = (
            f"lost the lock on day {self.day.isoformat()} (the database connection broke) "
            "and another run holds it now"
        )
        self._stop.set()

    def check(self) -> None:
        """Raise if this run no longer holds its day (another run took it over)."""
        if self._lost is not None:
            raise DatabaseError(self._lost)

    @property
    def owns_day(self) -> bool:
        """False once another run has taken the day over: this run must not write its row."""
        return self._lost is None

    # -- the end ---------------------------------------------------------------------

    def stop_beating(self) -> None:
        """Stop the heartbeat (the run is writing its outcome); the lock is kept."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)

    def release(self) -> None:
        """Stop the heartbeat and end the lock's session (quietly, whatever state it is in).

        A beat still blocked on a connection to a vanished server is left to itself (a
        daemon thread): its session, and the lock, end with the process.
        """
        self.stop_beating()
        if self._thread is not None and self._thread.is_alive():
            return
        self._close_connection()
        self._engine.dispose()

    def _close_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        a, b = self._keys
        with contextlib.suppress(Exception):  # a dead session holds no lock any more
            conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": a, "b": b})
        with contextlib.suppress(Exception):
            conn.close()

    def __enter__(self) -> DayLease:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _owner(pid: int | None, host: str | None) -> str:
    return f"pid {pid if pid is not None else '?'} on host {host or '?'}"


def _when(at: dt.datetime | None) -> str:
    if at is None:
        return "?"
    return at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return lines[0] if lines else type(orig).__name__
