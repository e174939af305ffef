"""Connecting to the database: the configured URL, or the embedded default.

Connection failures become one ``DatabaseError`` line that names the host and never
the password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.errors import DatabaseError
from monitor.store.embedded import default_data_dir, start_embedded

__all__ = ["Database", "connect", "describe_host", "session_scope"]


@dataclass(frozen=True)
class Database:
    """An engine plus where it points, for messages (``where`` never holds a password)."""

    engine: Engine
    url: str
    where: str
    embedded: bool

    @property
    def sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self.engine, expire_on_commit=False)

    def dispose(self) -> None:
        self.engine.dispose()


def describe_host(url: str) -> str:
    """Host (or socket folder), port and database of a URL, without credentials."""
    parsed = make_url(url)
    host = parsed.host or parsed.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    port = f":{parsed.port}" if parsed.port else ""
    return f"{host}{port}/{parsed.database or ''}"


def connect(settings: Settings, *, check: bool = True) -> Database:
    """Open the configured database (starting the embedded one if none is configured)."""
    url = settings.database_url_value()
    embedded = url is None
    if url is None:
        data_dir = settings.data_dir or default_data_dir()
        url = start_embedded(data_dir)
        where = f"embedded PostgreSQL in {data_dir / 'pgdata'}"
    else:
        where = describe_host(url)
    engine = create_engine(url, pool_pre_ping=True, future=True)
    database = Database(engine=engine, url=url, where=where, embedded=embedded)
    if check:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError) as exc:
            engine.dispose()
            raise DatabaseError(
                f"cannot connect to the database at {describe_host(url)}: {_reason(exc)}"
            ) from None
    return database


def _reason(exc: Exception) -> str:
    """The first line of the driver's message, with any URL in it masked."""
    orig = getattr(exc, "orig", None) or exc
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return first.replace("\n", " ")


@contextmanager
def session_scope(database: Database) -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on any error."""
    session = database.sessions()
    try:
        yield session
        session.commit()
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
