"""Storage tests run against every PostgreSQL available: always a fresh embedded one,
and also the server in ``DATABASE_URL`` when that is set (as CI does)."""

from __future__ import annotations

import os

import pytest

from monitor.config import normalize_database_url

_ENV_URL = os.environ.get("DATABASE_URL") or os.environ.get("JUDGE_MONITOR_DATABASE_URL")
_BACKENDS = ["embedded", "database_url"] if _ENV_URL else ["embedded"]


@pytest.fixture(scope="session", params=_BACKENDS)
def admin_url(request: pytest.FixtureRequest) -> str:
    if request.param == "database_url":
        assert _ENV_URL is not None
        return normalize_database_url(_ENV_URL)
    return str(request.getfixturevalue("embedded_admin_url"))
