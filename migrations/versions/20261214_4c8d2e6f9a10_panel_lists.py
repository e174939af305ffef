"""samples list_no: one row per distinct list of a panel query

Why: a panel query's searches are not all served the same list (an A/B arm, a canary,
a regression on a share of traffic), and judging one of them per day lets the panel's
paired change see that share only on the days the one draw lands on it. With
``sampling.panel_lists`` > 1 the sampler keeps a row per distinct list
(``monitor.sampling_panel.PanelLists``), told apart by ``list_no`` (0 for every other
sample, so the rows already stored keep their meaning); the unique key of a day's
samples becomes (sample_date, ranker, query_norm, list_no). Changed on the partitioned
table, so every month partition follows.

Revision ID: 4c8d2e6f9a10
Revises: 9b3e5f7a1c20
Create Date: 2026-12-14 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "4c8d2e6f9a10"
down_revision: str | None = "9b3e5f7a1c20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "uq_samples_sample_date_ranker_query_norm"
_NEW = "uq_samples_sample_date_ranker_query_norm_list_no"


def upgrade() -> None:
    op.add_column(
        "samples", sa.Column("list_no", sa.SmallInteger(), nullable=False, server_default="0")
    )
    op.drop_constraint(_OLD, "samples", type_="unique")
    op.create_unique_constraint(_NEW, "samples", ["sample_date", "ranker", "query_norm", "list_no"])


def downgrade() -> None:
    # a day with several lists of one panel query keeps its first list (list_no 0), which
    # then stands for all of the query's searches, as a one-list panel sample does; the
    # kept judgment pool still holds the other lists' grades (the same grades per result)
    op.execute(
        "UPDATE samples s SET weight = t.w, inclusion_prob = 1.0 / t.w FROM ("
        "SELECT sample_date, ranker, query_norm, sum(weight) AS w FROM samples "
        "GROUP BY sample_date, ranker, query_norm HAVING count(*) > 1) t "
        "WHERE s.list_no = 0 AND s.sample_date = t.sample_date AND s.ranker = t.ranker "
        "AND s.query_norm = t.query_norm"
    )
    op.execute("DELETE FROM samples WHERE list_no > 0")
    op.drop_constraint(_NEW, "samples", type_="unique")
    op.create_unique_constraint(_OLD, "samples", ["sample_date", "ranker", "query_norm"])
    op.drop_column("samples", "list_no")
