"""A calendar's hosts as the slot engine reads them: their settings (a snapshot that can be a cache key)
and their busy time around a span.

Busy time of hosts has three sources: their bookings, which the booking feature gives through a provider
registered at start-up (add_host_busy_source, like calendars.models.add_busy_source); their connected
calendars (hosts.busy.external, with the stale policy); their time off and own hours (HostSettings)."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from webapp.calendars.availability import Busy, HostTime
from webapp.extensions import db
from webapp.hosts import busy as host_busy
from webapp.hosts.models import CalendarHost, Host, HostHours, HostTimeOff


@dataclass(frozen=True)
class HostSettings:
    """What a calendar's slots depend on of one of its hosts, besides their busy time itself. busy_seq
    stands for that busy time (bumped by every change of it), so a tuple of these is a cache key."""

    id: int
    busy_seq: int
    timezone: str
    own_hours: bool
    hours: tuple[tuple[int, int, int], ...] = ()  # (weekday, start, end) in the host's zone, when own_hours
    time_off: tuple[tuple[date, date], ...] = ()  # (first_day, last_day), those ending on or after `since`

    def weekly(self) -> dict[int, list[tuple[int, int]]] | None:
        """The own hours as the engine takes them; None when the calendar's hours alone apply."""
        if not self.own_hours:
            return None
        weekly: dict[int, list[tuple[int, int]]] = {}
        for weekday, start, end in self.hours:
            weekly.setdefault(weekday, []).append((start, end))
        return weekly


def read_settings(calendar_id: int, since: date) -> tuple[HostSettings, ...]:
    """The calendar's hosts in its order, with their hours and the time off that ends on or after `since`."""
    rows = db.session.execute(
        select(Host.id, Host.busy_seq, Host.timezone, Host.own_hours)
        .join(CalendarHost, CalendarHost.host_id == Host.id)
        .where(CalendarHost.calendar_id == calendar_id)
        .order_by(CalendarHost.position, CalendarHost.host_id)
    ).all()
    if not rows:
        return ()
    ids = [row.id for row in rows]
    hours: dict[int, list] = {}
    own = [row.id for row in rows if row.own_hours]
    if own:
        query = select(HostHours.host_id, HostHours.weekday, HostHours.start_minute, HostHours.end_minute)
        for host_id, *hour in db.session.execute(query.where(HostHours.host_id.in_(own))):
            hours.setdefault(host_id, []).append(tuple(hour))
    off: dict[int, list] = {}
    days = select(HostTimeOff.host_id, HostTimeOff.first_day, HostTimeOff.last_day)
    for host_id, first, last in db.session.execute(
        days.where(HostTimeOff.host_id.in_(ids), HostTimeOff.last_day >= since)
    ):
        off.setdefault(host_id, []).append((first, last))
    return tuple(
        settings(row.id, row.busy_seq, row.timezone, row.own_hours, hours.get(row.id, ()), off.get(row.id, ()))
        for row in rows
    )


def settings(host_id, busy_seq, timezone, own_hours, hours: Iterable = (), time_off: Iterable = ()) -> HostSettings:
    """A HostSettings with its hours and time off in a canonical order (equal settings, equal keys)."""
    return HostSettings(
        id=host_id,
        busy_seq=busy_seq,
        timezone=timezone or "UTC",
        own_hours=bool(own_hours),
        hours=tuple(sorted(hours)) if own_hours else (),
        time_off=tuple(sorted(time_off)),
    )


# Hosts' bookings come from booking, which registers a source at start-up:
# source(calendar_id, host_ids, start, end, exclude_booking_id, own) -> (host_id, start, end, on_this) rows:
# every active booking of those hosts on OTHER calendars that touches [start, end), as (busy_start,
# busy_end) widened by that calendar's buffers (on_this False); with `own`, also this calendar's
# confirmed bookings by host, as (start_at, end_at), host None for one without a host (on_this True).
HostBusySource = Callable[
    [int, Sequence[int], datetime, datetime, int | None, bool],
    Iterable[tuple[int | None, datetime, datetime, bool]],
]
_sources: list[HostBusySource] = []


def add_host_busy_source(source: HostBusySource) -> None:
    """Make source's bookings part of every host's busy time (once, however many apps are built)."""
    if source not in _sources:
        _sources.append(source)


def host_times(
    calendar_id: int,
    hosts: Sequence[HostSettings],
    start: datetime,
    end: datetime,
    exclude_booking_id: int | None,
    round_robin: bool,
    now: datetime | None = None,
) -> tuple[list[HostTime], list[Busy]]:
    """The hosts' time around [start, end) for the engine, and (round robin) this calendar's bookings
    without a host."""
    ids = [host.id for host in hosts]
    busy: dict[int, list[tuple[datetime, datetime]]] = {host_id: [] for host_id in ids}
    mine: dict[int, list[Busy]] = {host_id: [] for host_id in ids}
    unassigned: list[Busy] = []
    for source in _sources:
        for host_id, s, e, on_this in source(calendar_id, ids, start, end, exclude_booking_id, round_robin):
            if host_id is None:
                unassigned.append(Busy(s, e))
            elif not on_this:
                busy[host_id].append((s, e))
            elif host_id in mine:
                mine[host_id].append(Busy(s, e))
    for host_id, blocks in host_busy.external(ids, start, end, now).items():
        busy[host_id].extend(blocks)
    times = [
        HostTime(
            id=host.id,
            timezone=host.timezone,
            busy=busy[host.id],
            time_off=host.time_off,
            hours=host.weekly(),
            bookings=mine[host.id],
        )
        for host in hosts
    ]
    return times, unassigned
