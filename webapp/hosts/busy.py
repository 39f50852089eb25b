"""Hosts' busy time from their connected calendars, as the slot engine's callers read it.

The worker keeps `host_busy_blocks` fresh (a connection's sync replaces its blocks); these functions
only read. A connection whose last good sync is older than STALE_AFTER is stale: its `stale_policy`
decides whether the whole asked span counts as busy ("busy") or its blocks are ignored ("ignore")."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts.models import STALE_BUSY, BusyBlock, Connection

DEFAULT_STALE_AFTER = timedelta(hours=6)


def stale_after() -> timedelta:
    """How old a connection's last good sync may be before its busy time is stale (CALENDAR_STALE_AFTER_MINUTES)."""
    minutes = current_app.config.get("CALENDAR_STALE_AFTER_MINUTES")
    return timedelta(minutes=minutes) if minutes else DEFAULT_STALE_AFTER


def is_stale(connection: Connection, now: datetime | None = None) -> bool:
    """True when the connection has no good sync within stale_after()."""
    last = connection.last_success_at
    return last is None or last < (now or utcnow()) - stale_after()


def external(
    host_ids: Iterable[int], start: datetime, end: datetime, now: datetime | None = None
) -> dict[int, list[tuple[datetime, datetime]]]:
    """{host_id: [(start, end), …]}: the hosts' busy time from their connected calendars touching [start, end)."""
    host_ids = sorted(set(host_ids))
    found: dict[int, list[tuple[datetime, datetime]]] = {host_id: [] for host_id in host_ids}
    if not host_ids:
        return found
    now = now or utcnow()
    connections = db.session.execute(
        select(Connection.id, Connection.host_id, Connection.last_success_at, Connection.stale_policy).where(
            Connection.host_id.in_(host_ids)
        )
    ).all()
    if not connections:
        return found
    cutoff = now - stale_after()
    ignored = set()
    for conn_id, host_id, last_success_at, policy in connections:
        if last_success_at is None or last_success_at < cutoff:
            ignored.add(conn_id)
            if policy == STALE_BUSY:
                found[host_id].append((start, end))
    rows = db.session.execute(
        select(BusyBlock.connection_id, BusyBlock.host_id, BusyBlock.start_at, BusyBlock.end_at).where(
            BusyBlock.host_id.in_(host_ids), BusyBlock.end_at > start, BusyBlock.start_at < end
        )
    )
    for conn_id, host_id, block_start, block_end in rows:
        if conn_id not in ignored:
            found[host_id].append((block_start, block_end))
    return found


# Fresh reads before a booking: the connections feature registers a refresher at start-up
# (refresher(host_ids, max_age) re-reads connections whose last sync is older than max_age).
_refreshers: list = []


def add_refresher(refresher) -> None:
    """Make refresher(host_ids, max_age) part of refresh_if_older()."""
    if refresher not in _refreshers:
        _refreshers.append(refresher)


def refresh_if_older(host_ids: Iterable[int], max_age: timedelta = timedelta(minutes=1)) -> None:
    """Before a booking: re-read the hosts' connected calendars whose busy time is older than max_age."""
    host_ids = list(host_ids)
    for refresher in _refreshers:
        refresher(host_ids, max_age)
