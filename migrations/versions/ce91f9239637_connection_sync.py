"""connected calendars' sync: the calendars a CalDAV account holds (found_calendars) and the failures in a
row (failures, for the back-off).

Revision ID: ce91f9239637
Revises: 1eb543bf23d8
Create Date: 2026-12-07 14:50:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "ce91f9239637"
down_revision = "1eb543bf23d8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("host_connections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("found_calendars", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("failures", sa.Integer(), nullable=False, server_default=sa.text("0")))


def downgrade():
    with op.batch_alter_table("host_connections", schema=None) as batch_op:
        batch_op.drop_column("failures")
        batch_op.drop_column("found_calendars")
