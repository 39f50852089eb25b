"""admin_sessions: one row per signed-in browser (key digest only); users.disabled_at

Revision ID: b2d3f4a5c6e7
Revises: e5f6a7b8c9d0
Create Date: 2026-12-01 10:00:00.000000

"""

from alembic import op
import sqlalchemy as sa

import webapp.columns


# revision identifiers, used by Alembic.
revision = "b2d3f4a5c6e7"
down_revision = "e5f6a7b8c9d0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disabled_at", webapp.columns.UTCDateTime(timezone=True), nullable=True))

    op.create_table(
        "admin_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("remember", sa.Boolean(), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("created_at", webapp.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", webapp.columns.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", webapp.columns.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_admin_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_sessions")),
        sa.UniqueConstraint("digest", name=op.f("uq_admin_sessions_digest")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_sessions_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("admin_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_sessions_user_id"))

    op.drop_table("admin_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("disabled_at")
