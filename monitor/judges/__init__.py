"""The judges: LLM (synchronous or Batch API), lexical, semantic, and their ensemble.

Build them from configuration with ``build_ensemble``; each satisfies the ``Judge``
protocol (``async judge(items) -> list[Verdict]``); ``cache_key`` is the verdict cache's key.
"""

from monitor.judges.base import Judge, cache_key
from monitor.judges.batch import BATCH_DISCOUNT, BatchJudge
from monitor.judges.ensemble import METHODS, EnsembleGrade, aggregate, aggregate_verdicts
from monitor.judges.factory import build_ensemble, build_judge
from monitor.judges.lexical import DEFAULT_THRESHOLDS, LexicalJudge, coverage_score
from monitor.judges.limits import RateLimiter
from monitor.judges.llm import LLMJudge, PairwiseAnswer, PointwiseAnswer, api_key_for
from monitor.judges.prompts import (
    PromptTemplate,
    RenderedPrompt,
    available_templates,
    clean_text,
    load_template,
)
from monitor.judges.semantic import SemanticJudge

__all__ = [
    "BATCH_DISCOUNT",
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "BatchJudge",
    "EnsembleGrade",
    "Judge",
    "LLMJudge",
    "LexicalJudge",
    "PairwiseAnswer",
    "PointwiseAnswer",
    "PromptTemplate",
    "RateLimiter",
    "RenderedPrompt",
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
