"""admin time zone: users.timezone (NULL until the admin sets one; pages then show UTC and propose the browser's)

Revision ID: a7c4e2f9b1d3
Revises: f1e2d3c4b5a6
Create Date: 2026-12-07 12:30:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "a7c4e2f9b1d3"
down_revision = "f1e2d3c4b5a6"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("timezone")
