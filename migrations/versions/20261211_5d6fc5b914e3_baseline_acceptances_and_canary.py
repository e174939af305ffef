"""baseline acceptances and the judge canary

Why: the baseline an alert compares today with must not forgive a regression. Days on
which a quality alert held (or that a change point put after a shift) stay out of it
until someone accepts the segment's new level (``judge-monitor baseline accept``), and
that acceptance is recorded with who, when and why: ``baseline_acceptances``.

A judge can change behind an unchanged name (the provider swaps the model). The canary
re-judges a fixed set of (query, result) anchors every day without the verdict cache and
compares the grades with the judge's first days: ``canary_anchors`` holds the anchors
(their texts, so they outlive the retention of samples), ``canary_grades`` each day's
grade per judge configuration and anchor. ``daily_metrics.updated_at`` gets an index: the
exporter asks for the newest write at every scrape, to know its replayed baseline is
still current.

Revision ID: 5d6fc5b914e3
Revises: 2a0372b16819
Create Date: 2026-12-11 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d6fc5b914e3"
down_revision: str | None = "2a0372b16819"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the exporter's baseline cache asks for the newest write at every scrape
    op.create_index(
        op.f("ix_daily_metrics_updated_at"), "daily_metrics", ["updated_at"], unique=False
    )
    op.create_table(
        "baseline_acceptances",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("segment", sa.String(length=128), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("accepted_by", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "accepted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baseline_acceptances")),
        sa.UniqueConstraint(
            "segment", "from_date", name=op.f("uq_baseline_acceptances_segment_from_date")
        ),
    )
    op.create_table(
        "canary_anchors",
        sa.Column("anchor", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("query_text", sa.Text(), nullable=False),
        sa.Column("result_id", sa.Text(), nullable=False),
        sa.Column("result_text", sa.Text(), nullable=False),
        sa.Column("chosen_from", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("anchor", name=op.f("pk_canary_anchors")),
    )
    op.create_table(
        "canary_grades",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("canary_date", sa.Date(), nullable=False),
        sa.Column("judge_id", sa.Integer(), nullable=False),
        sa.Column("judge_name", sa.String(length=64), nullable=False),
        sa.Column("anchor", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("grade", sa.SmallInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canary_grades")),
        sa.UniqueConstraint(
            "canary_date",
            "judge_id",
            "anchor",
            name=op.f("uq_canary_grades_canary_date_judge_id_anchor"),
        ),
    )


def downgrade() -> None:
    op.drop_table("canary_grades")
    op.drop_table("canary_anchors")
    op.drop_table("baseline_acceptances")
    op.drop_index(op.f("ix_daily_metrics_updated_at"), table_name="daily_metrics")
