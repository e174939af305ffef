"""Alembic environment: the same database URL as the application, the models' metadata.

Run through ``judge-monitor db upgrade`` (which sets ``sqlalchemy.url`` from the
settings, starting the embedded PostgreSQL when no URL is configured), or through
plain ``alembic`` with ``DATABASE_URL`` set.
"""

from alembic import context
from sqlalchemy import engine_from_config, pool

from monitor.store.models import Base
from monitor.store.partitions import is_partition_name

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Autogenerate compares the models' tables, not the month partitions beside them."""
    return not (type_ == "table" and name is not None and is_partition_name(name))


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from monitor.config import load_settings
    from monitor.store.db import connect

    database = connect(load_settings())
    database.dispose()
    return database.url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        compare_type=True,
        include_name=include_name,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    section = config.get_section(config.config_ini_section, {})
    section["sqlalchemy.url"] = _url()
    connectable = engine_from_config(section, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=target_metadata,
            compare_type=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
