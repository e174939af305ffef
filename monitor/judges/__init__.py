"""The judges: LLM (synchronous or Batch API), lexical, semantic, and their ensemble.

Build them from configuration with ``build_ensemble``; each satisfies the ``Judge``
protocol (``async judge(items) -> list[Verdict]``); ``cache_key`` is the verdict cache's key.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are imported on first use (PEP 562): a worker process that only needs the LLM
# judge should not pay for scikit-learn, which the lexical judge imports.
_HOMES = {
    "BatchSubmitter": "base",
    "Judge": "base",
    "PairwiseJudge": "base",
    "Portable": "base",
    "Scorer": "base",
    "cache_key": "base",
    "BATCH_DISCOUNT": "batch",
    "BatchJudge": "batch",
    "METHODS": "ensemble",
    "EnsembleGrade": "ensemble",
    "aggregate": "ensemble",
    "aggregate_verdicts": "ensemble",
    "build_ensemble": "factory",
    "build_judge": "factory",
    "DEFAULT_THRESHOLDS": "lexical",
    "LexicalJudge": "lexical",
    "coverage_score": "lexical",
    "RateLimiter": "limits",
    "LLMJudge": "llm",
    "PairwiseAnswer": "llm",
    "PointwiseAnswer": "llm",
    "api_key_for": "llm",
    "PromptTemplate": "prompts",
    "RenderedPrompt": "prompts",
    "available_templates": "prompts",
    "clean_text": "prompts",
    "load_template": "prompts",
    "SemanticJudge": "semantic",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "BATCH_DISCOUNT",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "BatchJudge",
    "BatchSubmitter",
    "EnsembleGrade",
    "Judge",
    "LLMJudge",
    "LexicalJudge",
    "PairwiseAnswer",
    "PairwiseJudge",
    "PointwiseAnswer",
    "Portable",
    "PromptTemplate",
    "RateLimiter",
    "RenderedPrompt",
    "Scorer",
    "SemanticJudge",
    "aggregate",
    "aggregate_verdicts",
    "api_key_for",
    "available_templates",
    "build_ensemble",
    "build_judge",
    "cache_key",
    "clean_text",
    "coverage_score",
    "load_template",
]
