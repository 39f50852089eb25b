"""booking history: booking_changes (who did what to a booking), and admins' names

Existing bookings get the history their rows still tell: booked at created_at by the invitee, moved
at rescheduled_at (only invitees could move a booking before), cancelled at cancelled_at by whoever
cancelled_by names. Existing admins are named after their email's local part until they give a name.

Revision ID: a7c4e9b2d1f3
Revises: f1e2d3c4b5a6
Create Date: 2026-12-07 12:20:00.000000

"""

import sqlalchemy as sa
from alembic import op

import webapp.columns

# revision identifiers, used by Alembic.
revision = "a7c4e9b2d1f3"
down_revision = "f1e2d3c4b5a6"
branch_labels = None
depends_on = None

BACKFILLED = '{"backfilled": true}'


def upgrade():
    op.create_table(
        "booking_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("at", webapp.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_user_id", sa.Integer(), nullable=True),
        sa.Column("actor_key_id", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_booking_changes_booking_id_bookings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_booking_changes")),
    )
    with op.batch_alter_table("booking_changes", schema=None) as batch_op:
        batch_op.create_index("ix_booking_changes_booking", ["booking_id", "at", "id"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=100), server_default="", nullable=False))

    conn = op.get_bind()
    # A JSON literal: PostgreSQL needs the cast; SQLite stores JSON as text (a cast would make it a number).
    details = "CAST(:details AS JSON)" if conn.dialect.name == "postgresql" else ":details"
    insert = "INSERT INTO booking_changes (booking_id, at, kind, actor_kind, actor_name, details) "
    # Set-based, one statement per kind: the backfill costs three statements whatever the number of bookings.
    conn.execute(
        sa.text(insert + f"SELECT id, created_at, 'booked', 'invitee', name, {details} FROM bookings"),
        {"details": BACKFILLED},
    )
    conn.execute(
        sa.text(
            insert + f"SELECT id, rescheduled_at, 'moved', 'invitee', name, {details} FROM bookings"
            " WHERE rescheduled_at IS NOT NULL"
        ),
        {"details": BACKFILLED},
    )
    conn.execute(
        sa.text(
            insert + "SELECT id, cancelled_at, 'cancelled',"
            " CASE WHEN cancelled_by IN ('admin', 'api', 'system') THEN cancelled_by ELSE 'invitee' END,"
            f" CASE WHEN cancelled_by IN ('admin', 'api', 'system') THEN '' ELSE name END, {details}"
            " FROM bookings WHERE status = 'cancelled' AND cancelled_at IS NOT NULL"
        ),
        {"details": BACKFILLED},
    )
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("email", sa.String), sa.column("name", sa.String))
    for user_id, email in conn.execute(sa.select(users.c.id, users.c.email)).all():  # a handful of admins
        conn.execute(
            users.update().where(users.c.id == user_id).values(name=(email or "").partition("@")[0][:100] or "Admin")
        )


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("name")
    with op.batch_alter_table("booking_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_booking_changes_booking")
    op.drop_table("booking_changes")
