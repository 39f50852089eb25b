"""step_runs.insert_sentinel: lets the engine insert a batch's step runs in one INSERT … RETURNING on SQLite

Revision ID: e7a3c5d1f9b2
Revises: c4e1a7d9b2f3
Create Date: 2026-11-24 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a3c5d1f9b2'
down_revision = 'c4e1a7d9b2f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('step_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('insert_sentinel', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('step_runs', schema=None) as batch_op:
        batch_op.drop_column('insert_sentinel')
