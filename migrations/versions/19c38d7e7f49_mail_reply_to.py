"""outbox_messages.reply_to: where a reply goes (an invitee's mail: the booking's host), "" for the sender.

Revision ID: 19c38d7e7f49
Revises: e82e180f44e6
Create Date: 2026-12-07 15:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "19c38d7e7f49"
down_revision = "e82e180f44e6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("reply_to", sa.String(length=254), nullable=False, server_default=""))


def downgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("reply_to")
