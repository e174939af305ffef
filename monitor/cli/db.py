"""``judge-monitor db``: create or upgrade the schema, and say where the data is."""

from __future__ import annotations

import typer
from rich.table import Table

from monitor.cli.app import app, console
from monitor.config import load_settings
from monitor.store.db import connect
from monitor.store.migrate import schema_status, upgrade

__all__ = ["db_app"]

db_app = typer.Typer(help="Database schema: upgrade and status.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the newest)."),
) -> None:
    """Apply schema migrations (starts the embedded PostgreSQL if no URL is set)."""
    database = connect(load_settings())
    try:
        console.print(f"database: {database.where}")
        before, after = upgrade(database.engine, database.url, revision)
    finally:
        database.dispose()
    if before == after:
        console.print(f"schema already at revision {after}")
    else:
        console.print(f"schema upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def db_status() -> None:
    """Where the database is, its schema revision and how many rows each table holds."""
    database = connect(load_settings())
    try:
        status = schema_status(database.engine, database.url)
    finally:
        database.dispose()
    console.print(f"database: {database.where}")
    state = "up to date" if status.up_to_date else "needs `judge-monitor db upgrade`"
    console.print(f"schema revision: {status.current or 'none'} (head {status.head}, {state})")
    table = Table("table", "rows")
    for name, count in status.row_counts.items():
        table.add_row(name, f"{count:,}")
    if status.row_counts:
        console.print(table)
