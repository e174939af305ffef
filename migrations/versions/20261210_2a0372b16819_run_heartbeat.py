"""run heartbeat

Why: a run whose process died (``kill -9``, a lost host, Postgres gone mid-run) never
wrote its outcome, so its ``runs`` row said ``running`` forever. A run now says who runs
it and that it is still alive:

* ``heartbeat_at``: when the running process last said it was alive (it beats every
  quarter of its lease, from a background thread);
* ``lease_s``: how long after its last heartbeat the run counts as alive; past that a
  ``running`` row is read as ``abandoned`` (``db status``, the exporter) and the next
  run of the day rewrites it so;
* ``pid`` and ``host``: the process that runs it, named when a second run of the same
  day is refused.

Rows without a lease (written before this revision, or by a flow that holds none) are
never read as abandoned; the next daily run of their day still records a ``running`` one
so (holding the day's lock, it knows its process is gone).

Revision ID: 2a0372b16819
Revises: affae5ca3c30
Create Date: 2026-12-10 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "2a0372b16819"
down_revision: str | None = "affae5ca3c30"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("lease_s", sa.Double(), nullable=True))
    op.add_column("runs", sa.Column("pid", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("host", sa.Text(), nullable=True))


def downgrade() -> None:
    # an abandoned run was a running one that died: the old schema knows it as failed
    op.execute(
        "UPDATE runs SET status = 'failed', "
        "error = coalesce(error, 'abandoned: its process stopped without recording an outcome') "
        "WHERE status = 'abandoned'"
    )
    for column in ("host", "pid", "lease_s", "heartbeat_at"):
        op.drop_column("runs", column)
