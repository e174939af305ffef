"""The Postgres schema, as SQLAlchemy 2 models.

The schema only changes through an Alembic migration (``migrations/``); a test checks
that these models and the migrated schema do not diverge. Unique keys are what make
every write idempotent: the same day, sample, verdict or metric written twice is
stored once.

The tables that grow by the day (``samples``, ``verdicts``, ``ensemble_grades``,
``pairwise_judgments``, ``pool_days``) are partitioned by month on their day
(``monitor.store.partitions``);
Postgres requires that day in their primary and unique keys, so it is there.

It is one module (over 400 lines) because the schema is read as a whole: a migration
is checked against all of it at once, and one table's keys are often explained by
another's (the judgment pool's tables by the ensemble grades they sum).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "COMPARE_PREFIX",
    "PRODUCTION_SAMPLES",
    "Base",
    "BaselineAcceptance",
    "CanaryAnchor",
    "CanaryGrade",
    "DailyMetric",
    "EnsembleGrade",
    "HumanLabel",
    "Judge",
    "JudgeCalibration",
    "PairwiseJudgment",
    "PoolDay",
    "PoolFold",
    "QueryPool",
    "Run",
    "Sample",
    "Verdict",
    "VerdictCache",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        list[Any] | None: JSONB,
    }


def _now() -> Any:
    return func.now()


class Run(Base):
    """One execution of a flow for one day (a rerun updates the same row)."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("flow", "run_date", "run_key"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    flow: Mapped[str] = mapped_column(String(32))
    run_date: Mapped[dt.date] = mapped_column(Date)
    run_key: Mapped[str] = mapped_column(String(128), default="", server_default="")
    # running | completed | degraded | failed | aborted | abandoned
    status: Mapped[str] = mapped_column(String(16))
    config_hash: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    duration_s: Mapped[float | None] = mapped_column(Double)
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    cost_usd: Mapped[float] = mapped_column(Double, default=0.0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    #: when the running process last said it is alive; a ``running`` row whose
    #: heartbeat is older than ``lease_s`` is abandoned (``monitor.store.runs``)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lease_s: Mapped[float | None] = mapped_column(Double)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(Text)


#: The compare flow stores its rankings' samples beside production's, as ranker
#: ``compare:<name>``.
COMPARE_PREFIX = "compare:"

#: Which ``samples`` rows are production's: every ranker's but the compare flow's. The
#: one predicate every query on production's samples uses (``ranker`` is a column of
#: ``samples`` only, so it needs no table alias in a join).
PRODUCTION_SAMPLES = f"ranker NOT LIKE '{COMPARE_PREFIX}%'"


class Sample(Base):
    """A sampled query and its ranked results, snapshotted as production showed them."""

    __tablename__ = "samples"
    __table_args__ = (
        # one row per query and day, or per distinct list of a panel query (list_no)
        UniqueConstraint("sample_date", "ranker", "query_norm", "list_no"),
        Index("ix_samples_sample_date", "sample_date"),
        # the pooled nDCG's read: every stored sample of the day's queries (pool_reads)
        Index("ix_samples_query_norm", "query_norm"),
        {"postgresql_partition_by": "RANGE (sample_date)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sample_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    ranker: Mapped[str] = mapped_column(String(64), default="production")
    query_id: Mapped[str] = mapped_column(Text)
    query_text: Mapped[str] = mapped_column(Text)
    query_norm: Mapped[str] = mapped_column(Text)
    list_no: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    searched_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    stratum: Mapped[str] = mapped_column(Text)
    segment: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inclusion_prob: Mapped[float] = mapped_column(Double)
    weight: Mapped[float] = mapped_column(Double)
    hard: Mapped[bool] = mapped_column(Boolean, default=False)
    results: Mapped[list[Any]] = mapped_column()
    signals: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Judge(Base):
    """A judge as configured when it gave verdicts: a new model or prompt is a new row."""

    __tablename__ = "judges"
    __table_args__ = (UniqueConstraint("name", "config_hash", "prompt_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Verdict(Base):
    """One judge's grade for one result of one sample.

    ``sample_date`` is the sample's date (the partition key). There is no foreign key to
    ``samples`` (a referenced partition cannot be dropped): the writer refuses sample ids
    that are not stored, and deleting samples deletes their verdicts (a trigger).
    """

    __tablename__ = "verdicts"
    __table_args__ = (
        UniqueConstraint("sample_id", "result_id", "judge_id", "mode", "sample_date"),
        {"postgresql_partition_by": "RANGE (sample_date)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sample_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    sample_id: Mapped[int] = mapped_column(BigInteger)
    # No foreign key on judge_id: judge rows are insert-only and tiny, and the per-row
    # check would cost a third of the COPY ingest rate (bench/store_ingest.py).
    judge_id: Mapped[int] = mapped_column(Integer)
    result_id: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(SmallInteger)
    mode: Mapped[str] = mapped_column(String(16), default="pointwise")
    status: Mapped[str] = mapped_column(String(16))  # ok | invalid
    grade: Mapped[int | None] = mapped_column(SmallInteger)
    expected_grade: Mapped[float | None] = mapped_column(Double)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text, default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Double, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Double, default=0.0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    cache_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class VerdictCache(Base):
    """Every answer a judge was paid for, by cache key: never paid for twice.

    Daily verdicts, calibration and comparisons all read from here before calling an
    endpoint, and write each new answer here first. Not partitioned: it is keyed by
    content, not by day. ``last_used`` is the day a stored verdict last came from it (to
    within ``partitions.CACHE_USE_RESOLUTION_DAYS``), what ``db prune`` forgets it by.
    """

    __tablename__ = "verdict_cache"
    __table_args__ = (Index("ix_verdict_cache_last_used", "last_used"),)

    cache_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    judge_name: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(Text)
    prompt_version: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    grade: Mapped[int | None] = mapped_column(SmallInteger)
    expected_grade: Mapped[float | None] = mapped_column(Double)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[str] = mapped_column(Text, default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[float] = mapped_column(Double, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Double, default=0.0)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    last_used: Mapped[dt.date] = mapped_column(Date, server_default=func.current_date())


class EnsembleGrade(Base):
    """The ensemble's grade for one result of one sample, and how much its judges disagreed."""

    __tablename__ = "ensemble_grades"
    __table_args__ = (
        UniqueConstraint("sample_id", "result_id", "sample_date"),
        {"postgresql_partition_by": "RANGE (sample_date)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    sample_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # as in Verdict
    sample_id: Mapped[int] = mapped_column(BigInteger)
    result_id: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(SmallInteger)
    grade: Mapped[float | None] = mapped_column(Double)
    disagreement: Mapped[float | None] = mapped_column(Double)
    n_judges: Mapped[int] = mapped_column(SmallInteger)
    method: Mapped[str] = mapped_column(String(16))


class PairwiseJudgment(Base):
    """A pairwise preference between two results or two rankings, asked in both orders."""

    __tablename__ = "pairwise_judgments"
    __table_args__ = (
        UniqueConstraint("judgment_date", "query_norm", "judge_id", "a_id", "b_id"),
        {"postgresql_partition_by": "RANGE (judgment_date)"},
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    judgment_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    query_norm: Mapped[str] = mapped_column(Text)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id"))
    a_id: Mapped[str] = mapped_column(Text)
    b_id: Mapped[str] = mapped_column(Text)
    first: Mapped[str] = mapped_column(String(16))
    second: Mapped[str] = mapped_column(String(16))
    winner: Mapped[str] = mapped_column(String(16))
    consistent: Mapped[bool] = mapped_column(Boolean)
    reasoning: Mapped[str] = mapped_column(Text, default="")
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Double, default=0.0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class JudgeCalibration(Base):
    """A judge measured against human labels: its agreement, weight and fitted cut points."""

    __tablename__ = "judge_calibrations"
    __table_args__ = (UniqueConstraint("judge_name", "config_hash", "labels_source"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    judge_name: Mapped[str] = mapped_column(String(64))
    config_hash: Mapped[str] = mapped_column(String(64))
    labels_source: Mapped[str] = mapped_column(Text)
    n: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    weight: Mapped[float] = mapped_column(Double)
    thresholds: Mapped[list[Any] | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class HumanLabel(Base):
    """A person's grade for a (query, result): the ground truth judges are checked on."""

    __tablename__ = "human_labels"
    __table_args__ = (UniqueConstraint("query_norm", "result_id", "annotator"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    query_id: Mapped[str | None] = mapped_column(Text)
    query_text: Mapped[str] = mapped_column(Text)
    query_norm: Mapped[str] = mapped_column(Text)
    result_id: Mapped[str] = mapped_column(Text)
    result_text: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[int] = mapped_column(SmallInteger)
    annotator: Mapped[str] = mapped_column(String(128), default="")
    source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class DailyMetric(Base):
    """One figure for one day: a value with its 95% CI and n, or NULL with a reason."""

    __tablename__ = "daily_metrics"
    __table_args__ = (
        UniqueConstraint("metric_date", "metric", "segment", "judge", "k"),
        Index("ix_daily_metrics_metric_date", "metric_date"),
        Index("ix_daily_metrics_updated_at", "updated_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    metric_date: Mapped[dt.date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(64))
    segment: Mapped[str] = mapped_column(String(128), default="all")
    judge: Mapped[str] = mapped_column(String(64), default="ensemble")
    k: Mapped[int] = mapped_column(SmallInteger, default=0)
    value: Mapped[float | None] = mapped_column(Double)
    ci_low: Mapped[float | None] = mapped_column(Double)
    ci_high: Mapped[float | None] = mapped_column(Double)
    n: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now(), onupdate=func.now()
    )


class BaselineAcceptance(Base):
    """Someone accepted a segment's new quality level from a day on: the baseline's reset.

    Until accepted, days on which a quality alert held (or that a change point put after a
    shift) stay out of the baseline, so a regression that persists keeps alerting; from
    ``from_date`` on, the segment's baseline is built from days on or after it.
    """

    __tablename__ = "baseline_acceptances"
    __table_args__ = (UniqueConstraint("segment", "from_date"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    segment: Mapped[str] = mapped_column(String(128))
    from_date: Mapped[dt.date] = mapped_column(Date)
    accepted_by: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    accepted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class CanaryAnchor(Base):
    """One (query, result) of the judge canary's fixed set, with the texts it is judged on."""

    __tablename__ = "canary_anchors"

    anchor: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    query_text: Mapped[str] = mapped_column(Text)
    result_id: Mapped[str] = mapped_column(Text)
    result_text: Mapped[str] = mapped_column(Text)
    chosen_from: Mapped[dt.date] = mapped_column(Date)


class CanaryGrade(Base):
    """A judge configuration's grade of one canary anchor on one day, asked without cache."""

    __tablename__ = "canary_grades"
    __table_args__ = (UniqueConstraint("canary_date", "judge_id", "anchor"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    canary_date: Mapped[dt.date] = mapped_column(Date)
    judge_id: Mapped[int] = mapped_column(Integer)
    judge_name: Mapped[str] = mapped_column(String(64))
    anchor: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    grade: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class PoolDay(Base):
    """One day's part of the judgment pool: the ensemble grades that day's production
    samples gave each (normalized query, result), summed, with how many there were.

    The pooled nDCG's ideal is the mean grade of every result judged for the query up to
    the day (``monitor.store.pool``); this is what a day adds to it, kept so that a rerun
    of the day can take its old part out of ``query_pool`` before adding the new one.
    """

    __tablename__ = "pool_days"
    __table_args__ = (
        Index("ix_pool_days_query_norm", "query_norm", "sample_date"),
        {"postgresql_partition_by": "RANGE (sample_date)"},
    )

    sample_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    query_norm: Mapped[str] = mapped_column(Text, primary_key=True)
    result_id: Mapped[str] = mapped_column(Text, primary_key=True)
    grade_sum: Mapped[float] = mapped_column(Double)
    n: Mapped[int] = mapped_column(Integer)


class QueryPool(Base):
    """The judgment pool as of the newest folded day: every folded day's ``pool_days``
    summed by (normalized query, result). One row per result ever judged for a query,
    so the day's read of its queries' pools does not grow with the history."""

    __tablename__ = "query_pool"

    query_norm: Mapped[str] = mapped_column(Text, primary_key=True)
    result_id: Mapped[str] = mapped_column(Text, primary_key=True)
    grade_sum: Mapped[float] = mapped_column(Double)
    n: Mapped[int] = mapped_column(Integer)


class PoolFold(Base):
    """A day whose grades are in ``query_pool`` (its part in ``pool_days``), and when."""

    __tablename__ = "pool_folds"

    sample_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    folded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class DayDesign(Base):
    """What a day's sample design read from the store when the day was first run: each
    stratum's sd of nDCG@10 (a Neyman allocation) and the queries its panel could take.

    Both come from the stored days before it, which later runs change (a day backfilled
    after it, an earlier day rerun): read afresh, a rerun would draw another sample.
    Kept with the settings that shaped them (``inputs``), so a rerun draws the first
    run's sample and a change of those settings reads afresh (``monitor.pipeline.allocation``).
    With a paid-call ceiling, also which rows it subsampled and with what probability.
    """

    __tablename__ = "day_designs"

    sample_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    inputs: Mapped[str] = mapped_column(String(200))
    stratum_sd: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    panel_history: Mapped[list[Any] | None] = mapped_column(JSONB)
    # the paid-call ceiling's decision (monitor.sampling_budget): the overall p, and
    # {"rows": {row: stratum}, "judged": {stratum: n}} (a first version: the rows alone)
    budget_p: Mapped[float | None] = mapped_column(Double)
    budget_rows: Mapped[dict[str, Any] | list[Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
