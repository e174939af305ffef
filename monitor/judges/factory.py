"""Build judges from configuration, failing on every missing key before any call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from openai import AsyncOpenAI

from monitor.config import JudgeConfig
from monitor.errors import ConfigError
from monitor.judges.base import Judge
from monitor.judges.batch import BatchJudge
from monitor.judges.llm import LLMJudge, api_key_for

__all__ = ["build_ensemble", "build_judge", "close_judges"]


def build_judge(config: JudgeConfig, *, client: AsyncOpenAI | None = None) -> Judge:
    """The judge for ``config.kind``: ``llm`` (batch or not), ``lexical`` or ``semantic``."""
    if config.kind == "llm":
        if config.batch:
            return BatchJudge(config, client=client)
        return LLMJudge(config, client=client)
    if config.kind == "lexical":
        from monitor.judges.lexical import LexicalJudge  # scikit-learn: imported when used

        return LexicalJudge(config)
    if config.kind == "semantic":
        # imported here: the module is light, but its model needs the optional extra
        from monitor.judges.semantic import SemanticJudge, require_extra

        require_extra()
        return SemanticJudge(config)
    raise ConfigError(f"judge {config.name!r}: unknown kind {config.kind!r}")


def build_ensemble(
    configs: Sequence[JudgeConfig], *, clients: Mapping[str, AsyncOpenAI] | None = None
) -> list[Judge]:
    """All judges, after checking names are unique and every key variable is set.

    Every problem is reported at once, so a run never spends money on the first judges
    and then stops on the fifth one's missing key.
    """
    names = [c.name for c in configs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"judge names must be unique, repeated: {', '.join(repeated)}")
    problems = []
    for config in configs:
        if config.kind != "llm":
            continue
        try:
            api_key_for(config)
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    clients = clients or {}
    return [build_judge(config, client=clients.get(config.name)) for config in configs]


async def close_judges(judges: Sequence[Judge]) -> None:
    """Close each judge's HTTP client on the event loop that used it (local judges have none)."""
    for judge in judges:
        await judge.aclose()
