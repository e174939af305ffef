"""A day's sample design as its first run read it (``day_designs``).

Why kept: the design reads the stored days before the day (each stratum's sd for a
Neyman allocation, the queries a paired panel may take), and those change when a day
before it is backfilled or rerun. A rerun that read them afresh would draw another
sample, against "the same day twice gives the same stored result".
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import bindparam

from monitor.store.models import PRODUCTION_SAMPLES

__all__ = [
    "StoredBudget",
    "StoredDesign",
    "read_budget",
    "read_design",
    "write_budget",
    "write_design",
]

#: the day holds the sample drawn with what was kept (a first run that stored none, or a
#: day whose sample a configuration change deleted, kept nothing)
_HOLDS_SAMPLE = f"EXISTS (SELECT 1 FROM samples WHERE sample_date = :d AND {PRODUCTION_SAMPLES})"


@dataclass(frozen=True, slots=True)
class StoredDesign:
    """What the design read: per-stratum sd (None: not a Neyman allocation) and the
    panel's candidates (None: no panel), under the settings ``inputs`` names."""

    inputs: str
    stratum_sd: dict[str, float] | None
    panel_history: set[str] | None


def read_design(conn: Connection, *, day: dt.date) -> StoredDesign | None:
    """The design a run kept for ``day``, while the day holds the sample drawn with it:
    a first run that stored no sample (its source failed) keeps nothing, and neither
    does a day whose sample a configuration change deleted (``reset_production_day``),
    which starts afresh."""
    row = conn.execute(
        text(
            "SELECT inputs, stratum_sd, panel_history FROM day_designs "
            f"WHERE sample_date = :d AND {_HOLDS_SAMPLE}"
        ),
        {"d": day},
    ).first()
    if row is None:
        return None
    sd = None if row.stratum_sd is None else {k: float(v) for k, v in row.stratum_sd.items()}
    history = None if row.panel_history is None else set(row.panel_history)
    return StoredDesign(inputs=row.inputs, stratum_sd=sd, panel_history=history)


def write_design(conn: Connection, *, day: dt.date, design: StoredDesign) -> None:
    """Store ``design`` as the day's, replacing one stored under other settings; the
    paid-call ceiling's decision stays (``read_budget`` trusts it while the day holds
    the sample it was drawn for)."""
    conn.execute(
        text(
            "INSERT INTO day_designs (sample_date, inputs, stratum_sd, panel_history) "
            "VALUES (:d, :inputs, :sd, :history) ON CONFLICT (sample_date) DO UPDATE SET "
            "inputs = excluded.inputs, stratum_sd = excluded.stratum_sd, "
            "panel_history = excluded.panel_history, created_at = now()"
        ).bindparams(
            bindparam("sd", type_=JSONB(none_as_null=True)),
            bindparam("history", type_=JSONB(none_as_null=True)),
        ),
        {
            "d": day,
            "inputs": design.inputs,
            "sd": design.stratum_sd,
            "history": None if design.panel_history is None else sorted(design.panel_history),
        },
    )


@dataclass(frozen=True, slots=True)
class StoredBudget:
    """The paid-call ceiling's decision as kept: the overall share ``p`` judged (None:
    every call fitted), each costly row's stratum, and how many of each stratum's were
    judged (empty for a decision kept before they were per stratum: one p for all)."""

    p: float | None
    rows: dict[str, str]
    judged: dict[str, int]


def read_budget(conn: Connection, *, day: dt.date) -> StoredBudget | None:
    """The paid-call ceiling's decision a run kept for ``day``, while the day holds the
    sample drawn with it; None if none was kept."""
    row = conn.execute(
        text(
            "SELECT budget_p, budget_rows FROM day_designs "
            f"WHERE sample_date = :d AND budget_rows IS NOT NULL AND {_HOLDS_SAMPLE}"
        ),
        {"d": day},
    ).first()
    if row is None:
        return None
    kept = row.budget_rows
    if isinstance(kept, list):  # the rows alone, one p for them all
        return StoredBudget(p=row.budget_p, rows=dict.fromkeys(map(str, kept), ""), judged={})
    rows = {str(k): str(h) for k, h in kept["rows"].items()}
    return StoredBudget(
        p=row.budget_p, rows=rows, judged={str(h): int(n) for h, n in kept["judged"].items()}
    )


def write_budget(conn: Connection, *, day: dt.date, budget: StoredBudget) -> None:
    """Keep the ceiling's decision beside the day's design (written by ``write_design``)."""
    conn.execute(
        text(
            "UPDATE day_designs SET budget_p = :p, budget_rows = :rows WHERE sample_date = :d"
        ).bindparams(bindparam("rows", type_=JSONB)),
        {
            "d": day,
            "p": budget.p,
            "rows": {"rows": dict(sorted(budget.rows.items())), "judged": budget.judged},
        },
    )
