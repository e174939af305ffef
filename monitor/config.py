"""One settings object, read from the environment and an optional ``judge-monitor.toml``.

Precedence, highest first: keyword arguments, environment variables
(``JUDGE_MONITOR_*``; the database URL also as plain ``DATABASE_URL``), the TOML file
(``JUDGE_MONITOR_CONFIG`` or ``./judge-monitor.toml``), defaults.

Secrets never live here: a judge names the *environment variable* holding its key
(``api_key_env``), and the database URL's password is masked in every repr.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

from monitor.errors import ConfigError

__all__ = [
    "JudgeConfig",
    "SamplingConfig",
    "Settings",
    "SourceConfig",
    "config_file",
    "load_settings",
    "mask_url",
    "normalize_database_url",
]

DEFAULT_CONFIG_FILE = "judge-monitor.toml"


class JudgeConfig(BaseModel):
    """One member of the judge ensemble."""

    model_config = {"extra": "forbid"}

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Unique judge name.")
    kind: Literal["llm", "lexical", "semantic"] = "llm"
    base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint; None means api.openai.com."
    )
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable holding the key (never the key).",
    )
    model: str = "gpt-4o-mini"
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int | None = 0
    max_tokens: int = Field(default=400, gt=0)
    prompt: str = Field(default="pointwise", description="Template name or path.")
    rubric: str | None = Field(default=None, description="Domain rubric added to the prompt.")
    weight: float = Field(default=1.0, ge=0.0)
    max_concurrency: int = Field(default=16, gt=0)
    rpm: int | None = Field(default=None, gt=0, description="Requests per minute limit.")
    tpm: int | None = Field(default=None, gt=0, description="Tokens per minute limit.")
    timeout_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=4, ge=0)
    max_input_chars: int = Field(default=4000, gt=0, description="Result text budget.")
    price_input_per_mtok: float = Field(default=0.0, ge=0.0)
    price_output_per_mtok: float = Field(default=0.0, ge=0.0)
    response_format: Literal["json_schema", "json_object"] = "json_schema"
    logprobs: bool = False
    batch: bool = Field(default=False, description="Use the OpenAI Batch API.")
    thresholds: list[float] | None = Field(
        default=None, description="Cut points mapping a local judge's score to 0-3."
    )

    def identity_hash(self) -> str:
        """Hash of what changes a judge's answers (not limits, prices or weight).

        Two configs with the same identity give the same verdict for the same input,
        so the verdict cache is keyed on this.
        """
        keep = {
            "kind": self.kind,
            "base_url": self.base_url,
            "model": self.model,
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "rubric": self.rubric,
            "max_input_chars": self.max_input_chars,
            "thresholds": self.thresholds,
        }
        blob = json.dumps(keep, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


class SourceConfig(BaseModel):
    """Where production's searches come from."""

    model_config = {"extra": "forbid"}

    kind: Literal["demo", "sql", "files", "replay", "trec", "trec_production"] = "demo"
    url: str | None = Field(default=None, description="SQLAlchemy URL (sql) or URL template.")
    table: str | None = None
    query: str | None = Field(default=None, description="SQL with :start and :end bounds.")
    columns: dict[str, str] = Field(default_factory=dict, description="Field -> column.")
    path: str | None = Field(default=None, description="File, glob or directory.")
    headers_env: dict[str, str] = Field(
        default_factory=dict, description="Header -> environment variable holding its value."
    )
    timeout_s: float = 10.0
    concurrency: int = 8
    max_bad_row_share: float = Field(default=0.2, ge=0.0, le=1.0)
    options: dict[str, Any] = Field(default_factory=dict, description="Source-specific.")


class SamplingConfig(BaseModel):
    model_config = {"extra": "forbid"}

    size: int = Field(default=200, gt=0, description="Queries sampled per day.")
    seed: int = 0
    strata: list[str] = Field(default_factory=lambda: ["locale"])
    allocation: Literal["proportional", "equal", "neyman"] = Field(
        default="proportional",
        description="neyman: ∝ searches × the stratum's stored sd of nDCG@10 (sampling.py).",
    )
    neyman_history_days: int = Field(
        default=14, gt=0, description="Stored days the Neyman allocation's sd is read from."
    )
    min_per_stratum: int = Field(default=5, ge=0)
    hard_oversample: float = Field(default=1.0, ge=1.0, description="x times more likely.")
    top_k: int = Field(default=10, gt=0)
    panel_share: float = Field(
        default=0.0,
        description="Share of `size` judged every day as a paired panel (sampling_panel.py).",
    )
    panel_rotation_days: int = Field(
        default=28, gt=0, description="Days a panel query stays before it is re-drawn."
    )
    panel_lists: int = Field(
        default=4,
        ge=1,
        description="Most distinct result lists judged per panel query a day (sampling_panel.py).",
    )
    paid_calls_per_day: int | None = Field(
        default=None,
        gt=0,
        description="Most LLM judge calls a day's sample pays, about; past it the fresh "
        "lists that need calls are subsampled within each stratum (min_per_stratum kept) "
        "and weighted up (sampling_budget.py).",
    )

    @field_validator("panel_share")
    @classmethod
    def _panel_share_in_range(cls, value: float) -> float:
        # a share of 1 would leave no fresh sample: the traffic's estimate needs one
        if not 0.0 <= value < 1.0:
            raise ValueError(
                f"panel_share must be at least 0 and below 1 (a share of the daily size), "
                f"got {value}"
            )
        return value


class Settings(BaseSettings):
    """Everything judge-monitor reads from its environment."""

    model_config = SettingsConfigDict(
        env_prefix="JUDGE_MONITOR_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("JUDGE_MONITOR_DATABASE_URL", "DATABASE_URL", "database_url"),
        description="PostgreSQL URL; unset means the embedded PostgreSQL.",
    )
    data_dir: Path | None = Field(
        default=None, description="Where the embedded PostgreSQL keeps its data."
    )
    judges: list[JudgeConfig] = Field(
        default_factory=lambda: [JudgeConfig(name="lexical", kind="lexical", api_key_env=None)],
        description="The judge ensemble.",
    )
    ensemble: Literal["median", "majority", "mean", "weighted"] = "median"
    judge_processes: int = Field(
        default=0,
        ge=0,
        description="Worker processes for LLM judges: 0 = auto (on big runs), 1 = none.",
    )
    max_failed_call_share: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Share of a judge's calls that may fail (endpoint faults beyond the "
        "retries) for the day to complete, as degraded; past it the day fails.",
    )
    source: SourceConfig = Field(default_factory=SourceConfig)
    rankers: dict[str, SourceConfig] = Field(
        default_factory=dict,
        description="Named alternative sources (e.g. a staging ranker) for `compare`.",
    )
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    ks: list[int] = Field(default_factory=lambda: [3, 10], description="Cut-offs for @k.")
    relevant_grade: int = Field(default=2, ge=1, le=3)
    baseline_days: int = Field(default=14, gt=0)
    retention_days: int | None = Field(
        default=None,
        gt=0,
        description="Keep samples, verdicts and grades this many days (whole months are "
        "dropped once entirely older; the cache by last use); None keeps everything.",
    )
    judge_runner: Literal["local", "dask", "process-pool"] = Field(
        default="local",
        description="Where LLM judges run: local (this machine: in process or the judge "
        "worker processes), dask (a Prefect task per judge on the Dask cluster at "
        "dask_address) or process-pool (the same on Prefect's ProcessPoolTaskRunner).",
    )
    dask_address: str | None = Field(
        default=None,
        description="Dask scheduler address (tcp://host:8786) for judge_runner = dask; "
        "unset starts a local Dask cluster.",
    )
    pushgateway_url: str | None = None
    exporter_port: int = 9108
    public_url_grafana: str = Field(
        default="http://localhost:3000",
        pattern=r"^https?://[^\s/]+",
        description="Grafana as people reach it (absolute): the alerts' dashboard links.",
    )
    runbook_base_url: str = Field(
        default="https://github.com/judge-monitor/judge-monitor/blob/main/docs/operations.md",
        pattern=r"^https?://[^\s/]+",
        description="Where docs/operations.md is published (absolute); each alert links to "
        "its section, <runbook_base_url>#<alert name in lower case>.",
    )
    canary_size: int = Field(
        default=60,
        ge=0,
        description="Anchors (query, result) the judge canary re-judges daily without the "
        "cache (0: no canary).",
    )
    schedule_cron: str = "0 6 * * *"
    schedule_timezone: str = "UTC"
    flow_timeout_hours: float = Field(
        default=6,
        gt=0,
        description="A daily flow run still running after this many hours is stopped (failed).",
    )
    run_lease_s: float = Field(
        default=120,
        gt=0,
        description="A running run beats its heartbeat every quarter of this; one whose "
        "heartbeat is older is abandoned (its process died) for the next run of its day, "
        "`db status` and the exporter.",
    )
    allow_demo_source: bool = Field(
        default=False,
        description="Let `serve` schedule the daily run on the built-in demo source.",
    )
    label_window_days: int = Field(
        default=1,
        description="Days of human labels (the day and the ones before it) behind a day's "
        "corrected figures: 1 = the day's own labels only, 7 = the last 7 days'.",
    )
    cuped: bool = Field(
        default=False,
        description="Add ndcg_cuped: the weighted nDCG@10 with each query's own recent days "
        "as a control variate (CUPED), the draw's luck taken out; it reads the baseline "
        "window's grades of the day's queries.",
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalize_url(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        raw = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        return SecretStr(normalize_database_url(raw))

    @field_validator("label_window_days")
    @classmethod
    def _label_window(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"must be at least 1 day (1 = the day's own labels only), got {value}")
        return value

    @model_validator(mode="after")
    def _unique_judges(self) -> Settings:
        names = [j.name for j in self.judges]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"judge names must be unique, repeated: {', '.join(dupes)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    def database_url_value(self) -> str | None:
        return self.database_url.get_secret_value() if self.database_url else None

    def config_hash(self) -> str:
        """Hash of what decides a day's stored result (judges, source, sampling)."""
        blob = json.dumps(
            {
                "judges": [j.identity_hash() for j in self.judges],
                "ensemble": self.ensemble,
                "source": self.source.model_dump(mode="json"),
                "sampling": self.sampling.model_dump(mode="json"),
            },
            sort_keys=True,
        ).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def judge(self, name: str) -> JudgeConfig:
        for judge in self.judges:
            if judge.name == name:
                return judge
        known = ", ".join(j.name for j in self.judges)
        raise ConfigError(f"unknown judge {name!r}; configured judges: {known}")


def config_file() -> Path | None:
    """The TOML file to read, if any: ``$JUDGE_MONITOR_CONFIG`` or ``./judge-monitor.toml``."""
    explicit = os.environ.get("JUDGE_MONITOR_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"JUDGE_MONITOR_CONFIG={explicit}: no such file")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def normalize_database_url(url: str) -> str:
    """Point any PostgreSQL URL at the psycopg 3 driver; refuse anything else."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with the URL in it
        raise ConfigError("DATABASE_URL is not a valid database URL") from exc
    if parsed.get_backend_name() not in {"postgresql", "postgres"}:
        raise ConfigError(
            f"DATABASE_URL must be a PostgreSQL URL, got the {parsed.get_backend_name()!r} scheme"
        )
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***``: safe to print and log."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning validation errors into one readable ConfigError."""
    import tomllib

    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except tomllib.TOMLDecodeError as exc:  # the message carries "(at line L, column C)"
        raise ConfigError(f"{config_file()}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{config_file()}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}); save the file as UTF-8"
        ) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None
