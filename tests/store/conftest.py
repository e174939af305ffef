"""Storage tests run against every PostgreSQL available: always a fresh embedded one,
and also the server in ``DATABASE_URL`` when that is set (as CI does)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pg_fixtures import drop_database, migrated_database

from monitor.config import normalize_database_url

_ENV_URL = os.environ.get("DATABASE_URL") or os.environ.get("JUDGE_MONITOR_DATABASE_URL")
_BACKENDS = ["embedded", "database_url"] if _ENV_URL else ["embedded"]


@pytest.fixture(scope="session", params=_BACKENDS)
def admin_url(request: pytest.FixtureRequest) -> str:
    if request.param == "database_url":
        assert _ENV_URL is not None
        return normalize_database_url(_ENV_URL)
    return str(request.getfixturevalue("embedded_admin_url"))


@pytest.fixture(scope="session")
def migrated_template(admin_url: str) -> Iterator[str]:
    """This folder's own template per backend (the root one is cached for one server)."""
    name = migrated_database(admin_url, f"jm_store_template_{os.getpid()}")
    yield name
    drop_database(admin_url, name)
