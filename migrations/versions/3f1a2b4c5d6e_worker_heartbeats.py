"""worker heartbeats: one row per running `flask worker` (readiness, lease takeover).

Revision ID: 3f1a2b4c5d6e
Revises: ce91f9239637
Create Date: 2026-12-07 17:40:00.000000

"""

import sqlalchemy as sa
from alembic import op

from webapp.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision = "3f1a2b4c5d6e"
down_revision = "ce91f9239637"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("beat_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeats")),
    )
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_worker_heartbeats_beat_at"), ["beat_at"], unique=False)


def downgrade():
    with op.batch_alter_table("worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_worker_heartbeats_beat_at"))
    op.drop_table("worker_heartbeats")
