"""hosts: team members (hosts, host_hours, host_time_off), the calendars they host (calendar_hosts,
calendars.assignment), whom each booking is with (booking_hosts), connected calendars (host_connections,
host_busy_blocks). Every admin becomes a host; every
calendar becomes a single-host calendar of the first admin, and its bookings that admin's.

Revision ID: c4d6e8f0a2b4
Revises: a9b8c7d6e5f4
Create Date: 2026-12-07 14:45:00.000000

"""

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from webapp.columns import UTCDateTime

# revision identifiers, used by Alembic.
revision = "c4d6e8f0a2b4"
down_revision = "a9b8c7d6e5f4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "hosts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(length=32), nullable=False),
        sa.Column("photo_version", sa.Integer(), nullable=False),
        sa.Column("own_hours", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("busy_seq", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("feed_salt", sa.String(length=32), nullable=True),
        sa.Column("feed_digest", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email_key"),
        sa.UniqueConstraint("user_id"),
        sa.UniqueConstraint("feed_digest"),
    )
    op.create_table(
        "host_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_host_hours_host_id", "host_hours", ["host_id"])
    op.create_table(
        "host_time_off",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_host_time_off_host_last", "host_time_off", ["host_id", "last_day"])
    op.create_table(
        "calendar_hosts",
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["calendar_id"], ["calendars.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("calendar_id", "host_id"),
    )
    op.create_index("ix_calendar_hosts_host_id", "calendar_hosts", ["host_id"])
    op.create_table(
        "booking_hosts",
        sa.Column("booking_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("busy_start", UTCDateTime(), nullable=False),
        sa.Column("busy_end", UTCDateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["calendar_id"], ["calendars.id"]),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"]),
        sa.PrimaryKeyConstraint("booking_id", "host_id"),
    )
    op.create_index("ix_booking_hosts_busy", "booking_hosts", ["host_id", "active", "busy_end"])
    op.create_index("ix_booking_hosts_calendar_host", "booking_hosts", ["calendar_id", "host_id", "created_at"])
    op.create_table(
        "host_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("username", sa.String(length=254), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("read_urls", sa.JSON(), nullable=False),
        sa.Column("write_url", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("stale_policy", sa.String(length=10), nullable=False),
        sa.Column("last_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("next_sync_at", UTCDateTime(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_host_connections_host_id", "host_connections", ["host_id"])
    op.create_index("ix_host_connections_next_sync", "host_connections", ["next_sync_at"])
    op.create_table(
        "host_busy_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("host_id", sa.Integer(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["connection_id"], ["host_connections.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["host_id"], ["hosts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_host_busy_blocks_connection_id", "host_busy_blocks", ["connection_id"])
    op.create_index("ix_host_busy_blocks_host_end", "host_busy_blocks", ["host_id", "end_at"])
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignment", sa.String(length=20), nullable=False, server_default="single"))

    _make_hosts()


def _make_hosts():
    """Every admin a host; every calendar the first admin's, with its bookings."""
    bind = op.get_bind()
    users = sa.table("users", sa.column("id"), sa.column("email"), sa.column("name"), sa.column("timezone"))
    hosts = sa.table(
        "hosts",
        *(sa.column(c) for c in ("id", "name", "email", "email_key", "timezone", "user_id", "photo_type")),
        *(sa.column(c) for c in ("photo_version", "own_hours", "busy_seq", "is_active")),
        sa.column("created_at", UTCDateTime()),
        sa.column("updated_at", UTCDateTime()),
    )
    calendars = sa.table("calendars", sa.column("id"), sa.column("buffer_before"), sa.column("buffer_after"))
    calendar_hosts = sa.table(
        "calendar_hosts", sa.column("calendar_id"), sa.column("host_id"), sa.column("priority"), sa.column("position")
    )
    bookings = sa.table(
        "bookings",
        sa.column("id"),
        sa.column("calendar_id"),
        sa.column("status"),
        sa.column("start_at", UTCDateTime()),
        sa.column("end_at", UTCDateTime()),
        sa.column("created_at", UTCDateTime()),
    )
    booking_hosts = sa.table(
        "booking_hosts",
        sa.column("booking_id"),
        sa.column("host_id"),
        sa.column("calendar_id"),
        sa.column("active"),
        sa.column("busy_start", UTCDateTime()),
        sa.column("busy_end", UTCDateTime()),
        sa.column("created_at", UTCDateTime()),
    )
    now = datetime.now(UTC)
    first_host = None
    seen = set()
    for user in bind.execute(
        sa.select(users.c.id, users.c.email, users.c.name, users.c.timezone).order_by(users.c.id)
    ).mappings():
        key = user["email"].strip().lower()
        if key in seen:
            continue
        seen.add(key)
        name = (user["name"] or "").strip() or user["email"].partition("@")[0] or "Admin"
        host_id = bind.execute(
            hosts.insert()
            .values(
                name=name[:120],
                email=user["email"],
                email_key=key,
                timezone=user["timezone"] or "UTC",
                user_id=user["id"],
                photo_type="",
                photo_version=0,
                own_hours=False,
                busy_seq=0,
                is_active=True,
                created_at=now,
                updated_at=now,
            )
            .returning(hosts.c.id)
        ).scalar_one()
        first_host = first_host or host_id
    if first_host is None:
        return
    buffers = {}
    for cal in bind.execute(sa.select(calendars.c.id, calendars.c.buffer_before, calendars.c.buffer_after)):
        buffers[cal.id] = (cal.buffer_before, cal.buffer_after)
        bind.execute(calendar_hosts.insert().values(calendar_id=cal.id, host_id=first_host, priority=0, position=0))
    rows = bind.execute(
        sa.select(
            bookings.c.id,
            bookings.c.calendar_id,
            bookings.c.start_at,
            bookings.c.end_at,
            bookings.c.status,
            bookings.c.created_at,
        )
    )
    batch = []
    for row in rows:
        before, after = buffers.get(row.calendar_id, (0, 0))
        batch.append(
            {
                "booking_id": row.id,
                "host_id": first_host,
                "calendar_id": row.calendar_id,
                "busy_start": row.start_at - timedelta(minutes=before),
                "busy_end": row.end_at + timedelta(minutes=after),
                "active": row.status == "confirmed",
                "created_at": row.created_at,
            }
        )
        if len(batch) >= 1000:
            bind.execute(booking_hosts.insert(), batch)
            batch = []
    if batch:
        bind.execute(booking_hosts.insert(), batch)


def downgrade():
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.drop_column("assignment")
    op.drop_table("host_busy_blocks")
    op.drop_table("host_connections")
    op.drop_index("ix_booking_hosts_calendar_host", table_name="booking_hosts")
    op.drop_index("ix_booking_hosts_busy", table_name="booking_hosts")
    op.drop_table("booking_hosts")
    op.drop_index("ix_calendar_hosts_host_id", table_name="calendar_hosts")
    op.drop_table("calendar_hosts")
    op.drop_index("ix_host_time_off_host_last", table_name="host_time_off")
    op.drop_table("host_time_off")
    op.drop_index("ix_host_hours_host_id", table_name="host_hours")
    op.drop_table("host_hours")
    op.drop_table("hosts")
