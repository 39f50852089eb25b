"""retention: pruned_at on outbox messages and enrolments, the indexes the worker's prune queries use, and
one_time_links (contact_id, calendar_id)

Revision ID: f1e2d3c4b5a6
Revises: c3a1b2d4e5f6
Create Date: 2026-12-07 12:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import webapp.columns


# revision identifiers, used by Alembic.
revision = "f1e2d3c4b5a6"
down_revision = "c3a1b2d4e5f6"
branch_labels = None
depends_on = None

# Partial indexes: only the rows not pruned yet, so they do not grow with the pruned history.
UNPRUNED = {"sqlite_where": sa.text("pruned_at IS NULL"), "postgresql_where": sa.text("pruned_at IS NULL")}


def upgrade():
    # Existing rows start as "kept": the worker prunes the old ones in small batches after the upgrade.
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pruned_at", webapp.columns.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_outbox_messages_prune", ["status", "sent_at"], unique=False, **UNPRUNED)
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pruned_at", webapp.columns.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_enrolments_prune", ["status", "finished_at"], unique=False, **UNPRUNED)


def downgrade():
    # The emptied bodies and details stay empty: nothing can bring them back.
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_enrolments_prune")
        batch_op.drop_column("pruned_at")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_messages_prune")
        batch_op.drop_column("pruned_at")
