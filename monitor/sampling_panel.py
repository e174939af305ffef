"""Which of the day's queries make the paired panel: head queries judged every day.

Why a panel: a fresh sample compares today's queries with a baseline of *other* queries,
so the between-query spread of nDCG (≈ 0.25 on DL19) drowns a drop of 0.02. A query
judged every day is compared with its own recent days instead (``metrics.paired``), and
an unchanged result list costs nothing the second time (the verdict cache).

Design (pure; ``sampling.sample_day`` calls ``select_panel`` and does the rest):

* **Who may join.** A query searched today that was also seen on earlier days
  (``history``: the step passes the queries stored in the recent samples, so a panel
  query always has days to be compared with). Head queries come back daily, so they
  are the ones the panel keeps.
* **Who joins.** Up to ``round(panel_share × size)`` of them, those with the smallest
  key ``sha256(seed | query_norm | epoch)``: the same day, seed and history pick the same
  panel on a rerun, and a candidate set that changes a little changes the panel a little
  (a bottom-k draw).
* **Rotation.** A query's ``epoch`` is ``(day ordinal + offset) // panel_rotation_days``
  with a per-query ``offset`` in [0, rotation): every query's key is re-drawn once per
  rotation, a different 1/rotation slice of the queries each day, so the panel does not
  go stale all at once and no query stays in it for good (one re-drawn keeps its seat
  with probability about panel size / candidates).
* **Weights stay exact.** The panel is chosen from history, not from today's random
  draws, and sampled with certainty: ``sample_day`` puts it in its own stratum
  ``PANEL_STRATUM`` with inclusion probability 1 (weight = the query's searches) and
  draws the fresh stratified sample from the other queries with the rest of the
  budget. The Horvitz–Thompson estimates over all samples stay unbiased for the whole
  traffic; the panel rows are told apart by their stratum.
* **Every list it was served** (``panel_lists`` > 1). A head query's searches do not
  all see the same list: a share of traffic on another ranker (an A/B arm, a canary, a
  regression rolled out to 10%) serves it a different one. One list drawn per query
  sees that share only when the draw lands on it, so the panel's paired change reads
  0 on most days and the share's full effect on a few. ``PanelLists`` counts the day's
  distinct top-``top_k`` lists of each candidate and the panel query gets one row per
  list, up to ``panel_lists`` of them (``list_no`` 0, 1, …), each weighted by the
  searches it was served: the query's day figure is then the search-weighted mean of its
  lists, which moves by the share's effect every day (``bench/_panel_sim.py``'s
  ``panel+lists``). Past the cap, the ``panel_lists`` − 1 most served lists are judged
  for their own searches and one of the others, drawn in proportion to its searches
  (the smallest search draw, the same draw that picks a query's one list without the
  option), stands for all of them (``PanelLists.rows``): unbiased, and ``panel_lists``
  1 is exactly the one-list panel. A list already judged on an earlier day is free (the
  verdict cache), so the extra rows cost only what changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from monitor.config import SamplingConfig
from monitor.types import SearchRecord

__all__ = [
    "PANEL_STRATUM",
    "PanelLists",
    "panel_epoch",
    "panel_key",
    "panel_size",
    "select_panel",
]

#: The stratum of the panel's samples (a configured stratum key is ``all`` or
#: ``field=value|...``, so it cannot be this).
PANEL_STRATUM = "panel"


def _hash(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big")


def panel_size(config: SamplingConfig) -> int:
    """How many of ``config.size`` the panel may take (0 when ``panel_share`` is 0)."""
    return round(config.panel_share * config.size)


def panel_epoch(query_norm: str, day: dt.date, rotation_days: int) -> int:
    """The rotation epoch of ``query_norm`` on ``day``: it changes once every
    ``rotation_days`` days, on a day of its own (so a slice rotates each day)."""
    offset = _hash("offset", query_norm) % rotation_days
    return (day.toordinal() + offset) // rotation_days


def panel_key(query_norm: str, day: dt.date, config: SamplingConfig) -> int:
    """The query's rank for the panel on ``day``: smaller joins first."""
    epoch = panel_epoch(query_norm, day, config.panel_rotation_days)
    return _hash(str(config.seed), query_norm, str(epoch))


def select_panel(
    searches: Mapping[str, int],
    history: Collection[str],
    *,
    day: dt.date,
    config: SamplingConfig,
) -> set[str]:
    """The day's panel: normalized queries of ``searches`` (today's, with their search
    counts) that are in ``history``, at most ``panel_size(config)`` of them, by
    ``panel_key``. Empty when the panel is off or nothing was seen before."""
    wanted = panel_size(config)
    if wanted <= 0 or not history:
        return set()
    candidates = [q for q, n in searches.items() if n > 0 and q in history]
    ranked = sorted(candidates, key=lambda q: (panel_key(q, day, config), q))
    return set(ranked[:wanted])


@dataclass(slots=True)
class _Served:
    """One distinct list of a query: how often it was served, and its judged search."""

    count: int
    draw: int
    record: SearchRecord


class PanelLists:
    """The distinct result lists the day's searches of each panel candidate were served.

    Fed every search of a query in ``history`` (only those can join the panel): per
    query, how often each distinct top-``top_k`` list (by its result ids, in order) was
    served, and the search of it with the smallest draw, which is the one judged. It
    holds one search per distinct list of those queries: small while a head query's
    searches share a few lists, as large as their searches when every search is
    personalised.
    """

    def __init__(self, history: Collection[str], config: SamplingConfig) -> None:
        self._history = history
        self._top_k = config.top_k
        self._limit = config.panel_lists
        self._lists: dict[str, dict[bytes, _Served]] = {}

    def add(self, query_norm: str, record: SearchRecord, draw: int) -> None:
        """Count one of the day's searches (``draw``: its pseudo-random draw)."""
        if query_norm not in self._history:
            return
        ids = "\x1f".join(r.id for r in record.results[: self._top_k])
        key = hashlib.blake2b(ids.encode(), digest_size=16).digest()
        tally = self._lists.setdefault(query_norm, {})
        seen = tally.get(key)
        if seen is None:
            tally[key] = _Served(1, draw, record)
            return
        seen.count += 1
        if draw < seen.draw:
            seen.draw, seen.record = draw, record

    def rows(self, query_norm: str, searches: int) -> list[tuple[SearchRecord, int, float]]:
        """The query's judged lists: (the search judged, how often its list was served,
        its inclusion probability = 1 / the searches it stands for), by smallest draw.

        Within the cap every list is judged and stands for its own searches. Past it, the
        ``panel_lists`` − 1 most served are (with certainty, each for its own searches)
        and one more stands for all the rest: the rest's list holding their smallest
        draw, i.e. one of them drawn in proportion to its searches, so the estimate stays
        unbiased (Horvitz–Thompson) however the rest's quality is spread over them. With
        a cap of 1 that is the one-list pick. The weights add up to ``searches``. Lists
        served equally often are ranked by their key (a hash of their result ids), not by
        their draws: a tie broken by the smallest draw would leave in the rest the list
        whose searches drew high, drawn less often than its searches (biased)."""
        tally = self._lists[query_norm]
        served = sorted(tally.values(), key=lambda v: v.draw)
        if len(served) <= self._limit:
            return [(v.record, v.count, 1.0 / v.count) for v in served]
        most = sorted(tally, key=lambda k: (-tally[k].count, k))[: self._limit - 1]
        certain = [tally[k] for k in most]
        weight = {id(v): float(v.count) for v in certain}
        pick = next(v for v in served if id(v) not in weight)  # the rest's smallest draw
        weight[id(pick)] = float(searches - sum(v.count for v in certain))
        return [(v.record, v.count, 1.0 / weight[id(v)]) for v in served if id(v) in weight]
