"""admin time zone: users.timezone (NULL until the admin sets one; pages then show UTC and propose the browser's)

Revision ID: a7c4e2f9b1d3
Revises: a9c4e7b2d1f0
Create Date: 2026-12-07 12:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a7c4e2f9b1d3"
down_revision = "a9c4e7b2d1f0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("timezone")
