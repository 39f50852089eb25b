"""Reading connected calendars into busy blocks: the worker's `calendar_sync` source and the refresher a
booking calls (registered with `hosts.busy.add_refresher`).

A sync reads [now − 1 day, now + CALENDAR_SYNC_DAYS] with no database transaction open, then, in one
transaction, replaces the connection's blocks (merged) and bumps the host's busy_seq only when they
changed. A failed sync keeps the previous blocks (hosts.busy applies the stale policy once they are old),
records the error in words and backs off: CALENDAR_SYNC_MINUTES doubled per failure in a row, at most an
hour.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import delete, insert, or_, select, update

from webapp import claims
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts import caldav_read, connections, ics_feed
from webapp.hosts.models import CALDAV, BusyBlock, Connection, Host
from webapp.mail.outbox import worker_id
from webapp.secretbox import SecretUnreadable
from webapp.worker import stopping

logger = logging.getLogger("oneslot.calendar_sync")

MAX_BACKOFF = timedelta(hours=1)
BATCH = 5  # connections read per round of the worker
REFRESH_TIMEOUT = 5.0  # seconds: a booking waits at most this long per connection


@dataclass(frozen=True)
class Result:
    """What a sync did: its status (ok or error), the error in words, and how many busy blocks it keeps."""

    status: str
    error: str
    blocks: int


def _minutes(name: str, default: int) -> int:
    return int(current_app.config.get(name) or default)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def _read(connection: Connection, zone: ZoneInfo, start: datetime, end: datetime, timeout: float):
    """(calendars found or None for a feed, blocks); ReadError in words."""
    try:
        if connection.kind == CALDAV:
            account = connections.account(connection)
            return caldav_read.read(account, list(connection.read_urls or []), zone, start, end, timeout)
        data = ics_feed.fetch(connections.feed_address(connection), timeout)
        return None, ics_feed.busy([data], zone, start, end)
    except SecretUnreadable:
        raise ics_feed.ReadError(
            "the saved password or address can no longer be read (SECRET_KEY changed); enter it again"
        ) from None


def sync_one(connection_id: int, timeout: float | None = None) -> Result | None:
    """Read one connection now and store what was read; None when it no longer exists. Commits."""
    connection = db.session.get(Connection, connection_id)
    host = db.session.get(Host, connection.host_id) if connection else None
    if connection is None or host is None:
        return None
    timeout = timeout or float(current_app.config.get("CALENDAR_TIMEOUT") or 20)
    now = utcnow()
    start, end = now - timedelta(days=1), now + timedelta(days=_minutes("CALENDAR_SYNC_DAYS", 90))
    zone = _zone(host.timezone)
    db.session.commit()  # no transaction stays open while the other server answers
    try:
        found, blocks = _read(connection, zone, start, end, timeout)
    except ics_feed.ReadError as exc:
        return _failed(connection_id, str(exc), now)
    except Exception as exc:  # a bug or a library surprise: recorded, never a traceback with a secret in it
        logger.error("calendar connection %s: unexpected %s while reading", connection_id, type(exc).__name__)
        return _failed(connection_id, "the calendar could not be read (an unexpected error; see the log)", now)
    return _stored(connection_id, found, blocks, now)


def _stored(connection_id: int, found, blocks, now: datetime) -> Result | None:
    """One transaction: the blocks replaced when they changed (busy_seq bumped), the connection marked ok."""
    connection = db.session.get(Connection, connection_id)
    if connection is None:  # removed while it was being read
        return None
    old = db.session.execute(
        select(BusyBlock.start_at, BusyBlock.end_at)
        .where(BusyBlock.connection_id == connection_id)
        .order_by(BusyBlock.start_at)
    ).all()
    if [(s, e) for s, e in old] != blocks:
        db.session.execute(delete(BusyBlock).where(BusyBlock.connection_id == connection_id))
        if blocks:
            db.session.execute(
                insert(BusyBlock),
                [
                    {"connection_id": connection_id, "host_id": connection.host_id, "start_at": s, "end_at": e}
                    for s, e in blocks
                ],
            )
        db.session.execute(update(Host).where(Host.id == connection.host_id).values(busy_seq=Host.busy_seq + 1))
    elif connection.status != "ok":
        # Stale busy time (policy "busy") turns into the real blocks: the host's busy time changed too.
        db.session.execute(update(Host).where(Host.id == connection.host_id).values(busy_seq=Host.busy_seq + 1))
    if found is not None:
        connection.found_calendars = found
        if not connection.write_url and found:
            connection.write_url = found[0]["url"]  # until the admin chooses: bookings go to the first found
    connection.status, connection.error, connection.failures = "ok", "", 0
    connection.last_attempt_at = connection.last_success_at = now
    connection.next_sync_at = now + timedelta(minutes=_minutes("CALENDAR_SYNC_MINUTES", 5))
    connection.locked_until = connection.locked_by = None
    db.session.commit()
    return Result("ok", "", len(blocks))


def _failed(connection_id: int, message: str, now: datetime) -> Result | None:
    """Keep the previous blocks; record the error and back off."""
    db.session.rollback()
    connection = db.session.get(Connection, connection_id)
    if connection is None:
        return None
    logger.warning("calendar connection %s (host %s): sync failed: %s", connection_id, connection.host_id, message)
    connection.failures = (connection.failures or 0) + 1
    every = timedelta(minutes=_minutes("CALENDAR_SYNC_MINUTES", 5))
    connection.next_sync_at = now + min(every * 2 ** min(connection.failures, 12), MAX_BACKOFF)
    connection.status, connection.error = "error", message[:1000]
    connection.last_attempt_at = now
    connection.locked_until = connection.locked_by = None
    kept = db.session.scalar(select(db.func.count()).where(BusyBlock.connection_id == connection_id)) or 0
    db.session.commit()
    return Result("error", message, kept)


def _due(now: datetime):
    return (
        Connection.next_sync_at <= now,
        or_(Connection.locked_until.is_(None), Connection.locked_until < now),
    )


# Connections due for a read (/metrics): the index on next_sync_at answers it.
BACKLOG = claims.Backlog(_due, Connection.next_sync_at)


def calendar_sync(limit: int) -> int:
    """The worker's task source: claim due connections with a lease, read each; returns how many.

    At most BATCH per round: a read may wait CALENDAR_TIMEOUT for a slow server, and the other sources
    (mail first) must not wait for a whole batch of those."""
    now = utcnow()
    lease = {"locked_until": claims.lease_until(now), "locked_by": worker_id()}
    due_first = (Connection.next_sync_at, Connection.id)
    ids = claims.claim(Connection, _due(now), due_first, min(limit, BATCH), lease)
    for connection_id in ids:
        if stopping():  # the worker stops: it releases the rest (worker.run_once)
            break
        sync_one(connection_id)
    return len(ids)


def refresh(host_ids: list[int], max_age: timedelta) -> None:
    """Before a booking: re-read the hosts' connections not read within max_age, with a short timeout.

    Never raises: a server that fails is recorded on its connection and the booking goes on with the busy
    time it has (and the stale policy)."""
    if not host_ids:
        return
    try:
        now = utcnow()
        cutoff = now - max_age
        old = (
            or_(Connection.last_success_at.is_(None), Connection.last_success_at < cutoff),
            or_(Connection.last_attempt_at.is_(None), Connection.last_attempt_at < cutoff),
            or_(Connection.locked_until.is_(None), Connection.locked_until < now),
        )
        ids = list(db.session.scalars(select(Connection.id).where(Connection.host_id.in_(host_ids), *old)))
        if not ids:
            return
        lease = {"locked_until": claims.lease_until(now), "locked_by": worker_id()}
        for connection_id in claims.take(Connection, ids, old, lease):
            sync_one(connection_id, timeout=REFRESH_TIMEOUT)
    except Exception:
        logger.exception("refreshing connected calendars before a booking failed; going on with the cached busy time")
        db.session.rollback()
