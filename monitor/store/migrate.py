"""Schema migrations through Alembic, driven from Python (``judge-monitor db upgrade``).

A database behind the code is upgraded; one ahead of it (a revision this code does not
know, written by a newer judge-monitor) is refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from monitor.errors import SchemaError
from monitor.paths import migrations_dir
from monitor.store.models import Base

__all__ = ["SchemaStatus", "alembic_config", "reset_schema", "schema_status", "upgrade"]


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str
    row_counts: dict[str, int]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # ConfigParser interpolation: a literal % in a password must be doubled
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _head(config: Config) -> str:
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None, "migrations/ has no revision"
    return head


def _current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _check_known(engine: Engine, config: Config) -> str | None:
    current = _current(engine)
    if current is None:
        return None
    script = ScriptDirectory.from_config(config)
    try:
        script.get_revision(current)
    except Exception:
        raise SchemaError(
            f"the database is at schema revision {current}, which this judge-monitor "
            f"(head {_head(config)}) does not know: it was migrated by a newer version. "
            "Upgrade judge-monitor instead of downgrading the database."
        ) from None
    return current


def upgrade(engine: Engine, url: str, revision: str = "head") -> tuple[str | None, str]:
    """Apply migrations up to ``revision``; return (revision before, revision after)."""
    config = alembic_config(url)
    before = _check_known(engine, config)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return before, _current(engine) or ""


def reset_schema(engine: Engine) -> None:
    """Drop every table, row and revision mark: an empty database, for ``upgrade`` to fill."""
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))


def schema_status(engine: Engine, url: str) -> SchemaStatus:
    """Where the schema is and how many rows each table holds."""
    config = alembic_config(url)
    current = _check_known(engine, config)
    counts: dict[str, int] = {}
    existing = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        for table in sorted(Base.metadata.tables):
            if table in existing:
                counts[table] = int(
                    conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one()
                )
    return SchemaStatus(current=current, head=_head(config), row_counts=counts)
