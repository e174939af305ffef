"""What the fault tests share: the test key, the ``gpt`` judge, a small demo day.

The day is the demo source's (deterministic from its seed), judged by an LLM judge named
``gpt`` on the fake endpoint, beside a local ``lex`` judge where a test wants two.
"""

from __future__ import annotations

import datetime as dt
import socket
from typing import Any

from sqlalchemy import text

from monitor.config import JudgeConfig, SamplingConfig, Settings, SourceConfig, load_settings
from monitor.store.db import Database

KEY_VAR = "JUDGE_FAULTS_API_KEY"
KEY = "sk-faults-not-a-real-key"
DAY = dt.date(2026, 4, 7)


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def llm_config(base_url: str, **overrides: Any) -> JudgeConfig:
    """The ``gpt`` judge on ``base_url``: quick to retry and to time out."""
    values: dict[str, Any] = {
        "name": "gpt",
        "kind": "llm",
        "base_url": base_url,
        "api_key_env": KEY_VAR,
        "model": "fake-model",
        "max_retries": 1,
        "timeout_s": 5.0,
        "max_concurrency": 4,
    }
    values.update(overrides)
    return JudgeConfig(**values)


LEXICAL = JudgeConfig(name="lex", kind="lexical", api_key_env=None)


def day_settings(judges: list[JudgeConfig], *, size: int = 10, **overrides: Any) -> Settings:
    """A demo day of ``size`` sampled queries, top 3 each, judged by ``judges``."""
    return load_settings(
        judges=judges,
        source=SourceConfig(
            kind="demo",
            options={"seed": 5, "searches_per_day": 300, "items": 400, "queries_per_locale": 200},
        ),
        sampling=SamplingConfig(size=size, min_per_stratum=1, top_k=3),
        judge_processes=1,
        # the canary re-asks anchors on purpose: its calls are counted in its own tests
        **{"canary_size": 0, **overrides},
    )


def scalar(database: Database, sql: str, **params: Any) -> Any:
    with database.engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def run_row(database: Database, day: dt.date = DAY) -> Any:
    with database.engine.connect() as conn:
        return conn.execute(
            text("SELECT status, counts, error FROM runs WHERE run_date = :d ORDER BY id DESC"),
            {"d": day},
        ).first()
