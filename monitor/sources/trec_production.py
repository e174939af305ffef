"""A simulated production built from a TREC run set, with regressions of known true size.

Real production has no ground truth; TREC DL19 has NIST grades for what six real rankers
returned. This source replays those rankers as if they were a live search system, so a
regression injected on a given day has a true (human) nDCG@10 drop the monitor's judges
can be measured against:

* each day ``searches_per_day`` searches of the run set's queries, with Zipf-like
  popularity (``zipf`` exponent, 1.0): the same head queries come back every day, the
  tail now and then. The popularity order is fixed by ``seed``, not by the day;
* each search is served by the ``base`` ranker (``splade-pp-ed``). From ``start`` (an
  ISO date) on, a ``share`` of searches is served by ``regression_ranker`` (``bm25``)
  instead, or, with ``shuffle = true``, by the base ranker with its top 10 shuffled;
* timestamps are spread inside the day; ``segment.traffic`` is ``head`` for the most
  popular queries that together make half of the expected traffic, ``tail`` otherwise;
* everything is deterministic per (``seed``, day): a rerun sees the same searches.

``record.ranker`` names what served the search (``splade-pp-ed``, ``bm25`` or
``splade-pp-ed+shuffle``), as an A/B log would. ``true_ndcg`` grades a record with the
qrels: exponential gains, ideal from every judgment of the query, an unjudged passage
counted as irrelevant (the TREC convention; at most 10% of a top 10 here, 0% for bm25).

Options (``SourceConfig.options``): ``data_dir`` (required: the folder ``make data``
fills, holding ``qrels.dl19-passage.txt`` and ``run.<ranker>.jsonl``), ``base``,
``regression_ranker``, ``share`` (0), ``shuffle`` (false), ``start`` (none: no regression),
``searches_per_day`` (1000), ``seed`` (0), ``zipf``, ``depth`` (results per search, 10).
The passages are MS MARCO's: they are read from the data folder and never copied into the
repository.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from monitor.config import SourceConfig
from monitor.errors import InputError, SourceError
from monitor.metrics.quality import ndcg_at_k
from monitor.sources.base import BadRows, check_window
from monitor.sources.trec import read_qrels
from monitor.types import Result, SearchRecord

__all__ = ["Scenario", "TrecProductionSource", "shuffled_name"]

QRELS_FILE = "qrels.dl19-passage.txt"
SECONDS_PER_DAY = 86_400


def shuffled_name(ranker: str) -> str:
    """The name under which a ranker with a shuffled top 10 serves."""
    return f"{ranker}+shuffle"


@dataclass(frozen=True)
class Scenario:
    """What production looks like: its ranker, its traffic, and the regression if any."""

    data_dir: Path
    base: str = "splade-pp-ed"
    regression_ranker: str = "bm25"
    share: float = 0.0
    shuffle: bool = False
    start: dt.date | None = None
    searches_per_day: int = 1000
    seed: int = 0
    zipf: float = 1.0
    depth: int = 10

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Scenario:
        """The scenario from ``SourceConfig.options``, each bad value named in the error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(
                f"trec_production source: unknown option(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        if not options.get("data_dir"):
            raise InputError(
                "trec_production source: option data_dir is required: the folder holding "
                f"{QRELS_FILE} and run.<ranker>.jsonl (`make data` downloads TREC DL19)"
            )
        try:
            start_raw = options.get("start")
            scenario = cls(
                data_dir=Path(options["data_dir"]),
                base=str(options.get("base", cls.base)),
                regression_ranker=str(options.get("regression_ranker", cls.regression_ranker)),
                share=float(options.get("share", cls.share)),
                shuffle=_flag(options.get("shuffle", False)),
                start=None if start_raw in (None, "") else _date(start_raw),
                searches_per_day=int(options.get("searches_per_day", cls.searches_per_day)),
                seed=int(options.get("seed", cls.seed)),
                zipf=float(options.get("zipf", cls.zipf)),
                depth=int(options.get("depth", cls.depth)),
            )
        except (TypeError, ValueError) as exc:
            raise InputError(f"trec_production source: bad option value: {exc}") from None
        if not 0.0 <= scenario.share <= 1.0:
            raise InputError(
                f"trec_production source: share must be in [0, 1], got {scenario.share}"
            )
        if scenario.searches_per_day < 0:
            raise InputError(
                "trec_production source: searches_per_day must be >= 0, "
                f"got {scenario.searches_per_day}"
            )
        if scenario.zipf < 0:
            raise InputError(f"trec_production source: zipf must be >= 0, got {scenario.zipf}")
        if scenario.depth < 1:
            raise InputError(f"trec_production source: depth must be >= 1, got {scenario.depth}")
        return scenario

    @property
    def regression_name(self) -> str:
        """The name of what serves the regressed share of traffic."""
        return shuffled_name(self.base) if self.shuffle else self.regression_ranker

    def active(self, day: dt.date) -> bool:
        """Whether the regression serves part of the traffic on ``day``."""
        return self.start is not None and day >= self.start and self.share > 0


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y", "t"}
    return bool(value)


def _date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


@dataclass(frozen=True)
class _Run:
    """One ranker's ranked lists: qid -> query text and qid -> results."""

    queries: dict[str, str]
    results: dict[str, tuple[Result, ...]]


@functools.lru_cache(maxsize=16)
def _load_run(path: Path, depth: int) -> _Run:
    if not path.is_file():
        raise SourceError(f"trec_production source: run file {path} not found")
    queries: dict[str, str] = {}
    results: dict[str, tuple[Result, ...]] = {}
    with path.open(encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                qid = str(row["qid"])
                ranked = sorted(row["results"], key=lambda r: int(r["rank"]))[:depth]
                queries[qid] = str(row["query"])
                results[qid] = tuple(
                    Result(id=str(r["docid"]), position=i, text=str(r.get("text") or ""))
                    for i, r in enumerate(ranked, start=1)
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise SourceError(
                    f"trec_production source: {path} line {n} is not a run row "
                    f'({{"qid", "query", "results": [{{"docid", "rank", "text"}}]}}): {exc}'
                ) from None
    if not queries:
        raise SourceError(f"trec_production source: run file {path} has no queries")
    return _Run(queries=queries, results=results)


@functools.lru_cache(maxsize=4)
def _load_qrels(path: Path) -> tuple[dict[tuple[str, str], int], dict[str, list[float]]]:
    grades = {(q, d): g for q, d, g in read_qrels(path)}
    ideal: dict[str, list[float]] = {}
    for (qid, _), grade in grades.items():
        ideal.setdefault(qid, []).append(float(grade))
    return grades, ideal


def _rng(seed: int, *parts: str) -> np.random.Generator:
    blob = "|".join(["trec_production", str(seed), *parts]).encode()
    return np.random.default_rng(int.from_bytes(hashlib.sha256(blob).digest()[:8], "big"))


class TrecProductionSource:
    """A production search simulated from TREC runs; see the module docstring."""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.scenario = Scenario.from_options(config.options)
        sc = self.scenario
        self.base_run = self.run(sc.base)
        self.regression_run = self.base_run if sc.shuffle else self.run(sc.regression_ranker)
        missing = sorted(set(self.base_run.queries) - set(self.regression_run.queries))
        if missing:
            raise SourceError(
                f"trec_production source: ranker {sc.regression_ranker!r} has no results for "
                f"queries {', '.join(missing[:10])} that {sc.base!r} serves"
            )
        self.qids = sorted(self.base_run.queries)
        order = _rng(sc.seed, "popularity").permutation(len(self.qids))
        weights = 1.0 / np.arange(1, len(self.qids) + 1, dtype=np.float64) ** sc.zipf
        self._probs = np.empty(len(self.qids))
        self._probs[order] = weights / weights.sum()
        by_rank = np.argsort(-self._probs, kind="stable")
        covered = np.cumsum(self._probs[by_rank])
        head_n = int(np.searchsorted(covered, 0.5) + 1)
        self._head = {self.qids[i] for i in by_rank[:head_n]}
        self.report = BadRows(source="trec_production")

    def run(self, ranker: str) -> _Run:
        """A ranker's run from the data folder (read once per process)."""
        return _load_run(self.scenario.data_dir / f"run.{ranker}.jsonl", self.scenario.depth)

    def popularity(self) -> dict[str, float]:
        """Each query's expected share of the day's searches."""
        return {q: float(p) for q, p in zip(self.qids, self._probs, strict=True)}

    def traffic(self, qid: str) -> str:
        """``head`` or ``tail``: the query's popularity band."""
        return "head" if qid in self._head else "tail"

    def true_ndcg(self, record: SearchRecord, k: int = 10) -> float:
        """The human nDCG@k of what the search returned (ideal from all of the query's
        judgments, unjudged = 0); NaN when the query has no judged relevant passage."""
        grades, ideal = _load_qrels(self.scenario.data_dir / QRELS_FILE)
        shown = [float(grades.get((record.query_id, r.id), 0)) for r in record.results]
        return ndcg_at_k(shown, k, ideal=ideal.get(record.query_id, []))

    def ranker_ndcg(self, ranker: str, k: int = 10) -> dict[str, float]:
        """Per query, the human nDCG@k of a ranker's list (``+shuffle`` names excluded)."""
        run = self.run(ranker)
        return {
            qid: self.true_ndcg(
                SearchRecord(query_id=qid, query=run.queries[qid], timestamp=_EPOCH, results=res),
                k,
            )
            for qid, res in run.results.items()
        }

    def day_records(self, day: dt.date) -> list[SearchRecord]:
        """Every search of ``day``, in time order."""
        sc = self.scenario
        rng = _rng(sc.seed, day.isoformat())
        n = sc.searches_per_day
        picks = rng.choice(len(self.qids), size=n, p=self._probs)
        seconds = np.sort(rng.uniform(0, SECONDS_PER_DAY, size=n))
        regressed = rng.random(n) < sc.share if sc.active(day) else np.zeros(n, dtype=bool)
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        records = []
        for i in range(n):
            qid = self.qids[int(picks[i])]
            if not regressed[i]:
                ranker, results = sc.base, self.base_run.results[qid]
            elif sc.shuffle:
                top = list(self.base_run.results[qid])
                order = rng.permutation(min(10, len(top)))
                moved = [top[j] for j in order] + top[len(order) :]
                ranker = sc.regression_name
                results = tuple(
                    Result(id=r.id, position=p, text=r.text) for p, r in enumerate(moved, start=1)
                )
            else:
                ranker, results = sc.regression_ranker, self.regression_run.results[qid]
            records.append(
                SearchRecord(
                    query_id=qid,
                    query=self.base_run.queries[qid],
                    timestamp=midnight + dt.timedelta(seconds=float(seconds[i])),
                    results=results,
                    segment={"traffic": self.traffic(qid)},
                    zero_result=not results,
                    ranker=ranker,
                )
            )
        return records

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        """The simulated searches with ``start <= timestamp < end``."""
        s, e = check_window(start, end)
        self.report = BadRows(source="trec_production")
        day = s.date()
        while dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) < e:
            for record in self.day_records(day):
                if s <= record.timestamp < e:
                    self.report.read += 1
                    yield record
            day += dt.timedelta(days=1)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
