"""calendar_event_copies: bookings written into their hosts' CalDAV calendars (the worker's queue).

Revision ID: 1eb543bf23d8
Revises: 19c38d7e7f49
Create Date: 2026-12-07 15:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

from webapp.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision = "1eb543bf23d8"
down_revision = "19c38d7e7f49"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "calendar_event_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("calendar_url", sa.String(length=2000), nullable=False),
        sa.Column("href", sa.String(length=2000), nullable=False),
        sa.Column("etag", sa.String(length=200), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False),
        sa.Column("written_sequence", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["connection_id"], ["host_connections.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("booking_id", "connection_id", name="uq_calendar_event_copies_booking_connection"),
    )
    op.create_index("ix_calendar_event_copies_due", "calendar_event_copies", ["state", "next_attempt_at"])
    op.create_index("ix_calendar_event_copies_host_id", "calendar_event_copies", ["host_id"])
    op.create_index("ix_calendar_event_copies_connection_id", "calendar_event_copies", ["connection_id"])


def downgrade():
    op.drop_table("calendar_event_copies")
