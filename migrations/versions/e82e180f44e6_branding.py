"""branding: one row of settings (business name, logo, accent colour, default sender, "Sent by OneSlot"),
a calendar's own sender (calendars.sender_name, sender_email), and the sender address an outbox message
was queued with (outbox_messages.from_addr). No branding row is the same as today's defaults.

Revision ID: e82e180f44e6
Revises: 7bda2cad7434
Create Date: 2026-12-07 14:55:00.000000

"""

import sqlalchemy as sa
from alembic import op

from webapp.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision = "e82e180f44e6"
down_revision = "7bda2cad7434"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "branding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_name", sa.String(length=100), nullable=False),
        sa.Column("accent", sa.String(length=7), nullable=False),
        sa.Column("sender_name", sa.String(length=100), nullable=False),
        sa.Column("sender_email", sa.String(length=254), nullable=False),
        sa.Column("powered_by", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("logo", sa.LargeBinary(), nullable=True),
        sa.Column("logo_type", sa.String(length=20), nullable=False),
        sa.Column("logo_width", sa.Integer(), nullable=False),
        sa.Column("logo_height", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_branding")),
    )
    with op.batch_alter_table("calendars") as batch:
        batch.add_column(sa.Column("sender_name", sa.String(length=100), server_default="", nullable=False))
        batch.add_column(sa.Column("sender_email", sa.String(length=254), server_default="", nullable=False))
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("from_addr", sa.String(length=254), server_default="", nullable=False))


def downgrade():
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("from_addr")
    with op.batch_alter_table("calendars") as batch:
        batch.drop_column("sender_email")
        batch.drop_column("sender_name")
    op.drop_table("branding")
