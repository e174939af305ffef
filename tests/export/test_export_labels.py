"""What a scrape says besides the figures: segment labels, judge identity, links, run status.

All over a real Postgres; ``promtool check metrics`` (the real one) lints the whole scrape.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import JudgeConfig, Settings
from monitor.export.exporter import endpoint_host, exporter_engine, make_registry
from monitor.export.promql import NAME, InstantSample, evaluate
from monitor.metrics.catalog import PREFIX
from monitor.store.db import Database
from monitor.store.repository import ensure_judge

LATEST = dt.date(2025, 3, 20)
SECRET = "sk-do-not-print"


def scrape(database: Database, settings: Settings) -> str:
    engine = exporter_engine(database.url)
    try:
        return generate_latest(make_registry(engine, settings)).decode()
    finally:
        engine.dispose()


def samples_of(text: str) -> list[InstantSample]:
    return [
        InstantSample({NAME: s.name, **s.labels}, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def test_segment_fields_are_labels_that_aggregate(seed: Any, database: Database) -> None:
    """locale=de carries locale="de"; "all" carries no locale; by-locale selection works."""
    seed.history(latest=LATEST, days=2)
    text = scrape(database, Settings())
    samples = samples_of(text)
    ndcg = [s for s in samples if s.labels[NAME] == PREFIX + "ndcg" and s.labels["k"] == "10"]
    by_segment = {s.labels["segment"]: s.labels.get("locale") for s in ndcg}
    assert by_segment == {"all": None, "locale=de": "de", "locale=en": "en"}
    assert 'locale=""' not in text, "no empty segment labels in the exposition"
    picked = evaluate('judge_monitor_ndcg{locale="de",k="10"}', samples)
    assert [s.labels["segment"] for s in picked] == ["locale=de"]


def test_judge_info_names_model_prompt_and_host_without_secrets(
    seed: Any, database: Database
) -> None:
    """judge_info: one series per judge with model, prompt version and endpoint host only."""
    seed.history(latest=LATEST, days=1)
    with database.engine.begin() as conn:
        for version in ("v1", "v2"):  # a prompt change: the newest row is the judge now
            ensure_judge(
                conn,
                name="gpt",
                kind="llm",
                model="gpt-4o-mini",
                prompt_version=version,
                config_hash="abc",
                params={},
            )
        ensure_judge(
            conn,
            name="lexical",
            kind="lexical",
            model="lexical",
            prompt_version="lexical-1",
            config_hash="def",
            params={},
        )
    url = f"https://user:{SECRET}@llm.example.com:8443/v1?api_key={SECRET}"
    settings = Settings(
        judges=[
            JudgeConfig(name="gpt", kind="llm", base_url=url, api_key_env="MY_KEY"),
            JudgeConfig(name="lexical", kind="lexical", api_key_env=None),
        ]
    )
    text = scrape(database, settings)
    assert SECRET not in text and "user" not in text.split("judge_info")[-1]
    info = [s for s in samples_of(text) if s.labels[NAME] == PREFIX + "judge_info"]
    got = {s.labels["judge"]: s.labels for s in info}
    assert set(got) == {"gpt", "lexical"}
    assert got["gpt"]["model"] == "gpt-4o-mini"
    assert got["gpt"]["prompt_version"] == "v2"
    assert got["gpt"]["endpoint_host"] == "llm.example.com:8443"
    assert got["lexical"]["endpoint_host"] == "local"
    assert endpoint_host(None, "llm") == "api.openai.com"


def test_links_come_from_the_settings_even_with_the_database_down() -> None:
    """links_info carries the settings' Grafana and runbook URLs, database or not."""
    engine = exporter_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    settings = Settings(
        public_url_grafana="https://grafana.example.com/",
        runbook_base_url="https://docs.example.com/ops.md",
    )
    try:
        registry = make_registry(engine, settings)
        labels = {
            "grafana_url": "https://grafana.example.com",
            "runbook_url": settings.runbook_base_url,
        }
        assert registry.get_sample_value(PREFIX + "links_info", labels) == 1.0
        assert registry.get_sample_value(PREFIX + "up") == 0.0
    finally:
        engine.dispose()


def test_last_run_status_says_how_each_flow_ended(seed: Any, database: Database) -> None:
    """last_run_status is 1 for the status of each flow's latest finished run."""
    ago = dt.timedelta(hours=2)
    run = {"counts": {}, "cost_usd": 0.0, "duration_s": 1.0}
    seed.run(flow="daily", run_date=LATEST - dt.timedelta(days=1), status="completed",
             finished_ago=ago, **run)  # fmt: skip
    seed.run(flow="daily", run_date=LATEST, status="degraded", **run)
    seed.run(flow="compare", run_date=LATEST, status="failed", **run)
    status = [
        s.labels
        for s in samples_of(scrape(database, Settings()))
        if s.labels[NAME] == PREFIX + "last_run_status"
    ]
    assert {(s["flow"], s["status"]) for s in status} == {
        ("daily", "degraded"),
        ("compare", "failed"),
    }


def test_promtool_check_metrics_finds_nothing(seed: Any, database: Database) -> None:
    """The real promtool lints the whole scrape (names, units, suffixes) without a finding."""
    seed.history(latest=LATEST, days=3)
    seed.run(flow="daily", run_date=LATEST, status="completed", counts={"judged": 3},
             cost_usd=0.1, duration_s=2.0)  # fmt: skip
    text = scrape(database, Settings())
    assert "changepoint_start_age_seconds" in text
    out = subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and not out.stdout.strip() and not out.stderr.strip(), (
        out.stdout + out.stderr
    )
