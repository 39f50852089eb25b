"""booking uid and sequence (iCalendar), booking.link_id, re-arm after cancel / no-show on calendars and links

Revision ID: a9c4e7b2d1f0
Revises: a7c4e9b2d1f3
Create Date: 2026-12-07 12:00:00.000000

"""

import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a9c4e7b2d1f0"
down_revision = "a7c4e9b2d1f3"
branch_labels = None
depends_on = None

UID_DOMAIN = "oneslot"  # webapp.booking.models.UID_DOMAIN, as it was when this was written
# A table rebuilt by batch mode on SQLite keeps AUTOINCREMENT: ids are never given again after a delete.
AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade():
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rearm_on_cancel", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("rearm_on_no_show", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("one_time_links", schema=None, table_kwargs=AUTOINCREMENT) as batch_op:
        batch_op.add_column(sa.Column("rearm_on_cancel", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("rearm_on_no_show", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("bookings", schema=None, table_kwargs=AUTOINCREMENT) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("sequence", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch_op.add_column(sa.Column("link_id", sa.Integer(), nullable=True))
    # Existing bookings get random UIDs (their old ones, booking-<id>@<host>, were neither unique nor stored),
    # and the link that made them, where it still points at them.
    bookings = sa.table("bookings", sa.column("id", sa.Integer), sa.column("uid", sa.String))
    connection = op.get_bind()
    ids = list(connection.scalars(sa.select(bookings.c.id).where(bookings.c.uid.is_(None))))
    for start in range(0, len(ids), 500):
        connection.execute(
            bookings.update().where(bookings.c.id == sa.bindparam("b_id")).values(uid=sa.bindparam("b_uid")),
            [{"b_id": i, "b_uid": f"{uuid.uuid4()}@{UID_DOMAIN}"} for i in ids[start : start + 500]],
        )
    op.execute(
        "UPDATE bookings SET link_id = (SELECT MIN(one_time_links.id) FROM one_time_links"
        " WHERE one_time_links.booking_id = bookings.id)"
    )
    with op.batch_alter_table("bookings", schema=None, table_kwargs=AUTOINCREMENT) as batch_op:
        batch_op.alter_column("uid", existing_type=sa.String(length=255), nullable=False)
        batch_op.create_index("ix_bookings_uid", ["uid"], unique=True)
        batch_op.create_index("ix_bookings_link_id", ["link_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_bookings_link_id_one_time_links", "one_time_links", ["link_id"], ["id"], ondelete="SET NULL"
        )


def downgrade():
    with op.batch_alter_table("bookings", schema=None, table_kwargs=AUTOINCREMENT) as batch_op:
        batch_op.drop_constraint("fk_bookings_link_id_one_time_links", type_="foreignkey")
        batch_op.drop_index("ix_bookings_link_id")
        batch_op.drop_index("ix_bookings_uid")
        batch_op.drop_column("link_id")
        batch_op.drop_column("sequence")
        batch_op.drop_column("uid")
    with op.batch_alter_table("one_time_links", schema=None, table_kwargs=AUTOINCREMENT) as batch_op:
        batch_op.drop_column("rearm_on_no_show")
        batch_op.drop_column("rearm_on_cancel")
    with op.batch_alter_table("calendars", schema=None) as batch_op:
        batch_op.drop_column("rearm_on_no_show")
        batch_op.drop_column("rearm_on_cancel")
