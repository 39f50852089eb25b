"""link_counts.marked (the base of the dashboard's showed rate); calendars and workflows say which the
demo made (is_demo), so the first-run checklist counts only the admin's own; test-run links left
working get the hour a test link now has

Revision ID: b3d5f7a9c1e2
Revises: a7c4e2f9b1d3
Create Date: 2026-12-07 12:30:00.000000

"""
from collections import Counter
from datetime import UTC, datetime, timedelta

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3d5f7a9c1e2'
down_revision = 'a7c4e2f9b1d3'
branch_labels = None
depends_on = None

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 1000
# What `flask seed-demo` made before this revision, as webapp/workflows/demo.py names it.
DEMO_CALENDAR_SLUG = 'demo-call'
DEMO_WORKFLOW_NAME = 'Send a one-time booking link'
DEMO_TAG = 'book-me'
# webapp.workflows.actions.generate_link.TEST_LINK_MINUTES as of this revision.
TEST_LINK_MINUTES = 60

counts = sa.table(
    'link_counts', sa.column('workflow_id', sa.Integer), sa.column('hour', sa.Integer), sa.column('marked', sa.Integer)
)


def _hour(moment):
    """webapp.booking.counts.hour_of, as of this revision (SQLite hands back naive UTC)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int((moment - EPOCH).total_seconds() // 3600)


def upgrade():
    with op.batch_alter_table('link_counts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('marked', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_demo', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_demo', sa.Boolean(), server_default=sa.false(), nullable=False))
    _count_marked()
    _mark_demo()
    _cap_test_links()


def _count_marked():
    """Each bucket's links whose booking is marked showed or no-show (only those links are read)."""
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT l.workflow_id, l.created_at FROM one_time_links l JOIN bookings b ON b.id = l.booking_id"
        " WHERE l.workflow_id IS NOT NULL AND l.test_run = :no AND b.attendance IN ('showed', 'no_show')"
    ), {'no': False}).all()
    tally = Counter((row.workflow_id, _hour(row.created_at)) for row in rows)
    statement = (
        counts.update()
        .where(counts.c.workflow_id == sa.bindparam('wid'), counts.c.hour == sa.bindparam('h'))
        .values(marked=sa.bindparam('n'))
    )
    values = [{'wid': wid, 'h': hour, 'n': n} for (wid, hour), n in sorted(tally.items())]
    for start in range(0, len(values), BATCH):
        conn.execute(statement, values[start:start + BATCH])


def _mark_demo():
    """The demo calendar (its slug) and the demo workflow (its name, on the demo's tag) were the demo's."""
    conn = op.get_bind()
    conn.execute(sa.text('UPDATE calendars SET is_demo = :yes WHERE slug = :slug'),
                 {'yes': True, 'slug': DEMO_CALENDAR_SLUG})
    workflows = sa.table('workflows', sa.column('id', sa.Integer), sa.column('name', sa.String),
                         sa.column('trigger_type', sa.String), sa.column('trigger_config', sa.JSON),
                         sa.column('is_demo', sa.Boolean))
    rows = conn.execute(sa.select(workflows.c.id, workflows.c.trigger_type, workflows.c.trigger_config)
                        .where(workflows.c.name == DEMO_WORKFLOW_NAME)).all()
    ids = [row.id for row in rows if row.trigger_type == 'tag_added'
           and isinstance(row.trigger_config, dict) and row.trigger_config.get('tag') == DEMO_TAG]
    if ids:
        conn.execute(workflows.update().where(workflows.c.id.in_(ids)).values(is_demo=True))


def _moment(value):
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _cap_test_links():
    """A test run's links work TEST_LINK_MINUTES after they were made: the unused ones already made
    (which never expired, or later) get that expiry; the older ones are then expired, like any."""
    conn = op.get_bind()
    links = sa.table('one_time_links', sa.column('id', sa.Integer), sa.column('created_at', sa.DateTime),
                     sa.column('expires_at', sa.DateTime), sa.column('used_at', sa.DateTime),
                     sa.column('revoked_at', sa.DateTime), sa.column('test_run', sa.Boolean))
    rows = conn.execute(
        sa.select(links.c.id, links.c.created_at, links.c.expires_at)
        .where(links.c.test_run.is_(True), links.c.used_at.is_(None), links.c.revoked_at.is_(None))
    ).all()
    updates = []
    for row in rows:
        cap = _moment(row.created_at) + timedelta(minutes=TEST_LINK_MINUTES)
        if row.expires_at is None or _moment(row.expires_at) > cap:
            # Stored as the app stores times: naive UTC on SQLite, aware on PostgreSQL.
            value = cap if conn.dialect.name == 'postgresql' else cap.replace(tzinfo=None)
            updates.append({'link_id': row.id, 'cap': value})
    statement = links.update().where(links.c.id == sa.bindparam('link_id')).values(expires_at=sa.bindparam('cap'))
    for start in range(0, len(updates), BATCH):
        conn.execute(statement, updates[start:start + BATCH])


def downgrade():
    # The test links' shorter expiry stays: it is what they should have had.
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.drop_column('is_demo')
    with op.batch_alter_table('calendars', schema=None) as batch_op:
        batch_op.drop_column('is_demo')
    with op.batch_alter_table('link_counts', schema=None) as batch_op:
        batch_op.drop_column('marked')
