"""list paging indexes: each admin list's filter and keyset order served by one index

Revision ID: e2f3a4b5c6d7
Revises: d7e8f9a0b1c2
Create Date: 2026-12-07 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e2f3a4b5c6d7'
down_revision = 'd7e8f9a0b1c2'
branch_labels = None
depends_on = None

# (name, table, columns): the list each serves is in webapp/*/models.py beside its Index.
INDEXES = [
    ("ix_one_time_links_calendar_created", "one_time_links", ["calendar_id", "created_at", "id"]),
    ("ix_one_time_links_contact_created", "one_time_links", ["contact_id", "created_at", "id"]),
    ("ix_enrolments_workflow_started", "enrolments", ["workflow_id", "started_at", "id"]),
    ("ix_enrolments_workflow_status_started", "enrolments", ["workflow_id", "status", "started_at", "id"]),
    ("ix_enrolments_workflow_test_started", "enrolments", ["workflow_id", "is_test", "started_at", "id"]),
    ("ix_enrolments_contact_started", "enrolments", ["contact_id", "started_at", "id"]),
    ("ix_enrolments_workflow_status_test", "enrolments", ["workflow_id", "status", "is_test"]),
    ("ix_outbox_messages_created", "outbox_messages", ["created_at", "id"]),
    ("ix_outbox_messages_status_created", "outbox_messages", ["status", "created_at", "id"]),
    ("ix_bookings_status_start", "bookings", ["status", "start_at", "id"]),
    ("ix_bookings_status_cancelled", "bookings", ["status", "cancelled_at", "id"]),
    ("ix_bookings_calendar_start", "bookings", ["calendar_id", "start_at", "id"]),
    ("ix_bookings_calendar_status_start", "bookings", ["calendar_id", "status", "start_at", "id"]),
    ("ix_bookings_calendar_status_cancelled", "bookings", ["calendar_id", "status", "cancelled_at", "id"]),
]


def upgrade():
    # The cancelled list is ordered by cancelled_at, so a cancelled booking needs one: a row from before the
    # column was always set gets its creation time, the latest time known to be no later than the cancel.
    bookings = sa.table("bookings", sa.column("status"), sa.column("cancelled_at"), sa.column("created_at"))
    op.execute(
        bookings.update()
        .where(bookings.c.status == "cancelled", bookings.c.cancelled_at.is_(None))
        .values(cancelled_at=bookings.c.created_at)
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade():
    # The backfilled cancelled_at stays: it cannot be told from one the app set, and it harms nothing.
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
