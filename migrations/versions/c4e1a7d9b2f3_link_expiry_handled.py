"""one_time_links.expiry_handled_at: the worker fires "link expired unused" once per link

Revision ID: c4e1a7d9b2f3
Revises: 21bd15e4426f
Create Date: 2026-11-27 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import webapp.columns


# revision identifiers, used by Alembic.
revision = 'c4e1a7d9b2f3'
down_revision = '21bd15e4426f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('one_time_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiry_handled_at', webapp.columns.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_one_time_links_expiry', ['expiry_handled_at', 'expires_at'], unique=False)
    # Links that expired before this version count as handled: a new "expired" workflow starts from now,
    # not with a flood of old links.
    op.execute(
        "UPDATE one_time_links SET expiry_handled_at = expires_at"
        " WHERE expires_at IS NOT NULL AND expires_at <= CURRENT_TIMESTAMP"
    )


def downgrade():
    with op.batch_alter_table('one_time_links', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_links_expiry')
        batch_op.drop_column('expiry_handled_at')
