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
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Mapping

from monitor.config import SamplingConfig

__all__ = ["PANEL_STRATUM", "panel_epoch", "panel_key", "panel_size", "select_panel"]

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
