"""The hosts page lists hosts by name, a page at a time: an index on (name, id).

Revision ID: 7bda2cad7434
Revises: c4d6e8f0a2b4
"""

from alembic import op

revision = "7bda2cad7434"
down_revision = "c4d6e8f0a2b4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_hosts_name_id", "hosts", ["name", "id"])


def downgrade():
    op.drop_index("ix_hosts_name_id", table_name="hosts")
