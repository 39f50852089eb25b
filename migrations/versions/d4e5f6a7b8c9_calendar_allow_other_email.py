"""calendars.allow_other_email: a contact's link books with the contact's email unless the calendar allows another

Revision ID: d4e5f6a7b8c9
Revises: b2d3f4a5c6e7
Create Date: 2026-12-02 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd4e5f6a7b8c9'
down_revision = "b2d3f4a5c6e7"
branch_labels = None
depends_on = None


def upgrade():
    # Off for every existing calendar: links made for a contact book with that contact's address.
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('allow_other_email', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.drop_column('allow_other_email')
