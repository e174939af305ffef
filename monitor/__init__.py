"""judge-monitor: daily LLM-judge monitoring of a production search system.

The library behind the ``judge-monitor`` CLI and the Prefect flows in ``flows/``, laid
out as the pipeline runs: ``sources`` → ``sampling`` → ``judges`` (and ``judging``:
cache, workers) → ``store`` (all SQL) → ``metrics`` (pure) → ``export``; ``pipeline``
holds one day's steps over a database, ``labels`` the human labels, ``report`` the
daily report, ``demo`` the demo shop. Each is importable and testable without Prefect.

The names below are the public API (``__all__``, checked by a test); they are imported
on first use (PEP 562), so ``import monitor`` stays as cheap as the CLI needs.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("judge-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

_HOMES = {
    # configuration
    "JudgeConfig": "config",
    "SamplingConfig": "config",
    "Settings": "config",
    "SourceConfig": "config",
    "load_settings": "config",
    # errors
    "ConfigError": "errors",
    "DatabaseError": "errors",
    "InputError": "errors",
    "JudgeError": "errors",
    "JudgeMonitorError": "errors",
    "SchemaError": "errors",
    "SourceError": "errors",
    # what flows between the steps
    "JudgeItem": "types",
    "PairwiseVerdict": "types",
    "Result": "types",
    "SampledQuery": "types",
    "SearchRecord": "types",
    "Verdict": "types",
    "VerdictStatus": "types",
    # sources and sampling
    "Source": "sources.base",
    "build_source": "sources.factory",
    "DailySample": "sampling",
    "sample_day": "sampling",
    # judges
    "BatchSubmitter": "judges.base",
    "Judge": "judges.base",
    "PairwiseJudge": "judges.base",
    "Portable": "judges.base",
    "Scorer": "judges.base",
    "build_ensemble": "judges.factory",
    "build_judge": "judges.factory",
    "judge_with_cache": "judging.ensemble",
    # storage
    "Database": "store.db",
    "connect": "store.db",
    "upgrade": "store.migrate",
    # one day
    "DayOutcome": "pipeline.steps",
    "StepRunner": "pipeline.day",
    "run_day": "pipeline.day",
    "compute_day_metrics": "pipeline.metrics_step",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = [
    "BatchSubmitter",
    "ConfigError",
    "DailySample",
    "Database",
    "DatabaseError",
    "DayOutcome",
    "InputError",
    "Judge",
    "JudgeConfig",
    "JudgeError",
    "JudgeItem",
    "JudgeMonitorError",
    "PairwiseJudge",
    "PairwiseVerdict",
    "Portable",
    "Result",
    "SampledQuery",
    "SamplingConfig",
    "SchemaError",
    "Scorer",
    "SearchRecord",
    "Settings",
    "Source",
    "SourceConfig",
    "SourceError",
    "StepRunner",
    "Verdict",
    "VerdictStatus",
    "__version__",
    "build_ensemble",
    "build_judge",
    "build_source",
    "compute_day_metrics",
    "connect",
    "judge_with_cache",
    "load_settings",
    "run_day",
    "sample_day",
    "upgrade",
]
