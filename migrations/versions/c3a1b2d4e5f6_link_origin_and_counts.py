"""one_time_links say which workflow, enrolment and step made them; link_counts keeps the funnel per hour

Revision ID: c3a1b2d4e5f6
Revises: e2f3a4b5c6d7
Create Date: 2026-12-07 12:00:00.000000

"""
from collections import Counter
from datetime import UTC, datetime

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3a1b2d4e5f6'
down_revision = 'e2f3a4b5c6d7'
branch_labels = None
depends_on = None

# The keys the app wrote into a workflow link's metadata before this revision.
APP_KEYS = ('workflow_id', 'enrolment_id', 'step_id')
STAGES = ('sent', 'opened', 'booked', 'showed')
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
BATCH = 1000

links = sa.table(
    'one_time_links',
    sa.column('id', sa.Integer),
    sa.column('source', sa.String),
    sa.column('metadata', sa.JSON),
    sa.column('created_at', sa.DateTime),
    sa.column('opened_at', sa.DateTime),
    sa.column('used_at', sa.DateTime),
    sa.column('booking_id', sa.Integer),
    sa.column('workflow_id', sa.Integer),
    sa.column('enrolment_id', sa.Integer),
    sa.column('step_id', sa.String),
    sa.column('test_run', sa.Boolean),
)
counts = sa.table('link_counts', *(sa.column(name, sa.Integer) for name in ('workflow_id', 'hour', *STAGES)))


def _id(value):
    """A metadata value that names a row: ASCII digits only (old API clients could write anything)."""
    text = str(value or '')
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def _hour(moment):
    """webapp.booking.counts.hour_of, as of this revision (SQLite hands back naive UTC)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return int((moment - EPOCH).total_seconds() // 3600)


def upgrade():
    op.create_table('link_counts',
    sa.Column('workflow_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('hour', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('opened', sa.Integer(), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.Column('showed', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('workflow_id', 'hour', name=op.f('pk_link_counts'))
    )
    with op.batch_alter_table('link_counts', schema=None) as batch_op:
        batch_op.create_index('ix_link_counts_hour', ['hour'], unique=False)

    with op.batch_alter_table('one_time_links', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.add_column(sa.Column('workflow_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('enrolment_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('step_id', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('test_run', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_foreign_key(
            batch_op.f('fk_one_time_links_workflow_id_workflows'), 'workflows', ['workflow_id'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_foreign_key(
            batch_op.f('fk_one_time_links_enrolment_id_enrolments'), 'enrolments', ['enrolment_id'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_index(batch_op.f('ix_one_time_links_enrolment_id'), ['enrolment_id'], unique=False)
        batch_op.create_index('ix_one_time_links_expires_at', ['expires_at'], unique=False)
        batch_op.create_index('ix_one_time_links_replaced', ['contact_id', 'calendar_id', 'id'], unique=False)
        batch_op.create_index('ix_one_time_links_workflow_created', ['workflow_id', 'created_at'], unique=False)

    _backfill()


def _backfill():
    """Fill the columns and the counts from the metadata the app wrote on workflow links.

    Only source 'workflow' rows are read (an API client could write the same keys on its own links);
    a value that is not a plain number, or names a row that is gone, leaves the column empty. The
    counts follow the metadata's workflow id even when that workflow is gone, so a deleted workflow
    keeps its history on the dashboard, as it did. The app's own keys are then taken out of the
    metadata: they are no longer true (a deleted enrolment's id) nor read, and the API shows the
    metadata as the client's own; a workflow link's metadata held nothing else.
    """
    conn = op.get_bind()
    workflows = set(conn.scalars(sa.text('SELECT id FROM workflows')))
    enrolments = {row.id: row.is_test for row in conn.execute(sa.text('SELECT id, is_test FROM enrolments'))}
    showed = set(conn.scalars(sa.text("SELECT id FROM bookings WHERE attendance = 'showed'")))
    rows = conn.execute(
        sa.select(links.c.id, links.c.metadata, links.c.created_at, links.c.opened_at, links.c.used_at,
                  links.c.booking_id)
        .where(links.c.source == 'workflow')
        .order_by(links.c.id)
    ).all()
    tally = Counter()
    updates = []
    for row in rows:
        meta = row.metadata if isinstance(row.metadata, dict) else {}
        workflow_id, enrolment_id = _id(meta.get('workflow_id')), _id(meta.get('enrolment_id'))
        step_id = str(meta.get('step_id') or '')[:40] or None
        is_test = bool(enrolments.get(enrolment_id, False))
        updates.append({
            'link_id': row.id,
            'workflow_id': workflow_id if workflow_id in workflows else None,
            'enrolment_id': enrolment_id if enrolment_id in enrolments else None,
            'step_id': step_id if workflow_id is not None else None,
            'test_run': is_test,
            'meta': {k: v for k, v in meta.items() if k not in APP_KEYS},
        })
        # As the dashboard counted before: a link whose enrolment is gone counts, a test run's does not.
        if workflow_id is not None and not is_test:
            hour = _hour(row.created_at)
            tally[(workflow_id, hour, 'sent')] += 1
            tally[(workflow_id, hour, 'opened')] += row.opened_at is not None or row.used_at is not None
            tally[(workflow_id, hour, 'booked')] += row.used_at is not None
            tally[(workflow_id, hour, 'showed')] += row.booking_id in showed
    statement = (
        links.update()
        .where(links.c.id == sa.bindparam('link_id'))
        .values(
            workflow_id=sa.bindparam('workflow_id'),
            enrolment_id=sa.bindparam('enrolment_id'),
            step_id=sa.bindparam('step_id'),
            test_run=sa.bindparam('test_run'),
            metadata=sa.bindparam('meta', type_=sa.JSON),
        )
    )
    for start in range(0, len(updates), BATCH):
        conn.execute(statement, updates[start:start + BATCH])
    buckets = {}
    for (workflow_id, hour, stage), n in tally.items():
        buckets.setdefault((workflow_id, hour), {'workflow_id': workflow_id, 'hour': hour, **dict.fromkeys(STAGES, 0)})
        buckets[(workflow_id, hour)][stage] += n
    values = list(buckets.values())
    for start in range(0, len(values), BATCH):
        conn.execute(counts.insert(), values[start:start + BATCH])


def downgrade():
    # Workflow links get their metadata keys back: the code before this revision reads them.
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(links.c.id, links.c.metadata, links.c.workflow_id, links.c.enrolment_id, links.c.step_id)
        .where(links.c.source == 'workflow', links.c.workflow_id.is_not(None))
    ).all()
    statement = links.update().where(links.c.id == sa.bindparam('link_id')).values(
        metadata=sa.bindparam('meta', type_=sa.JSON)
    )
    updates = []
    for row in rows:
        meta = dict(row.metadata) if isinstance(row.metadata, dict) else {}
        meta.update(workflow_id=str(row.workflow_id), step_id=row.step_id or '')
        if row.enrolment_id is not None:
            meta['enrolment_id'] = str(row.enrolment_id)
        updates.append({'link_id': row.id, 'meta': meta})
    for start in range(0, len(updates), BATCH):
        conn.execute(statement, updates[start:start + BATCH])

    with op.batch_alter_table('one_time_links', schema=None, table_kwargs={'sqlite_autoincrement': True}) as batch_op:
        batch_op.drop_index('ix_one_time_links_workflow_created')
        batch_op.drop_index('ix_one_time_links_replaced')
        batch_op.drop_index('ix_one_time_links_expires_at')
        batch_op.drop_index(batch_op.f('ix_one_time_links_enrolment_id'))
        batch_op.drop_constraint(batch_op.f('fk_one_time_links_enrolment_id_enrolments'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_one_time_links_workflow_id_workflows'), type_='foreignkey')
        batch_op.drop_column('test_run')
        batch_op.drop_column('step_id')
        batch_op.drop_column('enrolment_id')
        batch_op.drop_column('workflow_id')

    with op.batch_alter_table('link_counts', schema=None) as batch_op:
        batch_op.drop_index('ix_link_counts_hour')
    op.drop_table('link_counts')
