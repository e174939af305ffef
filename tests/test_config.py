"""Settings come from the environment and a TOML file, and never show a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import JudgeConfig, load_settings, mask_url, normalize_database_url
from monitor.errors import ConfigError


def test_database_url_from_either_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL and JUDGE_MONITOR_DATABASE_URL both set the URL, normalised to psycopg."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@db:5432/x")
    assert load_settings().database_url_value() == "postgresql+psycopg://u:pw@db:5432/x"
    monkeypatch.setenv("JUDGE_MONITOR_DATABASE_URL", "postgres://u:pw@other/y")
    assert load_settings().database_url_value() == "postgresql+psycopg://u:pw@other/y"


def test_repr_masks_the_password(monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither repr nor str of the settings contains the database password."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:hunter2@db/x")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)
    assert mask_url(settings.database_url_value() or "") == "postgresql+psycopg://u:***@db/x"


def test_toml_file_and_env_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The TOML file configures judges; an environment variable overrides a TOML value."""
    config = tmp_path / "judge-monitor.toml"
    config.write_text(
        """
exporter_port = 9000
[[judges]]
name = "gpt"
model = "gpt-4o-mini"
api_key_env = "MY_KEY"
[[judges]]
name = "lex"
kind = "lexical"
[sampling]
size = 50
"""
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert [j.name for j in settings.judges] == ["gpt", "lex"]
    assert settings.judges[0].api_key_env == "MY_KEY"
    assert settings.sampling.size == 50 and settings.exporter_port == 9000
    monkeypatch.setenv("JUDGE_MONITOR_EXPORTER_PORT", "9100")
    assert load_settings().exporter_port == 9100


def test_explicit_config_path_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """JUDGE_MONITOR_CONFIG naming a missing file is a clear error."""
    monkeypatch.setenv("JUDGE_MONITOR_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_settings()


def test_invalid_values_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value gives one ConfigError naming the setting."""
    monkeypatch.setenv("JUDGE_MONITOR_EXPORTER_PORT", "not-a-port")
    with pytest.raises(ConfigError, match="exporter_port"):
        load_settings()


def test_duplicate_judge_names_refused() -> None:
    """Two judges with one name cannot both be stored, so the config is refused."""
    with pytest.raises(ConfigError, match="unique"):
        load_settings(judges=[JudgeConfig(name="a"), JudgeConfig(name="a")])


def test_non_postgres_url_refused() -> None:
    """Only PostgreSQL URLs are accepted."""
    with pytest.raises(ConfigError, match="sqlite"):
        normalize_database_url("sqlite:///x.db")


def test_identity_hash_ignores_limits_and_prices() -> None:
    """Limits, prices and weight do not change a judge's answers, so not its identity."""
    a = JudgeConfig(name="a", model="m")
    assert a.identity_hash() == JudgeConfig(name="a", model="m", rpm=10, weight=2).identity_hash()
    assert a.identity_hash() != JudgeConfig(name="a", model="m2").identity_hash()
