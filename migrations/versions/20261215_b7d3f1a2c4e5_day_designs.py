"""day designs

Why: a day's sample design reads the stored days before it (each stratum's sd of
nDCG@10 for a Neyman allocation, the queries its paired panel may take). A day
backfilled after it, or an earlier day rerun, changes what that read returns, so a rerun
of the day drew another sample than its first run. ``day_designs`` keeps what the first
run read, with the settings that shaped it, and a rerun reads that instead; with a
paid-call ceiling (``sampling.paid_calls_per_day``), also the rows it subsampled and p.

Revision ID: b7d3f1a2c4e5
Revises: 4c8d2e6f9a10
Create Date: 2026-12-15 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "b7d3f1a2c4e5"
down_revision: str | None = "4c8d2e6f9a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "day_designs",
        sa.Column("sample_date", sa.Date(), nullable=False),
        sa.Column("inputs", sa.String(length=200), nullable=False),
        sa.Column("stratum_sd", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("panel_history", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("budget_p", sa.Double(), nullable=True),
        sa.Column("budget_rows", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("sample_date"),
    )


def downgrade() -> None:
    op.drop_table("day_designs")
