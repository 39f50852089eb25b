"""The worker's "link_expiry" task source: send "link expired" (webapp.events) once per link.

A link whose expiry passed and that this task has not handled yet is marked handled and, when it was
neither used nor revoked, the event is sent (the triggers enrol), in ONE transaction: a crash rolls both
back, and the next run does it again. Used and revoked links are marked too, so the query stays small;
so are a test run's links, which enrol no one (a test must not move real contacts into other workflows).
Several workers: FOR UPDATE SKIP LOCKED on PostgreSQL (each takes other links); on SQLite each link
is taken by a conditional UPDATE whose row count decides (as in webapp/claims.py).
"""

import logging
from datetime import datetime

from sqlalchemy import select, update

from webapp import claims, events
from webapp.booking.models import OneTimeLink
from webapp.clock import utcnow
from webapp.extensions import db

logger = logging.getLogger("oneslot.workflows")


def _due(now: datetime):
    return (
        OneTimeLink.expiry_handled_at.is_(None),
        OneTimeLink.expires_at.is_not(None),
        OneTimeLink.expires_at <= now,
    )


# Expired links not handled yet (/metrics): the index (expiry_handled_at, expires_at) answers it.
BACKLOG = claims.Backlog(_due, OneTimeLink.expires_at)


def _fire(link_id: int) -> bool:
    """Send "link expired" for a link just marked handled, unless it was used, revoked or made by a test
    run; True when sent."""
    link = db.session.get(OneTimeLink, link_id, populate_existing=True)
    if link is None or link.used_at is not None or link.revoked_at is not None or link.test_run:
        return False
    enrolled = sum(len(made or ()) for _receiver, made in events.link_expired.send(link))
    logger.info("link expired unused link_id=%s enrolments=%d", link_id, enrolled)
    return True


def handle_expired(limit: int = 10, now: datetime | None = None) -> int:
    """The task source: handle up to `limit` links whose expiry passed; returns how many were handled."""
    now = now or utcnow()
    query = select(OneTimeLink.id).where(*_due(now)).order_by(OneTimeLink.expires_at, OneTimeLink.id).limit(limit)
    if db.session.get_bind().dialect.name == "postgresql":
        ids = list(db.session.scalars(query.with_for_update(skip_locked=True)))
        if ids:
            _mark(ids, now)
            for link_id in ids:
                _fire(link_id)
        db.session.commit()
        return len(ids)
    candidates = list(db.session.scalars(query))
    db.session.commit()  # end the read, so each UPDATE below starts its own write
    handled = 0
    for link_id in candidates:
        if _mark([link_id], now) == 1:
            _fire(link_id)
            handled += 1
        db.session.commit()
    return handled


def _mark(ids: list[int], now: datetime) -> int:
    """Mark links handled (only those still due); returns how many this call marked."""
    result = db.session.execute(
        update(OneTimeLink).where(OneTimeLink.id.in_(ids), claims.recheck(*_due(now))).values(expiry_handled_at=now),
        execution_options={"synchronize_session": False},
    )
    return result.rowcount  # type: ignore[attr-defined]  # DML gives a CursorResult
