"""The funnel counts of workflow links (link_counts), kept in the transaction of each event.

Each event adds to the session's pending changes; they are written as the transaction commits, in
one upsert (so a batch of links costs one statement), and forgotten if it rolls back.

A workflow link counts once it is issued ("sent"), in the UTC hour of its created_at; then "opened"
when first opened or used (a booking needs the page, so a booking without a recorded opening still
counts), "booked" when used, "showed" while its booking is marked showed, and
"marked" while its booking is marked showed or no-show (the meetings that happened and were marked:
the base of the showed rate, so a meeting still ahead does not lower it). Test-run links never count.
The dashboard sums the hours of its window instead of scanning the links; recount() rebuilds the
table from the links and proves the incremental counts right.

The counts are history: deleting a workflow (its links lose their workflow_id) or a calendar (its
links go) leaves them as they were, which is why recount() keeps the rows of deleted workflows.
"""

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Row, Select, delete, event, func, select
from sqlalchemy.dialects import postgresql, sqlite

from webapp.booking.models import Booking, LinkCount, OneTimeLink
from webapp.extensions import Session, db

STAGES = ("sent", "opened", "booked", "showed")
# Every counted column: the stages, and the links whose booking's attendance is marked.
FIELDS = (*STAGES, "marked")
ATTENDED = ("showed", "no_show")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHUNK = 1000
PENDING = "link_counts_pending"
# What bump() reads of a link: RETURNING these from an event's UPDATE saves reading the link again.
COLUMNS = (OneTimeLink.workflow_id, OneTimeLink.test_run, OneTimeLink.created_at)


def hour_of(moment: datetime) -> int:
    """The bucket of a moment: whole hours since 1970-01-01 00:00 UTC."""
    return int((moment - EPOCH).total_seconds() // 3600)


def start_of(hour: int) -> datetime:
    """The first instant of a bucket."""
    return datetime.fromtimestamp(hour * 3600, UTC)


def counted(link) -> bool:
    """A link the funnel follows: made by a workflow, not by a test run (a row or an ORM object)."""
    return link.workflow_id is not None and not link.test_run


def add(connection, changes: Counter) -> None:
    """Add `changes` ({(workflow_id, hour, stage): delta}) to the table: one upsert for all the buckets.

    INSERT … ON CONFLICT DO UPDATE on both databases; each bucket appears once in the statement
    (PostgreSQL refuses to update a row twice in one), in key order.
    """
    rows: dict[tuple[int, int], dict] = {}
    for (workflow_id, hour, stage), delta in sorted(changes.items()):
        if delta:
            row = rows.setdefault(
                (workflow_id, hour), {"workflow_id": workflow_id, "hour": hour, **dict.fromkeys(FIELDS, 0)}
            )
            row[stage] += delta
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    table = LinkCount.__table__
    values = list(rows.values())
    # Chunked only for a recount: SQLite caps the parameters of one statement.
    for start in range(0, len(values), CHUNK):
        statement = dialect.insert(table).values(values[start : start + CHUNK])
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.workflow_id, table.c.hour],
            set_={stage: table.c[stage] + statement.excluded[stage] for stage in FIELDS},
        )
        connection.execute(statement)


def _pending(session) -> Counter:
    """The changes this transaction has made so far, written just before it commits."""
    return session.info.setdefault(PENDING, Counter())


def bump(link, **deltas: int) -> None:
    """Count an event of one link (opened=1, booked=1, showed=-1 …) in the current transaction."""
    if not counted(link):
        return
    hour = hour_of(link.created_at)
    _pending(db.session()).update({(link.workflow_id, hour, stage): n for stage, n in deltas.items()})


def left_behind(booking_id: int | None) -> dict[str, int]:
    """What a link's "showed" and "marked" lose when it moves on from this booking (a re-armed link that
    books again counts its new booking's attendance, as a recount does)."""
    if booking_id is None:
        return {}
    attendance = db.session.scalar(select(Booking.attendance).where(Booking.id == booking_id))
    return {"showed": -int(attendance == "showed"), "marked": -int(attendance in ATTENDED)}


def booking_attendance(booking: Booking, before: str | None, after: str | None) -> None:
    """A booking's attendance changed: its link's "showed" and "marked" follow."""
    showed = (after == "showed") - (before == "showed")
    marked = (after in ATTENDED) - (before in ATTENDED)
    if not showed and not marked:
        return
    link = db.session.execute(select(*COLUMNS).where(OneTimeLink.booking_id == booking.id).limit(1)).first()
    if link is not None:
        bump(link, showed=showed, marked=marked)


def _state_of_new(links: Sequence[OneTimeLink | Row], showed_bookings: set[int], marked_bookings: set[int]) -> Counter:
    """What new links count for as they are: issued links count as sent; rows written with a state
    already (imports, tests) count for it too."""
    changes: Counter = Counter()
    for link in links:
        key = (link.workflow_id, hour_of(link.created_at))
        changes[(*key, "sent")] += 1
        changes[(*key, "opened")] += link.opened_at is not None or link.used_at is not None
        changes[(*key, "booked")] += link.used_at is not None
        changes[(*key, "showed")] += link.booking_id in showed_bookings
        changes[(*key, "marked")] += link.booking_id in marked_bookings
    return changes


@event.listens_for(Session, "after_flush")
def _count_new_links(session, _context) -> None:
    """Every path that makes workflow links (a step, a batch of steps in one INSERT) counts them here."""
    new = [obj for obj in session.new if isinstance(obj, OneTimeLink) and counted(obj)]
    if not new:
        return
    booking_ids = {link.booking_id for link in new if link.booking_id is not None}
    attendance: dict[int, str] = {}
    if booking_ids:
        query = select(Booking.id, Booking.attendance).where(
            Booking.id.in_(booking_ids), Booking.attendance.in_(ATTENDED)
        )
        attendance = dict(session.connection().execute(query).tuples().all())
    showed = {booking_id for booking_id, value in attendance.items() if value == "showed"}
    _pending(session).update(_state_of_new(new, showed, set(attendance)))


@event.listens_for(Session, "before_commit")
def _write_pending(session) -> None:
    """One upsert per transaction, as it commits: a batch of links costs one statement, and the rows of
    link_counts stay locked (PostgreSQL) only for the commit, taken in one order (no deadlock)."""
    session.flush()  # what is still pending (new links) is counted first
    changes = session.info.pop(PENDING, None)
    if changes:
        add(session.connection(), changes)


@event.listens_for(Session, "after_transaction_end")
def _forget_pending(session, transaction) -> None:
    """A rolled back transaction's changes are forgotten with it."""
    if transaction.parent is None:
        session.info.pop(PENDING, None)


def recount(existing: Select) -> None:
    """Rebuild the counts of the workflows that still exist (`existing` selects their ids) from their
    links; the caller commits.

    A deleted workflow's rows stay: its links no longer name it, and its history is the counts.
    """
    db.session.flush()
    db.session.info.pop(PENDING, None)  # what this transaction did is in the links recounted
    links = (
        select(
            OneTimeLink.workflow_id,
            OneTimeLink.created_at,
            OneTimeLink.opened_at,
            OneTimeLink.used_at,
            OneTimeLink.booking_id,
        )
        .where(OneTimeLink.workflow_id.is_not(None), OneTimeLink.test_run.is_(False))
        .execution_options(yield_per=2000)
    )
    marked = select(Booking.id, Booking.attendance).where(Booking.attendance.in_(ATTENDED))
    attendance = dict(db.session.execute(marked).tuples().all())
    showed = {booking_id for booking_id, value in attendance.items() if value == "showed"}
    changes: Counter = Counter()
    for rows in db.session.execute(links).partitions():
        changes.update(_state_of_new(rows, showed, set(attendance)))
    db.session.execute(delete(LinkCount).where(LinkCount.workflow_id.in_(existing)))
    add(db.session.connection(), changes)


def totals(since_hour: int | None = None, workflow_ids=None) -> dict[int, dict[str, int]]:
    """Per workflow, the sums of its buckets (FIELDS) from `since_hour` on (all of them for None)."""
    query = select(LinkCount.workflow_id, *(func.sum(LinkCount.__table__.c[stage]) for stage in FIELDS))
    if since_hour is not None:
        query = query.where(LinkCount.hour >= since_hour)
    if workflow_ids is not None:
        query = query.where(LinkCount.workflow_id.in_(list(workflow_ids)))
    query = query.group_by(LinkCount.workflow_id)
    return {wid: dict(zip(FIELDS, (int(n or 0) for n in numbers))) for wid, *numbers in db.session.execute(query)}
