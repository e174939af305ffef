"""The day's lock lives on a connection of its own: when that connection drops mid-run.

Postgres ends the lock's session (``pg_terminate_backend``, as a restart or a network cut
would); the run's heartbeat finds out at its next beat. Either nobody took the day
meanwhile and the run takes the lock again and goes on, or another run holds it now and
this one stops at its next step (``check``) without writing the day's row.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fault_setup import DAY
from sqlalchemy import text

from monitor.errors import DatabaseError
from monitor.store import repository as repo
from monitor.store.db import Database
from monitor.store.run_lease import DayBusyError, DayLease


def _wait_for(condition: Callable[[], bool], what: str, within_s: float = 20.0) -> None:
    """Poll ``condition`` (a beat happens on its own thread); fail naming ``what``."""
    deadline = time.monotonic() + within_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {within_s:g} s")
        time.sleep(0.05)


def _claimed(database: Database, lease: DayLease) -> int:
    with database.engine.begin() as conn:
        run_id = repo.start_run(conn, flow="daily", run_date=DAY, config_hash="h")
    lease.claim(run_id)
    return run_id


def _end_lock_session(database: Database, lease: DayLease) -> int:
    """End the lease's database session from outside, as a Postgres restart would."""
    conn = lease._conn  # the lock's session, as the test sees it
    assert conn is not None
    backend = int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
    with database.engine.connect() as other:
        assert other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": backend}).scalar()
    return backend


def _lock_backend(database: Database, lease: DayLease) -> int | None:
    with database.engine.connect() as conn:
        return lease._holder_backend(conn)


def test_a_dropped_lock_session_is_taken_again_and_the_run_goes_on(database: Database) -> None:
    """Nobody took the day meanwhile: the next beat reconnects and holds the lock again,
    the run still owns its day, and a second run of the day is still refused."""
    with DayLease(database, flow="daily", day=DAY, lease_s=0.4) as lease:
        _claimed(database, lease)
        dropped = _end_lock_session(database, lease)
        _wait_for(
            lambda: _lock_backend(database, lease) not in (None, dropped),
            "the heartbeat taking the day's lock again on a new session",
        )
        assert lease.owns_day
        lease.check()  # does not raise: the run goes on
        with pytest.raises(DayBusyError):
            DayLease(database, flow="daily", day=DAY, lease_s=60).acquire()


def test_a_dropped_lock_taken_by_another_run_stops_this_one(database: Database) -> None:
    """Another run took the day while the lock's session was gone: at its next beat this
    run learns it lost the day, and its next step raises in one line saying so."""
    with DayLease(database, flow="daily", day=DAY, lease_s=8) as lease:  # a beat every 2 s
        _claimed(database, lease)
        _end_lock_session(database, lease)
        other = DayLease(database, flow="daily", day=DAY, lease_s=60)

        def took_it() -> bool:
            try:
                other.acquire()
            except DayBusyError:  # the terminated session is still going away
                return False
            return True

        _wait_for(took_it, "a second run taking the freed day", within_s=1.5)
        try:
            _wait_for(lambda: not lease.owns_day, "the first run noticing it lost the day")
            with pytest.raises(DatabaseError) as lost:
                lease.check()
            message = str(lost.value)
            assert message == (
                f"lost the lock on day {DAY.isoformat()} (the database connection broke) "
                "and another run holds it now"
            )
        finally:
            other.release()
