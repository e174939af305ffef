"""What the panel and ceiling days share: a day of logs written as JSONL, the judge at
the fake OpenAI endpoint, and the (query, result) pairs a stored day's samples hold."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import text

from monitor.config import JudgeConfig
from monitor.store.db import Database
from monitor.testing import FakeOpenAI


def write_day(folder: Path, day: dt.date, rows: Iterable[Mapping[str, Any]]) -> None:
    """The day's search log, one JSON record a line, as the ``files`` source reads it."""
    (folder / f"{day}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def fake_judge(server: FakeOpenAI) -> JudgeConfig:
    """An LLM judge at the fake endpoint (key from ``FAKE_OPENAI_KEY``), never retrying:
    each call it makes is one the server counts."""
    return JudgeConfig(
        name="gpt",
        kind="llm",
        model="fake-model",
        base_url=server.base_url,
        api_key_env="FAKE_OPENAI_KEY",
        max_retries=0,
    )


def day_pairs(database: Database, day: dt.date) -> dict[tuple[str, str], str]:
    """The day's (query, result id) pairs, with the stratum of their sample."""
    with database.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT query_norm, stratum, r->>'id' FROM samples, "
                "jsonb_array_elements(results) AS r WHERE sample_date = :d"
            ),
            {"d": day},
        )
        return {(str(q), str(r)): str(s) for q, s, r in rows}
