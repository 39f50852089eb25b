"""Who the meeting is with, as invitees read it: a calendar's hosts on the booking page, a booking's on
its confirmation, in its mail and its .ics.

The booking page is pre-rendered (prerender.py): a calendar's Team is part of the shell's cache key,
read fresh on every request (read(), one indexed query), so a renamed host, a new photo or another
host leads to a new key. Photos are served by the hosts' pages at /hosts/<id>/photo/<version>
(version 0: no photo, the initials in a circle instead); the path is built here rather than with
url_for, because the route belongs to the hosts' admin pages and the booking page must render
without them.
"""

from dataclasses import dataclass

from babel.lists import format_list
from flask import request
from sqlalchemy import bindparam, select

from webapp import i18n
from webapp.extensions import db
from webapp.hosts.models import COLLECTIVE, ROUND_ROBIN, CalendarHost, Host
from webapp.text import one_line


@dataclass(frozen=True)
class Member:
    """A host as an invitee sees them: a name and a photo (or initials)."""

    id: int
    name: str
    photo_version: int

    @property
    def initials(self) -> str:
        """'Sam Rivera' → 'SR': the first letters of the first and last words."""
        words = self.name.split()
        if not words:
            return "?"
        letters = words[0][:1] + (words[-1][:1] if len(words) > 1 else "")
        return letters.upper()

    @property
    def photo_path(self) -> str:
        """The photo's URL path ('' without a photo): a new photo, a new path (long cached)."""
        if not self.photo_version:
            return ""
        return f"{request.script_root}/hosts/{self.id}/photo/{self.photo_version}"


@dataclass(frozen=True)
class Team:
    """A calendar's way of assigning and its active hosts, in the admin's order."""

    assignment: str
    members: tuple[Member, ...]

    @property
    def round_robin(self) -> bool:
        return self.assignment == ROUND_ROBIN and bool(self.members)

    @property
    def shown(self) -> tuple[Member, ...]:
        """The faces the booking page shows: every host of a collective calendar, the single host, or
        none for round robin (the host is chosen when booking)."""
        if self.assignment == ROUND_ROBIN:
            return ()
        return self.members if self.assignment == COLLECTIVE else self.members[:1]

    def names(self) -> str:
        """'Sam Rivera and Ada Lovelace', in the current locale."""
        return join_names([m.name for m in self.shown])


def join_names(names: list[str]) -> str:
    """Names as a sentence lists them in the current locale ('A, B and C'); '' for none."""
    return format_list(names, locale=i18n.locale_name()) if names else ""


# Built once: the booking page reads it on every request (a Core statement, no ORM per call).
_TEAM = (
    select(Host.__table__.c.id, Host.__table__.c.name, Host.__table__.c.photo_version)
    .join(CalendarHost.__table__, CalendarHost.__table__.c.host_id == Host.__table__.c.id)
    .where(CalendarHost.__table__.c.calendar_id == bindparam("calendar_id"), Host.__table__.c.is_active.is_(True))
    .order_by(CalendarHost.__table__.c.position, CalendarHost.__table__.c.host_id)
)


def read(calendar_id: int, assignment: str) -> Team:
    """The calendar's Team, fresh from the database (calendar_hosts' primary key leads with calendar_id)."""
    if db.session.autoflush:
        db.session.flush()  # as session.execute() would; a no-op unless something is pending
    rows = db.session.connection().execute(_TEAM, {"calendar_id": calendar_id}).all()
    return Team(assignment, tuple(Member(row.id, row.name, row.photo_version or 0) for row in rows))


def mailable(host: Host | None) -> bool:
    """Whether the host's stored address can go in a header or an .ics as it is (checked when saved;
    one stored otherwise is left out, never the mail or the booking)."""
    email = host.email if host is not None else ""
    return "@" in email and one_line(email) == email and " " not in email


def booking_hosts(booking) -> list[Host]:
    """The booking's hosts, the organiser (Booking.host) first."""
    return list(booking.hosts)


def booking_names(booking) -> str:
    """'Sam Rivera' or 'Sam Rivera and Ada Lovelace': whom the booking is with ('' for none)."""
    return join_names([host.name for host in booking_hosts(booking)])
