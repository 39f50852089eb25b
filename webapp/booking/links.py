"""Issue, find, open and revoke one-time links. Consuming one happens in services.book()."""

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import joinedload

from webapp import events, tokens
from webapp.audit import actor, audit
from webapp.booking import counts
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.contacts.models import Contact
from webapp.extensions import db

PURPOSE = "book"
MAX_META_BYTES = 2048


class LinkError(ValueError):
    """A link that cannot be issued as asked; the message says why."""


def check_meta(meta) -> dict[str, str]:
    """Metadata is a flat object of strings, at most 2 KB as JSON."""
    if meta is None:
        return {}
    if not isinstance(meta, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise LinkError("metadata must be a flat object of strings")
    if len(json.dumps(meta, ensure_ascii=False).encode()) > MAX_META_BYTES:
        raise LinkError(f"metadata is larger than {MAX_META_BYTES} bytes")
    return dict(meta)


def issue(
    calendar: Calendar,
    contact: Contact | None,
    *,
    expires_at: datetime | None = None,
    source: str = "admin",
    meta: Mapping[str, str] | None = None,
    flush: bool = True,
    enrolment=None,
    step_id: str | None = None,
    rearm_on_cancel: bool | None = None,
    rearm_on_no_show: bool | None = None,
) -> OneTimeLink:
    """Add a new link to the session (the caller commits, with whatever else belongs to it).

    flush=False leaves the INSERT to the caller's next flush (one for many links), and the audit line
    to issued(link) after it. `enrolment` and `step_id` say which workflow run made the link; the flush
    counts it in the funnel (webapp/booking/counts.py). `rearm_on_cancel` / `rearm_on_no_show`: None takes
    the calendar's choice; either way the link keeps what it was issued with (see rearm())."""
    if calendar.archived_at:
        raise LinkError("This calendar is archived; links can no longer be made for it.")
    if expires_at is not None and expires_at <= utcnow():
        raise LinkError("The expiry must be in the future.")
    salt = tokens.new_salt()
    link = OneTimeLink(
        calendar=calendar,
        contact=contact,
        salt=salt,
        token_digest=tokens.stored_digest(salt),
        expires_at=expires_at,
        source=source,
        meta=check_meta(meta),
        created_by=actor(),
        rearm_on_cancel=calendar.rearm_on_cancel if rearm_on_cancel is None else rearm_on_cancel,
        rearm_on_no_show=calendar.rearm_on_no_show if rearm_on_no_show is None else rearm_on_no_show,
    )
    if enrolment is not None:
        link.workflow_id, link.enrolment_id = enrolment.workflow_id, enrolment.id
        link.step_id, link.test_run = (step_id or None), bool(enrolment.is_test)
    db.session.add(link)
    events.link_issued.send(link)
    if flush:
        db.session.flush()
        issued(link)
    return link


def issued(link: OneTimeLink) -> int:
    """Audit a new link once it has its id (flushed); returns the id."""
    audit("link.issue", link_id=link.id, calendar_id=link.calendar_id, contact_id=link.contact_id)
    return link.id


def url(link: OneTimeLink) -> str | None:
    """The link's absolute URL, rebuilt from its salt and the app's key; None once its key is retired."""
    return tokens.url(PURPOSE, link.salt, link.token_digest)


# Built once: making loader options costs more than running the query.
FIND = (
    select(OneTimeLink)
    .where(OneTimeLink.token_digest == bindparam("digest"))
    .options(joinedload(OneTimeLink.calendar), joinedload(OneTimeLink.contact).lazyload(Contact.tags))
)


def find(token: str) -> OneTimeLink | None:
    """The link a token belongs to, whatever its state; None for an unknown token.

    Its calendar and contact come in the same query: the booking page shows both.
    """
    digest = tokens.lookup_digest(token or "")
    if digest is None:
        return None
    link = db.session.scalar(FIND, {"digest": digest})
    return link if link is not None and tokens.verify(PURPOSE, token, link.salt) else None


def mark_opened(link: OneTimeLink) -> None:
    """Record the first opening and send "link opened" with it; an opening never consumes the link."""
    if link.opened_at is None:
        # Conditional, so two first openings racing keep the earliest time and fire once. used_at comes
        # back from the row as updated (after a racing booking's commit): a used link counts as opened already.
        opened = db.session.execute(
            update(OneTimeLink)
            .where(OneTimeLink.id == link.id, OneTimeLink.opened_at.is_(None))
            .values(opened_at=utcnow())
            .returning(OneTimeLink.used_at, *counts.COLUMNS),
            execution_options={"synchronize_session": False},
        ).first()
        if opened is not None:
            if opened.used_at is None:
                counts.bump(opened, opened=1)
            events.link_opened.send(link)
        db.session.commit()
        db.session.refresh(link)


def revoke(link: OneTimeLink) -> bool:
    """Revoke a link that has not been used; False when it already was used or revoked."""
    result = db.session.execute(
        update(OneTimeLink)
        .where(OneTimeLink.id == link.id, OneTimeLink.used_at.is_(None), OneTimeLink.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    revoked = result.rowcount == 1  # type: ignore[attr-defined]  # DML gives a CursorResult
    if revoked:
        events.link_revoked.send(link)
    db.session.commit()
    db.session.refresh(link)
    if revoked:
        audit("link.revoke", link_id=link.id)
    return revoked


# Why a link may book again: the booking it made was cancelled, or marked a no-show.
CANCELLED, NO_SHOW = "cancelled", "no_show"


def rearm(booking: Booking, why: str) -> bool:
    """Make the link that made `booking` bookable again, when the link says so for `why`; the caller commits.

    Only while the booking is still the link's latest (not booked again since), and never a revoked
    or expired link. The old booking keeps its record (and its link_id); the link keeps pointing at it
    until it books again. One conditional UPDATE: a racing booking or second re-arm cannot double it.
    """
    if booking.link_id is None:
        return False
    allowed = OneTimeLink.rearm_on_cancel if why == CANCELLED else OneTimeLink.rearm_on_no_show
    row = db.session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.id == booking.link_id,
            OneTimeLink.booking_id == booking.id,
            allowed.is_(True),
            OneTimeLink.used_at.is_not(None),
            OneTimeLink.revoked_at.is_(None),
            or_(OneTimeLink.expires_at.is_(None), OneTimeLink.expires_at > utcnow()),
        )
        # The link was opened, if only to book: it keeps counting as opened (counts.py).
        .values(used_at=None, opened_at=func.coalesce(OneTimeLink.opened_at, OneTimeLink.used_at))
        .returning(*counts.COLUMNS),
        execution_options={"synchronize_session": False},
    ).first()
    if row is None:
        return False
    counts.bump(row, booked=-1)
    audit("link.rearm", link_id=booking.link_id, booking_id=booking.id, why=why)
    return True


def disarm(booking: Booking) -> bool:
    """Undo a no-show's re-arm (the attendance was corrected) while the link has not booked again."""
    if booking.link_id is None:
        return False
    row = db.session.execute(
        update(OneTimeLink)
        .where(
            OneTimeLink.id == booking.link_id,
            OneTimeLink.booking_id == booking.id,
            OneTimeLink.rearm_on_no_show.is_(True),
            OneTimeLink.used_at.is_(None),
        )
        .values(used_at=booking.created_at)
        .returning(*counts.COLUMNS),
        execution_options={"synchronize_session": False},
    ).first()
    if row is None:
        return False
    counts.bump(row, booked=1)
    audit("link.disarm", link_id=booking.link_id, booking_id=booking.id)
    return True


def rebook_link(booking: Booking) -> OneTimeLink | None:
    """The link `booking` was made with, when it can book again now (re-armed, not booked since)."""
    # populate_existing: rearm() changed the row behind the session's back (synchronize_session=False).
    link = db.session.get(OneTimeLink, booking.link_id, populate_existing=True) if booking.link_id else None
    return link if link is not None and link.booking_id == booking.id and link.bookable else None


def _salts_of(link_ids: list[int]) -> dict[int, tuple[str, str]]:
    query = select(OneTimeLink.id, OneTimeLink.salt, OneTimeLink.token_digest).where(OneTimeLink.id.in_(link_ids))
    return {row.id: (row.salt, row.token_digest) for row in db.session.execute(query)}


GONE = "(This booking link was withdrawn before this email was sent: please ask the organiser for a new one.)"
tokens.register(PURPOSE, "/book/", _salts_of, GONE)
