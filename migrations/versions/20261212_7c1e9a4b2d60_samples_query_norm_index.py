"""samples query_norm index

Why: the daily nDCG's ideal is now pooled over every result ever judged for the query
(``monitor.store.pool_reads``): the metrics step reads, for each of the day's queries,
every stored sample of that query on any day. An index on ``samples.query_norm`` makes
that read touch only those samples, not every sample ever stored. Created on the
partitioned table, so every month partition (and every one created later) gets it.

Revision ID: 7c1e9a4b2d60
Revises: 5d6fc5b914e3
Create Date: 2026-12-12 10:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "7c1e9a4b2d60"
down_revision: str | None = "5d6fc5b914e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_samples_query_norm", "samples", ["query_norm"])


def downgrade() -> None:
    op.drop_index("ix_samples_query_norm", table_name="samples")
