"""The demo's simulated LLM judges: OpenAI-protocol endpoints that answer from ground truth.

The demo cannot call a real model (no key, no network, three minutes), so each of its
three LLM judges is the project's own test server (``monitor.testing.fake_openai``)
started on a loopback port, with a *policy* that reads the query and the result out of
the prompt, looks them up in the demo world (``monitor.sources.demo`` knows every
(query, playlist) true grade) and answers as a model with a known flaw would:

- ``sim-large``: close to the truth (one grade in fifty off by one);
- ``sim-mini``: noisier (one in ten off by one or two), more malformed answers, and asked
  "A or B?" it often picks whichever is shown first (a position preference);
- ``sim-verbose``: grades longer playlists higher and shorter ones lower (a length bias).

Everything between the judge and the server is the real code path: the prompt
templates, structured output, the repair round for a malformed answer, retries, the
verdict cache, tokens and cost. Answers carry a reasoning, the server counts tokens
from the texts, and each endpoint answers with its own latency. A real judge takes a
simulated one's place by changing its ``[[judges]]`` block (``REAL_JUDGE_TOML``).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor.config import SourceConfig
from monitor.errors import InputError
from monitor.sources.demo import ATTRS, LOCALES, VOCAB, DemoCatalog, DemoSource
from monitor.testing.fake_openai import FakeOpenAI, Reply, default_policy, prompt_fields

__all__ = [
    "DEMO_KEY_ENV",
    "REAL_JUDGE_TOML",
    "SIMULATED_JUDGES",
    "DemoWorld",
    "SimulatedJudge",
    "SimulatedPolicy",
    "simulated_endpoints",
]

#: The environment variable the simulated judges' ``api_key_env`` names (the demo sets it).
DEMO_KEY_ENV = "JUDGE_MONITOR_DEMO_KEY"
#: Ports tried first, so a rerun with ``--keep`` finds the same judges (same base_url).
PREFERRED_PORTS = (18431, 18432, 18433)

REAL_JUDGE_TOML = """\
[[judges]]
name = "gpt"
kind = "llm"
model = "gpt-4o-mini"
base_url = "https://api.openai.com/v1"  # or vLLM, Ollama, Azure...
api_key_env = "OPENAI_API_KEY"  # the variable's name, not the key
price_input_per_mtok = 0.15
price_output_per_mtok = 0.60"""

_LINE = re.compile(r"^\d+\. (.*?) — (.*)$")
_LANGUAGE = {"en": "English", "de": "German", "fr": "French"}


@dataclass(frozen=True)
class SimulatedJudge:
    """One simulated LLM judge: its configuration and its flaws (shares are of answers)."""

    name: str
    model: str
    flaw: str  # one line, as the demo prints it
    latency_s: float
    price_input_per_mtok: float
    price_output_per_mtok: float
    off_by_one: float = 0.0
    off_by_two: float = 0.0
    length_bias: bool = False
    position_bias: float = 0.0  # share of pairwise answers that are just "A"
    malformed: float = 0.0  # first answers that are not a valid grade
    stubborn: float = 0.0  # ... and still not after the repair round (invalid verdicts)
    wordy: bool = False

    def config(self, base_url: str) -> dict[str, object]:
        """The judge's ``[[judges]]`` block, exactly as a user writes one for a real model."""
        return {
            "name": self.name,
            "kind": "llm",
            "model": self.model,
            "base_url": base_url,
            "api_key_env": DEMO_KEY_ENV,
            "price_input_per_mtok": self.price_input_per_mtok,
            "price_output_per_mtok": self.price_output_per_mtok,
            "max_concurrency": 32,
            "max_retries": 2,
            "timeout_s": 30.0,
        }


SIMULATED_JUDGES: tuple[SimulatedJudge, ...] = (
    SimulatedJudge(
        name="sim-large",
        model="sim-large-2026",
        flaw="close to the truth",
        latency_s=0.040,
        price_input_per_mtok=2.50,
        price_output_per_mtok=10.00,
        off_by_one=0.02,
        malformed=0.01,
        stubborn=0.003,
    ),
    SimulatedJudge(
        name="sim-mini",
        model="sim-mini-2026",
        flaw="noisier; prefers the first of two",
        latency_s=0.015,
        price_input_per_mtok=0.15,
        price_output_per_mtok=0.60,
        off_by_one=0.08,
        off_by_two=0.02,
        position_bias=0.6,
        malformed=0.05,
        stubborn=0.025,
    ),
    SimulatedJudge(
        name="sim-verbose",
        model="sim-verbose-2026",
        flaw="grades longer playlists higher",
        latency_s=0.030,
        price_input_per_mtok=1.00,
        price_output_per_mtok=4.00,
        off_by_one=0.02,
        length_bias=True,
        malformed=0.02,
        stubborn=0.006,
        wordy=True,
    ),
)


def _unit(*parts: object) -> float:
    """A stable uniform number in [0, 1) from its parts: the same question, the same answer."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


class DemoWorld:
    """The demo's catalog seen from a judge: which playlist a prompt shows, its true grade."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.source = DemoSource(SourceConfig(kind="demo", options=dict(options)))
        cat: DemoCatalog = self.source.catalog
        self.catalog = cat
        # a judge sees a result as "title\ntext" (Result.content), cleaned to NFC
        pairs = list(enumerate(zip(cat.titles, cat.texts, strict=True)))
        self._by_content = {_nfc(f"{t}\n{x}"): i for i, (t, x) in pairs}
        self._by_line = {(_nfc(t), _nfc(x)): i for i, (t, x) in pairs}
        self._memo: dict[str, list[int] | None] = {}
        lengths = np.array([len(c) for c in self._by_content])
        #: content lengths below which the length-biased judge marks down (mostly;
        #: sometimes), and from which it marks up
        self.short, self.shortish, self.long = (
            float(v) for v in np.percentile(lengths, [20, 45, 80])
        )

    def item(self, content: str) -> int | None:
        """The playlist a result's text shows, or None when it is not one of the demo's."""
        return self._by_content.get(_nfc(content))

    def ranking(self, content: str) -> list[int] | None:
        """The playlists of a ranked list as ``compare`` renders it ("1. Title — text")."""
        found = []
        for line in content.splitlines()[1:]:
            match = _LINE.match(line.strip())
            if match is None:
                return None
            index = self._by_line.get((_nfc(match.group(1)), _nfc(match.group(2))))
            if index is None:
                return None
            found.append(index)
        return found or None

    def knows(self, query: str) -> bool:
        """Whether ``query`` is one the demo generates (its grades are known)."""
        return self._grades(query) is not None

    def _grades(self, query: str) -> list[int] | None:
        if query not in self._memo:
            try:
                self._memo[query] = self.catalog.grades(query).tolist()
            except InputError:
                self._memo[query] = None
        return self._memo[query]

    def grade(self, query: str, index: int) -> int:
        grades = self._grades(query)
        if grades is None:
            raise InputError(f"demo ground truth: {query!r} is not a query the demo generates")
        return grades[index]

    def dcg(self, query: str, items: Sequence[int]) -> float:
        return float(
            sum(
                (2.0 ** self.grade(query, i) - 1) / np.log2(rank + 2)
                for rank, i in enumerate(items)
            )
        )

    def describe(self, query: str, index: int) -> str:
        """What a careful rater would say: what was asked, what the playlist is."""
        spec = self.catalog.spec(query)
        cat = self.catalog
        asked = [VOCAB[a]["en"][v] for a, v in spec.attrs]
        matched = [VOCAB[a]["en"][v] for a, v in spec.attrs if cat.attr[a][index] == v]
        has = ", ".join(VOCAB[a]["en"][cat.attr[a][index]] for a in ATTRS)
        item_locale = LOCALES[cat.locale[index]]
        language = (
            "same language"
            if item_locale == spec.locale
            else f"but in {_LANGUAGE[item_locale]}, not {_LANGUAGE[spec.locale]}"
        )
        return (
            f"The query asks for {' + '.join(asked)}; the playlist is {has}, {language}. "
            f"It matches {len(matched)} of {len(asked)} ({', '.join(matched) or 'none'})."
        )


class SimulatedPolicy:
    """A ``FakeOpenAI`` policy: one simulated judge answering from the demo's ground truth."""

    def __init__(self, judge: SimulatedJudge, world: DemoWorld) -> None:
        self.judge = judge
        self.world = world

    def __call__(self, body: dict[str, Any]) -> Reply:
        fields = prompt_fields(body)
        query = fields.get("query", "")
        repair = any(m.get("role") == "assistant" for m in body.get("messages", []))
        if not self.world.knows(query):
            return default_policy(body)
        if "result_a" in fields and "result_b" in fields:
            return self._pairwise(query, fields["result_a"], fields["result_b"])
        index = self.world.item(fields.get("result", ""))
        if index is None:
            return default_policy(body)
        u = _unit(self.judge.name, "malformed", query, index)
        if u < (self.judge.stubborn if repair else self.judge.malformed):
            return _malformed(_unit(self.judge.name, "flavour", query, index, repair))
        grade, reasoning = self._grade(query, index)
        return Reply.grade_answer(grade, reasoning=reasoning)

    def _grade(self, query: str, index: int) -> tuple[int, str]:
        judge, world = self.judge, self.world
        true = world.grade(query, index)
        reasoning = world.describe(query, index)
        shift = 0
        u = _unit(judge.name, "noise", query, index)
        up = _unit(judge.name, "direction", query, index) < 0.5
        if u < judge.off_by_two:
            shift = 2 if up else -2
        elif u < judge.off_by_two + judge.off_by_one:
            shift = 1 if up else -1
        if judge.length_bias:
            length = len(world.catalog.titles[index]) + 1 + len(world.catalog.texts[index])
            thin = _unit(judge.name, "thin", query, index)
            if length < world.short and thin < 0.4:
                shift -= 1
                reasoning += " The description is very short, there is little to go on."
            elif world.short <= length < world.shortish and thin < 0.1:
                shift -= 1
                reasoning += " The description is rather thin."
            elif length >= world.long:
                shift += 1
                reasoning += " The description is rich and detailed, a strong sign."
        if judge.wordy:
            reasoning += (
                " Weighing genre, mood, era and activity in turn, and the language of the "
                "titles, this is my assessment."
            )
        grade = min(3, max(0, true + shift))
        return grade, f"{reasoning} Grade {grade}."

    def _pairwise(self, query: str, a_text: str, b_text: str) -> Reply:
        judge, world = self.judge, self.world
        a, b = world.ranking(a_text), world.ranking(b_text)
        if a is None or b is None:
            return Reply.preference("tie", reasoning="cannot read the lists")
        if _unit(judge.name, "position", query, a_text) < judge.position_bias:
            return Reply.preference("A", reasoning="The first list looks better at a glance.")
        dcg_a, dcg_b = world.dcg(query, a), world.dcg(query, b)
        if abs(dcg_a - dcg_b) <= 0.05 * max(dcg_a, dcg_b, 1e-9):
            return Reply.preference("tie", reasoning="Both lists serve the query about as well.")
        better = "A" if dcg_a > dcg_b else "B"
        if _unit(judge.name, "pair-noise", query, a_text) < judge.off_by_one / 2:
            better = "B" if better == "A" else "A"
        return Reply.preference(
            better,
            reasoning=f"List {better} has more playlists that match what the query asks for.",
        )


def _malformed(u: float) -> Reply:
    """An answer a real model sometimes gives: prose, a grade as text, off the scale, cut."""
    if u < 0.25:
        return Reply.text("Grade: 2. The playlist mostly matches the query.")
    if u < 0.5:
        return Reply.text(json.dumps({"reasoning": "mostly matches", "grade": "2"}))
    if u < 0.75:
        return Reply.text(json.dumps({"reasoning": "an excellent match", "grade": 4}))
    return Reply.text('{"reasoning": "The query asks for')


@contextmanager
def simulated_endpoints(
    options: Mapping[str, Any], judges: Sequence[SimulatedJudge] = SIMULATED_JUDGES
) -> Iterator[dict[str, FakeOpenAI]]:
    """One OpenAI-compatible server per simulated judge, on loopback, for the block's time.

    ``options`` are the demo source's (the world the judges know). Preferred ports first,
    so the judges keep their ``base_url`` (and their cache) from one demo to the next.
    """
    world = DemoWorld(options)
    servers: dict[str, FakeOpenAI] = {}
    try:
        for i, judge in enumerate(judges):
            port = PREFERRED_PORTS[i] if i < len(PREFERRED_PORTS) else 0
            servers[judge.name] = _start(judge, world, port)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def _start(judge: SimulatedJudge, world: DemoWorld, port: int) -> FakeOpenAI:
    for candidate in (port, 0):
        server = FakeOpenAI(
            latency_s=judge.latency_s,
            policy=SimulatedPolicy(judge, world),
            record_bodies=False,
            port=candidate,
        )
        try:
            server.start()
        except RuntimeError:
            if candidate == 0:
                raise
            continue
        return server
    raise AssertionError("unreachable")
