"""Reads and writes behind the baseline and the alert view: acceptances, reference means,
the figures the control chart replays, run status by day, and the judges' identities.

``monitor.export.baseline`` decides which days are a segment's reference; the queries
it and the exporter need live here, like every query of our schema.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import insert

from monitor.store import models
from monitor.store.reads import BaselineMean, Figure, _figures

__all__ = [
    "Acceptance",
    "JudgeIdentity",
    "acceptances",
    "figures_of",
    "history_fingerprint",
    "judge_identities",
    "known_segments",
    "latest_run_statuses",
    "means_on_days",
    "record_acceptance",
    "run_status",
]


@dataclass(frozen=True, slots=True)
class Acceptance:
    """A segment's new level accepted from ``from_day`` on, by whom, when and why."""

    segment: str
    from_day: dt.date
    by: str
    why: str
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class JudgeIdentity:
    """A judge as it last gave verdicts: its name, kind, model and prompt version."""

    name: str
    kind: str
    model: str
    prompt_version: str
    config_hash: str
    since: dt.datetime


def record_acceptance(
    conn: Connection, *, segment: str, from_day: dt.date, by: str, why: str
) -> Acceptance:
    """Record (or restate: same segment and day) that ``segment``'s level from
    ``from_day`` on is the new normal; the stored row."""
    stmt = (
        insert(models.BaselineAcceptance)
        .values(segment=segment, from_date=from_day, accepted_by=by, reason=why)
        .on_conflict_do_update(
            index_elements=["segment", "from_date"],
            set_={"accepted_by": by, "reason": why, "accepted_at": text("now()")},
        )
        .returning(models.BaselineAcceptance.accepted_at)
    )
    at = conn.execute(stmt).scalar_one()
    return Acceptance(segment, from_day, by, why, at)


def acceptances(conn: Connection) -> tuple[Acceptance, ...]:
    """Every recorded acceptance, oldest day first."""
    rows = conn.execute(
        text(
            "SELECT segment, from_date, accepted_by, reason, accepted_at "
            "FROM baseline_acceptances ORDER BY from_date, segment"
        )
    )
    return tuple(
        Acceptance(r.segment, r.from_date, r.accepted_by, r.reason, r.accepted_at) for r in rows
    )


def figures_of(
    conn: Connection, *, metrics: Sequence[str], first: dt.date, last: dt.date
) -> tuple[Figure, ...]:
    """The stored figures of these metrics from ``first`` to ``last`` (both included)
    that have a value, oldest day first."""
    rows = conn.execute(
        text(
            "SELECT metric_date, metric, segment, judge, k, value, ci_low, ci_high, n, reason "
            "FROM daily_metrics WHERE metric = ANY(:metrics) AND value IS NOT NULL "
            "AND metric_date BETWEEN :first AND :last ORDER BY metric_date"
        ),
        {"metrics": list(metrics), "first": first, "last": last},
    ).all()
    return _figures(rows)


def means_on_days(
    conn: Connection,
    *,
    metrics: Sequence[str],
    days: Mapping[str, Sequence[dt.date]],
    fallback: Sequence[dt.date],
) -> tuple[BaselineMean, ...]:
    """What was each figure of these metrics on average over its segment's reference days?

    ``days`` gives the reference days of each segment; a segment not in it averages over
    ``fallback``. Figures with no value on those days have no mean.
    """
    segments = [s for s, chosen in days.items() for _ in chosen]
    dates = [d for chosen in days.values() for d in chosen]
    rows = conn.execute(
        text(
            "WITH ref AS (SELECT * FROM unnest(CAST(:segments AS text[]), "
            "CAST(:dates AS date[])) AS r(segment, metric_date)) "
            "SELECT d.metric, d.segment, d.judge, d.k, avg(d.value) AS value "
            "FROM daily_metrics d JOIN ref ON ref.segment = d.segment "
            "AND ref.metric_date = d.metric_date "
            "WHERE d.metric = ANY(:metrics) AND d.value IS NOT NULL "
            "AND d.metric_date = ANY(:any_date) "
            "GROUP BY d.metric, d.segment, d.judge, d.k "
            "UNION ALL "
            "SELECT metric, segment, judge, k, avg(value) AS value FROM daily_metrics "
            "WHERE metric_date = ANY(:fallback) AND metric = ANY(:metrics) "
            "AND value IS NOT NULL AND NOT (segment = ANY(:known)) "
            "GROUP BY metric, segment, judge, k"
        ),
        {
            "segments": segments,
            "dates": dates,
            "metrics": list(metrics),
            "fallback": list(fallback),
            "known": list(days),
            "any_date": sorted(set(dates)),
        },
    ).all()
    return tuple(BaselineMean(r.metric, r.segment, r.judge, int(r.k), float(r.value)) for r in rows)


def latest_run_statuses(conn: Connection) -> dict[str, str]:
    """How did each flow's latest finished run end (any status but ``running``)? By flow."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (flow) flow, status FROM runs WHERE status <> 'running' "
            "ORDER BY flow, finished_at DESC NULLS LAST, id DESC"
        )
    )
    return {r.flow: r.status for r in rows}


def run_status(conn: Connection, *, flow: str, day: dt.date) -> str | None:
    """How did the run of ``flow`` for ``day`` end (its status; None: never run)?"""
    status: str | None = conn.execute(
        text(
            "SELECT status FROM runs WHERE flow = :f AND run_date = :d "
            "ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1"
        ),
        {"f": flow, "d": day},
    ).scalar()
    return status


def judge_identities(conn: Connection) -> tuple[JudgeIdentity, ...]:
    """Each judge as it was last configured when it gave verdicts (newest row per name)."""
    rows = conn.execute(
        text(
            "SELECT DISTINCT ON (name) name, kind, model, prompt_version, config_hash, "
            "created_at FROM judges ORDER BY name, created_at DESC, id DESC"
        )
    )
    return tuple(
        JudgeIdentity(r.name, r.kind, r.model, r.prompt_version, r.config_hash, r.created_at)
        for r in rows
    )


def known_segments(conn: Connection) -> tuple[str, ...]:
    """Which segments have quality figures stored (any day)? Sorted."""
    rows = conn.execute(
        text("SELECT DISTINCT segment FROM daily_metrics WHERE metric = 'ndcg' ORDER BY 1")
    )
    return tuple(r.segment for r in rows)


def history_fingerprint(
    conn: Connection, *, metrics: Sequence[str], first: dt.date, last: dt.date
) -> tuple[object, ...]:
    """What changes when stored figures or acceptances change, read from indexes only: the
    newest row id (a day recomputed is deleted and inserted again), the newest write (a
    figure updated in place), the oldest day (a prune), and the acceptances' count and
    newest write. ``metrics``, ``first`` and ``last`` name what the caller reads; any
    change to ``daily_metrics`` moves the fingerprint."""
    del metrics, first, last  # the whole table's marks are as cheap and never miss one
    row = conn.execute(
        text(
            "SELECT (SELECT max(id) FROM daily_metrics) AS newest_id, "
            "(SELECT max(updated_at) FROM daily_metrics) AS newest_write, "
            "(SELECT min(metric_date) FROM daily_metrics) AS oldest_day, "
            "(SELECT count(*) FROM baseline_acceptances) AS accepted, "
            "(SELECT max(accepted_at) FROM baseline_acceptances) AS accepted_at"
        )
    ).one()
    return tuple(row)
