"""A judge that asks an OpenAI-compatible chat endpoint (OpenAI, Azure, vLLM, Ollama…).

Retries of 429/5xx/timeouts/dropped connections are the ``openai`` client's own
(``max_retries``, backoff, ``retry-after``); this module adds what the client cannot know:
bounded concurrency, RPM/TPM budgets, structured output with a fallback to JSON mode, one
repair round for answers that are not a valid grade, and the same bounded retries (with
backoff) for a status 200 whose body is not a chat completion (an HTML page, a truncated
or non-JSON body), which the client hands back as it came. An answer still invalid after
the repair is stored as an ``invalid`` verdict with its raw text — never guessed, never
dropped. An endpoint that fails beyond its retries is a *failed call*, never a verdict: a
``JudgeError`` whose one line names the judge, the endpoint (no key, no query string)
and the real cause ("connection refused", "answered HTTP 503", "an HTML page"...).
``judge_each`` reports each item's verdict or failed call as soon as it is known and
goes on with the others; ``judge`` raises the first failure.

One module because it is one backend (one backend per file): the pointwise, reference
and pairwise paths share the client, the limits and the repair round.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import openai
from openai import DEFAULT_CONNECTION_LIMITS, AsyncOpenAI, DefaultAioHttpClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.config import JudgeConfig
from monitor.errors import ConfigError, InputError, JudgeError
from monitor.judges.base import gather_or_raise, item_key, key_prefix
from monitor.judges.endpoint import endpoint_label, not_a_completion, one_line, transport_cause
from monitor.judges.limits import RateLimiter
from monitor.judges.prompts import PromptTemplate, RenderedPrompt, clean_text, load_template
from monitor.types import MAX_GRADE, JudgeItem, PairwiseVerdict, Result, Verdict, VerdictStatus

__all__ = [
    "LLMJudge",
    "PairwiseAnswer",
    "PointwiseAnswer",
    "api_key_for",
    "expected_grade",
    "parse_answer",
    "response_format",
]

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

_STATUS_PREFIX = re.compile(r"^Error code: \d+ - ")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)
_GRADE_KEY = re.compile(r'"grade"\s*:\s*$')
_REPAIR = (
    "Your previous reply could not be used: {error}. Reply only with valid JSON, exactly "
    "one object of the form {shape}, and nothing else."
)
_SHAPES = {
    "pointwise": '{"reasoning": "<short reasoning>", "grade": <0, 1, 2 or 3>}',
    "pairwise": '{"reasoning": "<short reasoning>", "preference": "A" | "B" | "tie"}',
}
NO_KEY_NEEDED = "no-key-needed"  # local endpoints (vLLM, Ollama) configured with api_key_env=None
#: Backoff between retries of a malformed 200 answer, as the ``openai`` client's own.
_RETRY_DELAY_S, _MAX_RETRY_DELAY_S = 0.5, 8.0
#: Called with (index of the item, its verdict) as each answer arrives.
Answered = Callable[[int, Verdict], None]
#: Called with (index of the item, the one-line cause) for a call that failed for good.
Failed = Callable[[int, str], None]


class PointwiseAnswer(BaseModel):
    """A graded answer; the grade must be an integer on the scale, nothing coerced."""

    model_config = ConfigDict(extra="ignore")

    reasoning: str = Field(default="", max_length=20_000)
    grade: int = Field(strict=True, ge=0, le=MAX_GRADE)


class PairwiseAnswer(BaseModel):
    """A preference between the result shown as A and the one shown as B."""

    model_config = ConfigDict(extra="ignore")

    reasoning: str = Field(default="", max_length=20_000)
    preference: Literal["A", "B", "tie"]

    @field_validator("preference", mode="before")
    @classmethod
    def _fold_case(cls, value: Any) -> Any:
        if isinstance(value, str):
            folded = value.strip()
            return folded.upper() if folded.lower() in {"a", "b"} else folded.lower()
        return value


def response_format(kind: str, mode: str) -> dict[str, Any]:
    """The ``response_format`` argument: a strict JSON schema, or plain JSON mode."""
    if kind == "json_object":
        return {"type": "json_object"}
    verdict: dict[str, Any]
    if mode == "pairwise":
        name, verdict = "pairwise_preference", {"type": "string", "enum": ["A", "B", "tie"]}
        field = "preference"
    else:
        name, verdict = "relevance_grade", {"type": "integer", "enum": list(range(MAX_GRADE + 1))}
        field = "grade"
    schema = {
        "type": "object",
        "properties": {"reasoning": {"type": "string"}, field: verdict},
        "required": ["reasoning", field],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": schema}}


def parse_answer(content: str, model: type[M]) -> tuple[M | None, str]:
    """The answer as ``model``, or None and a one-line reason it is not valid."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at position {exc.pos})"
    if not isinstance(payload, dict):
        return None, f"expected a JSON object, got {type(payload).__name__}"
    try:
        return model.model_validate(payload), ""
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        return None, f"{where}: {first['msg']}"


def expected_grade(logprobs: Any) -> float | None:
    """Probability-weighted grade from the grade token's top logprobs, when present.

    ``logprobs`` is a choice's ``logprobs`` object as JSON (a dict), as the endpoint sent it.

    A judge that is 60/40 between 2 and 3 says more than its argmax does; calibration
    and drift use this continuous figure.
    """
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(content, list):
        return None
    seen = ""
    for entry in content:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            return None
        token = entry["token"]
        if _GRADE_KEY.search(seen) and token.strip().isdigit():
            weights: dict[int, float] = {}
            for alt in entry.get("top_logprobs") or []:
                alt_token = str(alt.get("token", "")).strip()
                if alt_token.isdigit() and 0 <= int(alt_token) <= MAX_GRADE:
                    weight = math.exp(float(alt.get("logprob", -math.inf)))
                    weights[int(alt_token)] = weights.get(int(alt_token), 0.0) + weight
            total = sum(weights.values())
            if total <= 0:
                return None
            return sum(g * w for g, w in weights.items()) / total
        seen += token
    return None


def api_key_for(config: JudgeConfig) -> str:
    """The judge's key from its environment variable; ConfigError naming the variable."""
    if config.api_key_env is None:
        return NO_KEY_NEEDED
    value = os.environ.get(config.api_key_env, "")
    if not value.strip():
        raise ConfigError(
            f"judge {config.name!r}: environment variable {config.api_key_env} "
            "(its API key) is not set"
        )
    return value


@dataclass(slots=True)
class _Outcome:
    """One question to the endpoint, with its repair round if there was one."""

    parsed: BaseModel | None
    raw: str
    error: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float = 0.0
    expected: float | None = None


class LLMJudge:
    """Pointwise or reference-based grading, plus pairwise comparison, over chat completions.

    The mode follows the configured template: ``pointwise`` or ``reference`` (which needs
    ``JudgeItem.reference``). The client is built from the config (key from
    ``config.api_key_env``, checked here, before any call) unless one is injected.
    """

    def __init__(self, config: JudgeConfig, *, client: AsyncOpenAI | None = None) -> None:
        if config.kind != "llm":
            raise ConfigError(
                f"judge {config.name!r}: LLMJudge needs kind 'llm', not {config.kind!r}"
            )
        self._config = config
        self._template: PromptTemplate = load_template(config.prompt)
        if self._template.mode == "pairwise":
            raise ConfigError(
                f"judge {config.name!r}: prompt {config.prompt!r} is pairwise; pointwise "
                "judging needs a pointwise or reference template"
            )
        self._pair_template = load_template("pairwise")
        # the config and template are fixed for the judge's life
        self._key_prefix = key_prefix(config, self._template.version, self._template.mode)
        self._api_key = api_key_for(config)
        self._injected = (
            client.with_options(max_retries=config.max_retries, timeout=config.timeout_s)
            if client is not None
            else None
        )
        self._clients: dict[int, AsyncOpenAI] = {}
        self._semaphores: dict[int, asyncio.Semaphore] = {}
        self._format: str = config.response_format
        self._rpm = RateLimiter(config.rpm) if config.rpm else None
        # A token budget allows bursts of ten seconds' worth: one call costs many tokens.
        self._tpm = (
            RateLimiter(config.tpm, capacity=max(config.tpm / 6, 1.0)) if config.tpm else None
        )

    def __repr__(self) -> str:
        return f"LLMJudge(name={self.name!r}, model={self._config.model!r})"

    @property
    def name(self) -> str:
        return self._config.name

    @property
    def config(self) -> JudgeConfig:
        return self._config

    @property
    def prompt_version(self) -> str:
        return self._template.version

    @property
    def has_injected_client(self) -> bool:
        """Whether calls go through a client the caller passed in (tests, embedding apps)."""
        return self._injected is not None

    @property
    def mode(self) -> str:
        return self._template.mode

    @property
    def portable(self) -> bool:
        """Rebuildable in a worker process unless calls go through an injected client."""
        return not self.has_injected_client

    async def judge(self, items: Sequence[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order; JudgeError if the endpoint fails for good."""
        out: list[Verdict | None] = [None] * len(items)

        def answered(index: int, verdict: Verdict) -> None:
            out[index] = verdict

        def failed(index: int, cause: str) -> None:
            raise JudgeError(cause)  # the first failure cancels the other calls

        await self.judge_each(items, answered, failed)
        return [v for v in out if v is not None]

    async def judge_each(
        self,
        items: Sequence[JudgeItem],
        answered: Answered,
        failed: Failed,
        *,
        stop: Callable[[], bool] | None = None,
    ) -> None:
        """Judge every item, passing each verdict to ``answered`` as soon as it arrives.

        A call that fails beyond its retries (the endpoint down, timing out, answering
        5xx or something that is not a chat completion) goes to ``failed`` with its
        one-line cause, and the other items go on. Items still waiting for a slot when
        ``stop()`` turns true are not asked at all (neither callback hears of them).
        """
        if self.mode == "reference":
            for index, item in enumerate(items):
                if item.reference is None:
                    raise InputError(
                        f"judge {self.name!r} grades against a reference, but item {index} "
                        f"(result {item.result.id!r}) has none"
                    )

        async def one(index: int, item: JudgeItem) -> None:
            try:
                verdict = await self._judge_one(item, stop)
            except JudgeError as exc:
                failed(index, str(exc))
                return
            if verdict is not None:
                answered(index, verdict)

        await gather_or_raise([one(index, item) for index, item in enumerate(items)])

    async def judge_pairwise(self, query: str, a: Result, b: Result) -> PairwiseVerdict:
        """Which of ``a`` and ``b`` serves ``query`` better, asked in both orders."""
        query_text = clean_text(query).strip()
        if not query_text:
            raise InputError(f"judge {self.name!r}: pairwise comparison needs a non-empty query")
        limit = self._config.max_input_chars
        orders = [(a, b), (b, a)]
        outcomes = await gather_or_raise(
            [
                self._ask_now(
                    self._pair_template.render(
                        query=query_text,
                        result_a=first.content,
                        result_b=second.content,
                        rubric=self._config.rubric,
                        max_input_chars=limit,
                    ).messages,
                    PairwiseAnswer,
                    "pairwise",
                )
                for first, second in orders
            ]
        )
        shown_first = [_preference(outcomes[0], {"A": "a", "B": "b"})]
        shown_first.append(_preference(outcomes[1], {"A": "b", "B": "a"}))
        first, second = shown_first
        consistent = first == second and first != "invalid"
        in_tokens = sum(o.input_tokens for o in outcomes)
        out_tokens = sum(o.output_tokens for o in outcomes)
        reasons = [
            f"{label}: {o.parsed.reasoning if isinstance(o.parsed, PairwiseAnswer) else o.error}"
            for label, o in zip(("A first", "B first"), outcomes, strict=True)
        ]
        return PairwiseVerdict(
            judge=self.name,
            query=query,
            a_id=a.id,
            b_id=b.id,
            first=first,
            second=second,
            winner=first if consistent else "tie",
            consistent=consistent,
            reasoning=" | ".join(reasons),
            input_tokens=in_tokens,
            output_tokens=out_tokens,
            cost_usd=self._cost(in_tokens, out_tokens),
        )

    async def aclose(self) -> None:
        """Close the clients this judge built (an injected client is the caller's)."""
        for client in self._clients.values():
            await client.close()
        self._clients.clear()

    # -- one item ------------------------------------------------------------------------

    def _prepare(self, item: JudgeItem) -> tuple[str, RenderedPrompt | Verdict]:
        """The cache key, and either the prompt to send or the verdict needing no call."""
        key = item_key(self._key_prefix, item)
        query = clean_text(item.query).strip()
        content = clean_text(item.result.content).strip()
        problem = (
            "empty query text"
            if not query
            else "empty result text"
            if not content
            else "empty reference text"
            if self.mode == "reference" and not clean_text(item.reference or "").strip()
            else ""
        )
        if problem:
            # Nothing to judge: say so as an invalid verdict instead of paying for a guess.
            return key, self._verdict(key, VerdictStatus.INVALID, None, reasoning=problem)
        rendered = self._template.render(
            query=query,
            result=content,
            reference=item.reference,
            rubric=self._config.rubric,
            max_input_chars=self._config.max_input_chars,
        )
        return key, rendered

    async def _judge_one(
        self, item: JudgeItem, stop: Callable[[], bool] | None = None
    ) -> Verdict | None:
        """The item's verdict; None if ``stop()`` said to give up before it was asked."""
        key, rendered = self._prepare(item)
        if isinstance(rendered, Verdict):
            return rendered
        outcome = await self._ask(rendered.messages, PointwiseAnswer, "pointwise", stop)
        if outcome is None:
            return None
        answer = outcome.parsed
        if isinstance(answer, PointwiseAnswer):
            status, grade, reasoning = VerdictStatus.OK, answer.grade, answer.reasoning
        else:
            status, grade = VerdictStatus.INVALID, None
            reasoning = f"invalid answer: {outcome.error}"
        return self._verdict(
            key,
            status,
            grade,
            reasoning=reasoning,
            raw=outcome.raw,
            expected=outcome.expected,
            input_tokens=outcome.input_tokens,
            output_tokens=outcome.output_tokens,
            latency_ms=outcome.latency_ms,
            truncated=rendered.truncated,
        )

    def _verdict(
        self,
        key: str,
        status: VerdictStatus,
        grade: int | None,
        *,
        reasoning: str,
        raw: str = "",
        expected: float | None = None,
        input_tokens: int = 0,
        output_tokens: int = 0,
        latency_ms: float = 0.0,
        truncated: bool = False,
    ) -> Verdict:
        return Verdict(
            judge=self.name,
            cache_key=key,
            status=status,
            grade=grade,
            reasoning=reasoning,
            raw=raw,
            model=self._config.model,
            prompt_version=self.prompt_version,
            mode=self.mode,
            expected_grade=expected,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            latency_ms=latency_ms,
            cost_usd=self._cost(input_tokens, output_tokens),
            truncated=truncated,
        )

    def _cost(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self._config.price_input_per_mtok
            + output_tokens * self._config.price_output_per_mtok
        ) / 1_000_000

    # -- the endpoint ----------------------------------------------------------------------

    async def _ask_now(
        self, messages: list[dict[str, str]], model: type[BaseModel], mode: str
    ) -> _Outcome:
        outcome = await self._ask(messages, model, mode)
        assert outcome is not None  # nothing can stop it
        return outcome

    async def _ask(
        self,
        messages: list[dict[str, str]],
        model: type[BaseModel],
        mode: str,
        stop: Callable[[], bool] | None = None,
    ) -> _Outcome | None:
        """Ask once; if the answer is unusable, ask once more with a repair instruction.

        None if ``stop()`` is true once a slot is free: the question is not asked.
        """
        answer = await self._complete(messages, mode, stop)
        if answer is None:
            return None
        completion, latency = answer
        raw = content_of(completion)
        parsed, error = parse_answer(raw, model)
        outcome = _Outcome(parsed, raw, error, *usage_of(completion), latency)
        if parsed is None:
            repair = [
                *messages,
                {"role": "assistant", "content": raw},
                {"role": "user", "content": _REPAIR.format(error=error, shape=_SHAPES[mode])},
            ]
            completion, latency = await self._complete_now(repair, mode)
            raw = content_of(completion)
            parsed, error = parse_answer(raw, model)
            in_tokens, out_tokens = usage_of(completion)
            outcome = _Outcome(
                parsed,
                raw,
                error,
                outcome.input_tokens + in_tokens,
                outcome.output_tokens + out_tokens,
                outcome.latency_ms + latency,
            )
        if parsed is not None and mode == "pointwise":
            outcome.expected = expected_grade(choice_of(completion).get("logprobs"))
        return outcome

    async def _complete_now(self, messages: list[dict[str, str]], mode: str) -> tuple[Any, float]:
        answer = await self._complete(messages, mode)
        assert answer is not None  # nothing can stop it
        return answer

    async def _complete(
        self, messages: list[dict[str, str]], mode: str, stop: Callable[[], bool] | None = None
    ) -> tuple[Any, float] | None:
        config = self._config
        async with self._semaphore():
            if stop is not None and stop():
                return None
            if self._rpm is not None:
                await self._rpm.acquire()
            if self._tpm is not None:
                chars = sum(len(m["content"]) for m in messages)
                await self._tpm.acquire(chars / 4 + config.max_tokens)
            kwargs = self.request_body(messages)
            return await self._post(self._client(), kwargs, mode)

    async def _post(
        self, client: AsyncOpenAI, kwargs: dict[str, Any], mode: str
    ) -> tuple[Any, float]:
        malformed = 0  # answers with status 200 that were not a chat completion
        while True:
            fmt = self._format
            started = time.perf_counter()
            try:
                body = {**kwargs, "response_format": response_format(fmt, mode)}
                # ``client.post`` rather than ``chat.completions.create``: the same
                # request, retries and errors, without the per-call TypedDict transform
                # of the body (built and checked here). The answer comes back as plain
                # JSON (``cast_to=object``): building the SDK's ChatCompletion model
                # costs a tenth of the client's CPU per call, and only the content,
                # usage and logprobs are read (defensively) here.
                completion = await client.post("/chat/completions", body=body, cast_to=object)
                problem = not_a_completion(completion)
                if not problem:
                    return completion, (time.perf_counter() - started) * 1000
            except json.JSONDecodeError as exc:
                # a JSON content type with a body cut short or not JSON: the client
                # does not retry this, it is the response's own parse that failed
                problem = f"sent a truncated or malformed JSON body ({exc.msg})"
            except openai.BadRequestError as exc:
                if fmt != "json_schema":
                    raise self.endpoint_error(exc) from None
                # Many compatible servers know JSON mode but not json_schema.
                log.warning(
                    "judge %s: endpoint refused json_schema (%s); using json_object",
                    self.name,
                    exc.message,
                )
                self._format = "json_object"
                continue
            except openai.APIError as exc:
                raise self.endpoint_error(exc) from None
            # a protocol fault, not the model's answer: retried as the client retries
            malformed += 1
            if malformed > self._config.max_retries:
                raise JudgeError(self._failure(problem))
            delay = min(_RETRY_DELAY_S * 2 ** (malformed - 1), _MAX_RETRY_DELAY_S)
            await asyncio.sleep(delay * random.uniform(0.75, 1.0))  # jitter, as the client's

    def request_body(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """The chat-completions arguments besides ``response_format``."""
        config = self._config
        body: dict[str, Any] = {
            "model": config.model,
            "messages": messages,
            "temperature": config.temperature,
            "max_tokens": config.max_tokens,
        }
        if config.seed is not None:
            body["seed"] = config.seed
        if config.logprobs:
            body.update(logprobs=True, top_logprobs=5)
        return body

    def endpoint_error(self, exc: openai.APIError) -> JudgeError:
        """A one-line JudgeError for a failure the client's retries did not cure."""
        if isinstance(exc, openai.APIStatusError):
            said = _STATUS_PREFIX.sub("", exc.message)  # the client's "Error code: 500 - "
            what = f"answered HTTP {exc.status_code}: {one_line(said)}"
        elif isinstance(exc, openai.APIConnectionError):  # a timeout is one too
            what = transport_cause(exc, self._config.timeout_s)
        else:
            what = f"gave an unusable response: {one_line(exc.message)}"
        return JudgeError(self._failure(what))

    def _failure(self, what: str) -> str:
        retries = self._config.max_retries
        return (
            f"judge {self.name!r}: endpoint {endpoint_label(self._config.base_url)}: {what} "
            f"(after {retries} {'retry' if retries == 1 else 'retries'})"
        )

    def _client(self) -> AsyncOpenAI:
        """The injected client, or one built for the running loop (pools are per loop)."""
        if self._injected is not None:
            return self._injected
        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None:
            client = AsyncOpenAI(
                api_key=self._api_key,
                base_url=self._config.base_url,
                max_retries=self._config.max_retries,
                timeout=self._config.timeout_s,
                http_client=_http_client(self._config.max_concurrency),
            )
            self._clients = {loop_id: client}
        return client

    def _semaphore(self) -> asyncio.Semaphore:
        loop_id = id(asyncio.get_running_loop())
        semaphore = self._semaphores.get(loop_id)
        if semaphore is None:
            semaphore = asyncio.Semaphore(self._config.max_concurrency)
            self._semaphores = {loop_id: semaphore}
        return semaphore


def _http_client(concurrency: int) -> Any:
    """The SDK's aiohttp transport (``openai[aiohttp]``), pooling a connection per call.

    It costs a third less CPU per call than the default httpx transport, which is what
    bounds a daily run's calls per second on a small machine (README, Performance).
    """
    limits = DEFAULT_CONNECTION_LIMITS.__class__(
        max_connections=max(1000, concurrency),
        max_keepalive_connections=max(100, concurrency),
    )
    return DefaultAioHttpClient(limits=limits)


def choice_of(completion: Any) -> dict[str, Any]:
    """The first choice of a chat completion as JSON, or {} if it has none."""
    choices = completion.get("choices") if isinstance(completion, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def content_of(completion: Any) -> str:
    message = choice_of(completion).get("message")
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""


def usage_of(completion: Any) -> tuple[int, int]:
    usage = completion.get("usage") if isinstance(completion, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)


def _preference(outcome: _Outcome, labels: dict[str, str]) -> str:
    if not isinstance(outcome.parsed, PairwiseAnswer):
        return "invalid"
    return labels.get(outcome.parsed.preference, "tie")
