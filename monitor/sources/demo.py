"""A synthetic music-playlist search with a real BM25 ranker and known ground truth.

It lets the whole service run, and regressions be shown, with nothing outside the
machine. Playlists have a genre, mood, era and activity and are written in one of three
locales (en/de/fr); queries are generated from 1–3 of those attributes in the user's
language, so every query's true grade for every playlist is known:

    3  all asked attributes match, same language
    2  all but one match (at least one does), same language
    1  some match, or a full match in another language
    0  nothing asked for matches

Traffic has a Zipf-like head/torso/tail mix (short queries are the popular ones), tail
typos that end in zero results, segments (``locale``, ``band``, ``surface``), and click /
reformulation signals simulated from the true grades. ``DemoScenario`` injects
regressions from a given day: ``shuffle`` (share of queries whose top-k is shuffled),
``drop_field`` (index built without descriptions), ``broken_segment`` (``"locale=fr"``
gets random items), ``query_drift`` (tail share grows by this much per day).

Everything is deterministic for (seed, date). The catalog and its indexes are built once
per process; BM25 results are memoised per query, and a day's distinct queries are
retrieved in one batch.

One module because the catalogue, the queries, the ranker and the scenarios are one
simulated world whose ground truth all of them share.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np
import numpy.typing as npt

from monitor.config import SourceConfig
from monitor.errors import InputError, SourceError
from monitor.sources.base import BadRows, check_window
from monitor.types import Result, SearchRecord, normalize_query

__all__ = ["DemoCatalog", "DemoScenario", "DemoSource", "catalog"]

LOCALES = ("en", "de", "fr")
ATTRS = ("genre", "mood", "era", "activity")
VOCAB: dict[str, dict[str, list[str]]] = {
    "genre": {
        "en": [
            "pop",
            "rock",
            "jazz",
            "classical",
            "hiphop",
            "electronic",
            "folk",
            "metal",
            "blues",
            "reggae",
            "country",
            "soul",
        ],
        "de": [
            "pop",
            "rock",
            "jazz",
            "klassik",
            "hiphop",
            "elektro",
            "volksmusik",
            "metal",
            "blues",
            "reggae",
            "country",
            "soul",
        ],
        "fr": [
            "pop",
            "rock",
            "jazz",
            "classique",
            "rap",
            "électro",
            "folk",
            "métal",
            "blues",
            "reggae",
            "country",
            "soul",
        ],
    },
    "mood": {
        "en": ["happy", "sad", "chill", "energetic", "romantic", "dark", "calm", "angry"],
        "de": [
            "fröhlich",
            "traurig",
            "entspannt",
            "energisch",
            "romantisch",
            "düster",
            "ruhig",
            "wütend",
        ],
        "fr": [
            "joyeux",
            "triste",
            "détente",
            "énergique",
            "romantique",
            "sombre",
            "calme",
            "rageur",
        ],
    },
    "era": {
        "en": ["sixties", "seventies", "eighties", "nineties", "2000s", "2010s"],
        "de": ["60er", "70er", "80er", "90er", "nullerjahre", "zehnerjahre"],
        "fr": ["yéyé", "seventies", "eighties", "nineties", "2000", "2010"],
    },
    "activity": {
        "en": ["workout", "study", "party", "sleep", "driving", "cooking", "running", "focus"],
        "de": [
            "training",
            "lernen",
            "feier",
            "schlafen",
            "autofahren",
            "kochen",
            "joggen",
            "konzentration",
        ],
        "fr": [
            "sport",
            "révisions",
            "fête",
            "sommeil",
            "voiture",
            "cuisine",
            "course",
            "concentration",
        ],
    },
}
NOUNS = {
    "en": ["mix", "vibes", "hits", "essentials", "session"],
    "de": ["mix", "hits", "klänge", "auswahl", "session"],
    "fr": ["mix", "tubes", "sélection", "ambiance", "session"],
}
FILLER = {
    "en": ["tracks", "songs", "best", "new", "favourites", "selected", "music"],
    "de": ["lieder", "songs", "beste", "neue", "lieblinge", "musik", "titel"],
    "fr": ["morceaux", "chansons", "meilleurs", "nouveaux", "favoris", "musique"],
}
STOPWORDS = frozenset(
    {
        "for",
        "the",
        "and",
        "from",
        "für",
        "die",
        "der",
        "und",
        "aus",
        "pour",
        "les",
        "des",
        "et",
        "de",
        "la",
        "le",
    }
)
_TOKEN = re.compile(r"\w\w+")
K = 10
_Hits = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]
DEPTH = 30  # a shuffled list is drawn from this deep, so shuffling also demotes good items


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text.lower()) if t not in STOPWORDS]


def _unit(*parts: object) -> float:
    """A stable uniform number in [0, 1) from its parts (not Python's salted ``hash``)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """What a generated query asks for: attribute -> value index, in one locale."""

    locale: str
    attrs: tuple[tuple[str, int], ...]
    rank: int  # popularity rank within its locale, 0 = most searched
    band: str


@dataclass(frozen=True)
class DemoScenario:
    """Regressions to inject, active from ``start`` (every day when None) until the day
    before ``end`` (the day it is fixed; never when None)."""

    shuffle: float = 0.0
    drop_field: bool = False
    broken_segment: str | None = None
    query_drift: float = 0.0
    start: dt.date | None = None
    end: dt.date | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.shuffle <= 1.0:
            raise SourceError(
                f"demo scenario: shuffle must be a share in [0, 1], got {self.shuffle}"
            )
        if self.query_drift < 0:
            raise SourceError(f"demo scenario: query_drift must be ≥ 0, got {self.query_drift}")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise SourceError(f"demo scenario: end ({self.end}) must be after start ({self.start})")
        if self.broken_segment is not None and "=" not in self.broken_segment:
            raise SourceError(
                f"demo scenario: broken_segment must look like 'locale=fr', "
                f"got {self.broken_segment!r}"
            )

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> DemoScenario:
        raw = dict(options.get("scenario") or {})
        start, end = raw.get("start"), raw.get("end")
        try:
            if isinstance(start, str):
                start = dt.date.fromisoformat(start)
            if isinstance(end, str):
                end = dt.date.fromisoformat(end)
        except ValueError as exc:
            raise SourceError(f"demo scenario: start/end must be YYYY-MM-DD: {exc}") from None
        return cls(
            shuffle=float(raw.get("shuffle", 0.0)),
            drop_field=bool(raw.get("drop_field", False)),
            broken_segment=raw.get("broken_segment"),
            query_drift=float(raw.get("query_drift", 0.0)),
            start=start,
            end=end,
        )

    def active(self, day: dt.date) -> bool:
        started = self.start is None or day >= self.start
        return started and (self.end is None or day < self.end)

    def days_active(self, day: dt.date) -> int:
        if self.start is None:
            return 0
        return max(0, (day - self.start).days)


class DemoCatalog:
    """The playlists, the query universe and the two BM25 indexes (full, title-only)."""

    def __init__(self, seed: int, n_items: int, queries_per_locale: int) -> None:
        rng = np.random.default_rng([seed, 1])
        self.seed = seed
        self.n_items = n_items
        self.attr = {a: rng.integers(0, len(VOCAB[a]["en"]), n_items) for a in ATTRS}
        self.locale = rng.choice(len(LOCALES), n_items, p=[0.45, 0.3, 0.25])
        self.ids = [f"pl-{i:05d}" for i in range(n_items)]
        self.titles: list[str] = []
        self.texts: list[str] = []
        for i in range(n_items):
            loc = LOCALES[self.locale[i]]
            w = {a: VOCAB[a][loc][self.attr[a][i]] for a in ATTRS}
            second = w["mood"] if rng.random() < 0.6 else w["activity"]
            noun = NOUNS[loc][rng.integers(len(NOUNS[loc]))]
            self.titles.append(f"{second.capitalize()} {w['genre']} {noun}")
            fill = " ".join(rng.choice(FILLER[loc], 3, replace=False))
            self.texts.append(f"{fill} {w['genre']} {w['mood']} {w['era']} {w['activity']}")
        self.specs: dict[str, QuerySpec] = {}
        self.by_rank: dict[str, list[str]] = {}
        for li, loc in enumerate(LOCALES):
            self.by_rank[loc] = self._queries(rng, loc, li, queries_per_locale)
        self._indexes: dict[bool, bm25s.BM25] = {}
        self._memo: dict[tuple[bool, str], _Hits] = {}
        self._ideal: dict[str, float] = {}

    def _queries(self, rng: np.random.Generator, loc: str, li: int, n: int) -> list[str]:
        drafts: list[tuple[int, float, str, tuple[tuple[str, int], ...]]] = []
        seen: set[str] = set()
        for _ in range(n * 20):
            if len(drafts) >= n:
                break
            size = int(rng.choice([1, 2, 3], p=[0.25, 0.45, 0.3]))
            keys = sorted(rng.choice(len(ATTRS), size, replace=False))
            attrs = tuple((ATTRS[k], int(rng.integers(len(VOCAB[ATTRS[k]]["en"])))) for k in keys)
            words = [VOCAB[a][loc][v] for a, v in attrs]
            order = rng.permutation(len(words))
            text = " ".join(words[j] for j in order)
            if rng.random() < 0.3:
                text += " " + FILLER[loc][-1]
            norm = normalize_query(text)
            if norm in seen:
                continue
            seen.add(norm)
            drafts.append((size, float(rng.random()), norm, attrs))
        drafts.sort()
        out: list[str] = []
        for rank, (_, _, norm, attrs) in enumerate(drafts):
            band = "head" if rank < 30 else "torso" if rank < 300 else "tail"
            text = norm
            if band == "tail" and rng.random() < 0.12:
                text = " ".join(w[:-1] + "x" if len(w) > 3 else w + "x" for w in norm.split())
                if text in seen:
                    text = norm
                seen.add(text)
            self.specs[text] = QuerySpec(locale=loc, attrs=attrs, rank=rank, band=band)
            out.append(text)
        return out

    def index(self, with_descriptions: bool) -> bm25s.BM25:
        if with_descriptions not in self._indexes:
            docs = (
                [f"{t} {d}" for t, d in zip(self.titles, self.texts, strict=True)]
                if with_descriptions
                else self.titles
            )
            # bm25s logs every index build at DEBUG; keep a CLI's output ours
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            retriever = bm25s.BM25()
            retriever.index([_tokens(d) for d in docs], show_progress=False)
            self._indexes[with_descriptions] = retriever
        return self._indexes[with_descriptions]

    def retrieve(self, queries: list[str], with_descriptions: bool) -> dict[str, _Hits]:
        """Top-DEPTH item indexes and scores per query, zero-score hits dropped, memoised."""
        todo = sorted({q for q in queries if (with_descriptions, q) not in self._memo})
        if todo:
            docs, scores = self.index(with_descriptions).retrieve(
                [_tokens(q) or ["\x00"] for q in todo], k=DEPTH, show_progress=False
            )
            for q, d, s in zip(todo, docs, scores, strict=True):
                keep = s > 0
                self._memo[(with_descriptions, q)] = (d[keep].astype(np.int64), s[keep])
        return {q: self._memo[(with_descriptions, q)] for q in queries}

    def spec(self, query: str) -> QuerySpec:
        norm = normalize_query(query)
        if norm not in self.specs:
            raise InputError(f"demo ground truth: {query!r} is not a query the demo generates")
        return self.specs[norm]

    def grades(self, query: str) -> npt.NDArray[np.int64]:
        """True grade of every playlist for the query (see the module docstring)."""
        spec = self.spec(query)
        matched = np.zeros(self.n_items, dtype=np.int64)
        for a, v in spec.attrs:
            matched += self.attr[a] == v
        n = len(spec.attrs)
        grade = np.where(
            matched == n,
            3,
            np.where((matched == n - 1) & (matched >= 1), 2, np.where(matched >= 1, 1, 0)),
        )
        foreign = self.locale != LOCALES.index(spec.locale)
        return np.where(foreign, np.minimum(grade, 1), grade).astype(np.int64)

    def ideal_dcg(self, query: str) -> float:
        norm = normalize_query(query)
        if norm not in self._ideal:
            top = np.sort(self.grades(norm))[::-1][:K]
            self._ideal[norm] = float(np.sum((2.0**top - 1) / np.log2(np.arange(2, top.size + 2))))
        return self._ideal[norm]


@functools.lru_cache(maxsize=4)
def catalog(seed: int = 0, n_items: int = 3000, queries_per_locale: int = 3000) -> DemoCatalog:
    """The catalog for these parameters, built once per process."""
    return DemoCatalog(seed, n_items, queries_per_locale)


class DemoSource:
    """Synthetic search logs; ``options``: seed, items, searches_per_day, scenario."""

    def __init__(self, config: SourceConfig | None = None) -> None:
        options = dict(config.options) if config else {}
        self.config = config or SourceConfig(kind="demo")
        self.seed = int(options.get("seed", 0))
        self.searches_per_day = int(options.get("searches_per_day", 20_000))
        self.scenario = DemoScenario.from_options(options)
        self.catalog = catalog(
            self.seed, int(options.get("items", 3000)), int(options.get("queries_per_locale", 3000))
        )
        self.report = BadRows(source="demo")
        weights = 1.0 / np.arange(1, 100_000, dtype=np.float64) ** 1.1
        self._zipf = {
            loc: weights[: len(qs)] / weights[: len(qs)].sum()
            for loc, qs in self.catalog.by_rank.items()
        }

    def true_grade(self, query: str, item_id: str) -> int:
        """The grade a perfect judge gives ``item_id`` for ``query`` (0–3)."""
        try:
            index = int(item_id.removeprefix("pl-"))
        except ValueError:
            raise InputError(f"demo ground truth: {item_id!r} is not a demo playlist id") from None
        if not 0 <= index < self.catalog.n_items or not item_id.startswith("pl-"):
            raise InputError(f"demo ground truth: {item_id!r} is not a demo playlist id")
        return int(self.catalog.grades(query)[index])

    def true_ndcg10(self, record: SearchRecord) -> float:
        """nDCG@10 of the record's list by the true grades (gain 2^g − 1)."""
        grades = self.catalog.grades(record.query)
        ideal = self.catalog.ideal_dcg(record.query)
        if ideal == 0:
            return 0.0
        dcg = sum(
            (2.0 ** grades[int(r.id[3:])] - 1) / np.log2(r.position + 1)
            for r in record.results
            if r.position <= K
        )
        return min(1.0, float(dcg / ideal))  # float sums can overshoot 1 by an ulp

    def _results(
        self, items: npt.NDArray[np.int64], scores: npt.NDArray[np.float64]
    ) -> tuple[Result, ...]:
        cat = self.catalog
        out = []
        for pos, (i, s) in enumerate(zip(items.tolist(), scores.tolist(), strict=True), start=1):
            meta = {a: VOCAB[a]["en"][cat.attr[a][i]] for a in ATTRS}
            meta["locale"] = LOCALES[cat.locale[i]]
            meta["score"] = round(float(s), 4)
            out.append(
                Result(
                    id=cat.ids[i],
                    position=pos,
                    title=cat.titles[i],
                    text=cat.texts[i],
                    metadata=meta,
                )
            )
        return tuple(out)

    def records_for_day(self, day: dt.date, n: int | None = None) -> list[SearchRecord]:
        """The ``n`` searches of ``day`` (default ``searches_per_day``), in time order."""
        n = self.searches_per_day if n is None else n
        if n < 0:
            raise InputError(f"demo: number of searches must be ≥ 0, got {n}")
        cat, sc = self.catalog, self.scenario
        active = sc.active(day)
        rng = np.random.default_rng([self.seed, day.toordinal(), 2])
        loc_idx = rng.choice(len(LOCALES), n, p=[0.55, 0.27, 0.18])
        app = rng.random(n) < 0.45
        ranks = np.zeros(n, dtype=np.int64)
        drift = min(0.9, sc.query_drift * sc.days_active(day)) if active else 0.0
        for li, loc in enumerate(LOCALES):
            mask = loc_idx == li
            m = int(mask.sum())
            size = len(cat.by_rank[loc])
            r = rng.choice(size, m, p=self._zipf[loc])
            if drift > 0:
                to_tail = rng.random(m) < drift
                r = np.where(to_tail, rng.integers(min(300, size - 1), size, m), r)
            ranks[mask] = r
        texts = [
            cat.by_rank[LOCALES[li]][r]
            for li, r in zip(loc_idx.tolist(), ranks.tolist(), strict=True)
        ]
        distinct = sorted(set(texts))
        hits = cat.retrieve(distinct, with_descriptions=not (active and sc.drop_field))
        broken_key, _, broken_value = (sc.broken_segment or "").partition("=")
        lists: dict[tuple[str, bool], tuple[Result, ...]] = {}
        grades_cache: dict[tuple[str, bool], npt.NDArray[np.float64]] = {}

        def results_for(text: str, broken: bool) -> tuple[Result, ...]:
            key = (text, broken)
            if key not in lists:
                deep_items, deep_scores = hits[text]
                items, scores = deep_items[:K], deep_scores[:K]
                if broken:
                    sub = np.random.default_rng(
                        [self.seed, day.toordinal(), 3, int(_unit(text) * 2**32)]
                    )
                    items = sub.choice(cat.n_items, K, replace=False).astype(np.int64)
                    scores = np.zeros(K)
                elif (
                    active
                    and sc.shuffle > 0
                    and items.size > 1
                    and _unit(self.seed, "shuffle", text) < sc.shuffle
                ):
                    sub = np.random.default_rng(
                        [self.seed, day.toordinal(), 4, int(_unit(text) * 2**32)]
                    )
                    pick = sub.permutation(deep_items.size)[: items.size]
                    items, scores = deep_items[pick], deep_scores[pick]
                lists[key] = self._results(items, scores)
                g = cat.grades(text)[items] if items.size else np.zeros(0)
                probs = np.zeros(K)
                probs[: items.size] = (g / 3.0) * 0.6 / np.arange(1, items.size + 1) ** 0.7
                grades_cache[key] = probs
            return lists[key]

        millis = np.sort(rng.integers(0, 86_400_000, n))
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        click_draw = rng.random((n, K))
        reform_draw = rng.random(n)
        records: list[SearchRecord] = []
        for j in range(n):
            text = texts[j]
            spec = cat.specs[text]
            segment = {
                "locale": spec.locale,
                "band": spec.band,
                "surface": "app" if app[j] else "web",
            }
            broken = active and bool(broken_key) and segment.get(broken_key) == broken_value
            results = results_for(text, broken)
            clicks = int(np.count_nonzero(click_draw[j] < grades_cache[(text, broken)]))
            zero = not results
            reformulated = bool(reform_draw[j] < (0.8 if zero else 0.5 if clicks == 0 else 0.05))
            records.append(
                SearchRecord(
                    query_id=f"demo-{day:%Y%m%d}-{j:06d}",
                    query=text,
                    timestamp=midnight + dt.timedelta(milliseconds=int(millis[j])),
                    results=results,
                    segment=segment,
                    clicks=clicks,
                    zero_result=zero,
                    reformulated=reformulated,
                    ranker="demo-bm25",
                )
            )
        return records

    def fetch(self, start: dt.datetime, end: dt.datetime) -> Iterator[SearchRecord]:
        """Every generated search of the days the window touches, inside the window."""
        s, e = check_window(start, end)
        self.report = BadRows(source="demo")
        day = s.date()
        while dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) < e:
            for record in self.records_for_day(day):
                self.report.read += 1
                if s <= record.timestamp < e:
                    yield record
            day += dt.timedelta(days=1)
