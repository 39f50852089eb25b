"""webhook secrets at rest: the inbound URL's secret becomes a digest, outgoing signing secrets are sealed

Revision ID: a1c2e3f4b5d6
Revises: d4e5f6a7b8c9
Create Date: 2026-12-07 10:00:00.000000

"""
import hashlib
import secrets

from alembic import op
import sqlalchemy as sa
from flask import current_app


# revision identifiers, used by Alembic.
revision = 'a1c2e3f4b5d6'
down_revision = 'd4e5f6a7b8c9'
branch_labels = None
depends_on = None

# webapp.workflows.actions.webhook.PURPOSE as of this revision: the key derivation's label.
PURPOSE = "webhook signing secret"


def _walk(steps):
    """Every step of a tree (if/else branches included)."""
    for step in steps or []:
        if isinstance(step, dict):
            yield step
            for branch in (step.get("branches") or {}).values():
                yield from _walk(branch)


def _convert_steps(table, convert):
    """Rewrite each row's outgoing webhook secrets with `convert`; rows without one are not touched."""
    conn = op.get_bind()
    for row_id, steps in conn.execute(sa.select(table.c.id, table.c.steps)).all():
        changed = False
        for step in _walk(steps):
            config = step.get("config")
            if step.get("type") == "webhook" and isinstance(config, dict) and config.get("secret"):
                new = convert(config["secret"])
                if new != config["secret"]:
                    config["secret"] = new
                    changed = True
        if changed:
            conn.execute(table.update().where(table.c.id == row_id).values(steps=steps))


def _step_tables():
    return [
        sa.table(name, sa.column('id', sa.Integer), sa.column('steps', sa.JSON))
        for name in ('workflows', 'workflow_versions')
    ]


def upgrade():
    from webapp import secretbox

    # Inbound: keep only the SHA-256 of each secret; the URLs already handed out keep working.
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_digest', sa.String(length=64), nullable=True))
    workflows = sa.table(
        'workflows', sa.column('id', sa.Integer), sa.column('webhook_secret'), sa.column('webhook_digest')
    )
    conn = op.get_bind()
    for row_id, secret in conn.execute(sa.select(workflows.c.id, workflows.c.webhook_secret)).all():
        digest = hashlib.sha256(secret.encode()).hexdigest() if secret else None
        conn.execute(workflows.update().where(workflows.c.id == row_id).values(webhook_digest=digest))
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.drop_column('webhook_secret')

    # Outgoing: seal each plaintext signing secret (drafts and published versions) under SECRET_KEY.
    key = current_app.config["SECRET_KEY"]

    def seal(value):
        return value if secretbox.is_sealed(value) else secretbox.seal(value, PURPOSE, secret_key=key)

    for table in _step_tables():
        _convert_steps(table, seal)


def downgrade():
    from webapp import secretbox

    # Outgoing signing secrets back in clear (one no current or fallback key opens is left as it is).
    def unseal(value):
        if not secretbox.is_sealed(value):
            return value
        try:
            return secretbox.unseal(value, PURPOSE)
        except secretbox.SecretUnreadable:
            return value

    for table in _step_tables():
        _convert_steps(table, unseal)

    # A digest cannot be turned back into its secret: every workflow gets a new inbound URL.
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_secret', sa.String(length=64), nullable=True))
    workflows = sa.table('workflows', sa.column('id', sa.Integer), sa.column('webhook_secret'))
    conn = op.get_bind()
    for (row_id,) in conn.execute(sa.select(workflows.c.id)).all():
        conn.execute(
            workflows.update().where(workflows.c.id == row_id).values(webhook_secret=secrets.token_urlsafe(24))
        )
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.alter_column('webhook_secret', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('webhook_digest')
