"""judgment pool kept per day

Why: the daily nDCG's ideal is pooled over every result ever judged for the query; read
from the ensemble grades, that read grows with the history (a query sampled every day
joins one sample per stored day). ``pool_days`` keeps each day's part of the pool (per
normalized query and result: the sum of its production ensemble grades and their count),
``query_pool`` their running sum (one row per result ever judged for a query) and
``pool_folds`` the days that are in it (``monitor.store.pool``). The upgrade folds the
stored history once, so the next daily run reads the kept pool at once. ``pool_days``
is partitioned by month like ``samples`` (the partition function opens its months too),
so retention drops a month of it with a ``DROP TABLE``.

Revision ID: 9b3e5f7a1c20
Revises: 7c1e9a4b2d60
Create Date: 2026-12-13 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9b3e5f7a1c20"
down_revision: str | None = "7c1e9a4b2d60"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: ``monitor.store.models.PRODUCTION_SAMPLES`` as of this revision (a migration does not
#: import the application: it must keep meaning what it meant when written).
_PRODUCTION = "s.ranker NOT LIKE 'compare:%'"


#: The partitioned tables the partition function opens months for, before and after.
_TABLES = "ARRAY['samples', 'verdicts', 'ensemble_grades', 'pairwise_judgments']"
_KEYS = "ARRAY['sample_date', 'sample_date', 'sample_date', 'judgment_date']"
_WITH_POOL = (
    "ARRAY['samples', 'verdicts', 'ensemble_grades', 'pairwise_judgments', 'pool_days']",
    "ARRAY['sample_date', 'sample_date', 'sample_date', 'judgment_date', 'sample_date']",
)


def _partition_function(before: tuple[str, str], after: tuple[str, str]) -> None:
    """Redefine ``judge_monitor_ensure_partitions`` with another list of tables: its
    stored text with the two arrays swapped (the rest of it stays as written)."""
    text = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT pg_get_functiondef("
                "'judge_monitor_ensure_partitions(date, date)'::regprocedure)"
            )
        )
        .scalar_one()
    )
    for old, new in zip(before, after, strict=True):
        assert old in text, f"judge_monitor_ensure_partitions: {old} not found"
        text = text.replace(old, new)
    op.execute(text)


def upgrade() -> None:
    # pool_days by month, as samples are: retention drops its months with theirs
    op.execute(
        "CREATE TABLE pool_days (sample_date date NOT NULL, query_norm text NOT NULL, "
        "result_id text NOT NULL, grade_sum double precision NOT NULL, n integer NOT NULL, "
        "CONSTRAINT pk_pool_days PRIMARY KEY (sample_date, query_norm, result_id)) "
        "PARTITION BY RANGE (sample_date)"
    )
    op.execute("CREATE TABLE pool_days_default PARTITION OF pool_days DEFAULT")
    op.create_index("ix_pool_days_query_norm", "pool_days", ["query_norm", "sample_date"])
    _partition_function((_TABLES, _KEYS), _WITH_POOL)
    op.execute(
        "SELECT judge_monitor_ensure_partitions(m, m) FROM ("
        "SELECT DISTINCT date_trunc('month', sample_date)::date AS m FROM samples "
        "UNION SELECT date_trunc('month', current_date)::date "
        "UNION SELECT (date_trunc('month', current_date) + interval '1 month')::date) months"
    )
    op.create_table(
        "query_pool",
        sa.Column("query_norm", sa.Text(), nullable=False),
        sa.Column("result_id", sa.Text(), nullable=False),
        sa.Column("grade_sum", sa.Double(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("query_norm", "result_id", name=op.f("pk_query_pool")),
    )
    op.create_table(
        "pool_folds",
        sa.Column("sample_date", sa.Date(), nullable=False),
        sa.Column(
            "folded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("sample_date", name=op.f("pk_pool_folds")),
    )
    # the stored history, folded once
    op.execute(
        "INSERT INTO pool_days (sample_date, query_norm, result_id, grade_sum, n) "
        "SELECT s.sample_date, s.query_norm, e.result_id, sum(e.grade), count(*) "
        "FROM samples s JOIN ensemble_grades e "
        "ON e.sample_id = s.id AND e.sample_date = s.sample_date "
        f"WHERE {_PRODUCTION} AND e.grade IS NOT NULL "
        "GROUP BY s.sample_date, s.query_norm, e.result_id"
    )
    op.execute(
        "INSERT INTO query_pool (query_norm, result_id, grade_sum, n) "
        "SELECT query_norm, result_id, sum(grade_sum), sum(n) FROM pool_days "
        "GROUP BY query_norm, result_id"
    )
    op.execute("INSERT INTO pool_folds (sample_date) SELECT DISTINCT sample_date FROM samples")


def downgrade() -> None:
    op.drop_table("pool_folds")
    op.drop_table("query_pool")
    _partition_function(_WITH_POOL, (_TABLES, _KEYS))
    op.execute("DROP TABLE pool_days")  # its partitions with it
