"""The OpenAI Batch API mode: the same verdicts, paid at the batch discount, hours later.

Requests go up as one JSONL file, a batch is created, polled until it ends, and its output
is mapped back by ``custom_id`` into the same ``Verdict`` records the synchronous judge
gives. There is no repair round in batch mode (it would take another batch): an answer
that is not a valid grade is stored as ``invalid`` with its raw text. A line the batch
failed is a failed call of its item (``judge_each``); a batch that fails, expires or
cannot be sent is a failed call of every item in it; ``judge`` raises the first.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any, Final

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion
from pydantic import ValidationError

from monitor.config import JudgeConfig
from monitor.errors import ConfigError, JudgeError
from monitor.judges.llm import (
    Answered,
    Failed,
    LLMJudge,
    PointwiseAnswer,
    choice_of,
    content_of,
    expected_grade,
    parse_answer,
    usage_of,
)
from monitor.judges.llm import response_format as format_for
from monitor.types import JudgeItem, Verdict, VerdictStatus

__all__ = ["BATCH_DISCOUNT", "BatchJudge"]

#: OpenAI bills batch requests at half the synchronous price.
BATCH_DISCOUNT = 0.5
_ENDPOINT: Final = "/v1/chat/completions"
_DONE = {"completed", "failed", "expired", "cancelled"}


class BatchJudge(LLMJudge):
    """An ``LLMJudge`` whose ``judge`` goes through the Batch API.

    ``poll_interval_s`` spaces status polls; ``price_multiplier`` scales the configured
    per-token prices (the batch discount, 0.5 by default); ``max_polls`` bounds the wait.
    Pairwise comparison stays synchronous (inherited).
    """

    def __init__(
        self,
        config: JudgeConfig,
        *,
        client: AsyncOpenAI | None = None,
        poll_interval_s: float = 30.0,
        price_multiplier: float = BATCH_DISCOUNT,
        max_polls: int | None = None,
    ) -> None:
        super().__init__(config, client=client)
        if poll_interval_s < 0 or price_multiplier < 0:
            raise ConfigError(
                f"judge {config.name!r}: poll interval and price multiplier must be >= 0"
            )
        self.poll_interval_s = poll_interval_s
        self.price_multiplier = price_multiplier
        self.max_polls = max_polls

    #: tells ``judge_with_cache`` to submit all pending items as one batch, not in chunks
    submits_batches = True

    @property
    def portable(self) -> bool:
        """A batch waits hours on the provider: it stays in the process that submitted it."""
        return False

    def __repr__(self) -> str:
        return f"BatchJudge(name={self.name!r}, model={self.config.model!r})"

    async def judge_each(
        self,
        items: Sequence[JudgeItem],
        answered: Answered,
        failed: Failed,
        *,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Submit one batch for every item that needs a call; wait; map answers back.

        Each answer goes to ``answered``; a line the batch failed goes to ``failed``, and
        so does every item of a batch that failed, expired or could not be sent.
        ``judge`` (inherited) raises the first of these failures instead.
        """
        lines: list[dict[str, Any]] = []
        prepared: dict[str, tuple[int, str, bool]] = {}
        for index, item in enumerate(items):
            key, rendered = self._prepare(item)
            if isinstance(rendered, Verdict):
                answered(index, rendered)
                continue
            custom_id = f"item-{index}"
            prepared[custom_id] = (index, key, rendered.truncated)
            body = self.request_body(rendered.messages)
            body["response_format"] = format_for(self._format, "pointwise")
            lines.append({"custom_id": custom_id, "method": "POST", "url": _ENDPOINT, "body": body})
        if not lines or (stop is not None and stop()):
            return
        try:
            outputs = await self._run_batch(lines)
        except JudgeError as exc:
            for index, _, _ in prepared.values():
                failed(index, str(exc))
            return
        for custom_id, (index, key, truncated) in prepared.items():
            try:
                verdict = self._from_output(outputs, custom_id, key, truncated)
            except JudgeError as exc:
                failed(index, str(exc))
                continue
            answered(index, verdict)

    async def _run_batch(self, lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        payload = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        client = self._client()
        try:
            upload = await client.files.create(
                file=("judge-batch.jsonl", payload.encode("utf-8"), "application/jsonl"),
                purpose="batch",
            )
            batch = await client.batches.create(
                input_file_id=upload.id, endpoint=_ENDPOINT, completion_window="24h"
            )
            polls = 0
            while batch.status not in _DONE:
                if self.max_polls is not None and polls >= self.max_polls:
                    raise JudgeError(
                        f"judge {self.name!r}: batch {batch.id} still {batch.status} "
                        f"after {polls} polls"
                    )
                await asyncio.sleep(self.poll_interval_s)
                batch = await client.batches.retrieve(batch.id)
                polls += 1
            if batch.status != "completed" or not batch.output_file_id:
                raise JudgeError(
                    f"judge {self.name!r}: batch {batch.id} ended {batch.status} without output"
                )
            output = await client.files.content(batch.output_file_id)
        except openai.APIError as exc:
            raise self.endpoint_error(exc) from None
        answers: dict[str, dict[str, Any]] = {}
        for raw in output.text.splitlines():
            if raw.strip():
                row = json.loads(raw)
                answers[row["custom_id"]] = row
        return answers

    def _from_output(
        self, outputs: dict[str, dict[str, Any]], custom_id: str, key: str, truncated: bool
    ) -> Verdict:
        row = outputs.get(custom_id)
        if row is None:
            raise JudgeError(f"judge {self.name!r}: batch output has no line for {custom_id}")
        response = row.get("response") or {}
        if row.get("error") or response.get("status_code") != 200:
            detail = row.get("error") or response.get("body", {}).get("error", {})
            raise JudgeError(
                f"judge {self.name!r}: batch request {custom_id} failed with HTTP "
                f"{response.get('status_code')}: {detail}"
            )
        body = response.get("body")
        try:
            ChatCompletion.model_validate(body)
        except ValidationError as exc:
            raise JudgeError(
                f"judge {self.name!r}: batch line {custom_id} is not a chat completion"
            ) from exc
        raw = content_of(body)
        parsed, error = parse_answer(raw, PointwiseAnswer)
        in_tokens, out_tokens = usage_of(body)
        if parsed is None:
            return self._verdict(
                key,
                VerdictStatus.INVALID,
                None,
                reasoning=f"invalid answer (batch mode has no repair round): {error}",
                raw=raw,
                input_tokens=in_tokens,
                output_tokens=out_tokens,
                truncated=truncated,
            )
        return self._verdict(
            key,
            VerdictStatus.OK,
            parsed.grade,
            reasoning=parsed.reasoning,
            raw=raw,
            expected=expected_grade(choice_of(body).get("logprobs")),
            input_tokens=in_tokens,
            output_tokens=out_tokens,
            truncated=truncated,
        )

    def _cost(self, input_tokens: int, output_tokens: int) -> float:
        return super()._cost(input_tokens, output_tokens) * self.price_multiplier
