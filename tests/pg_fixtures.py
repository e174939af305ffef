"""Creating and dropping throwaway PostgreSQL databases for the tests."""

from __future__ import annotations

import psycopg
from psycopg import sql
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from monitor.store.migrate import upgrade

__all__ = ["admin_connection", "create_database", "drop_database", "migrated_database"]


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def admin_connection(url: str) -> psycopg.Connection:
    return psycopg.connect(_libpq(url), autocommit=True)


_DROP = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    with admin_connection(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with admin_connection(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def migrated_database(admin_url: str, name: str) -> str:
    """Create ``name`` and migrate it to head; used as a template by the tests."""
    url = create_database(admin_url, name)
    engine = create_engine(url)
    try:
        upgrade(engine, url)
    finally:
        engine.dispose()
    return name
