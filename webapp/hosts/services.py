"""Rules for hosts: who they are, the host every admin is, their own hours and time off, and
whether one may be deleted. Shared by the host pages and the API; the functions that say so commit."""

from collections.abc import Iterable, Mapping
from datetime import date

from sqlalchemy import select

from webapp.audit import audit
from webapp.auth.models import User
from webapp.extensions import db
from webapp.hosts.models import NAME_MAX, Host, HostHours, HostTimeOff, usage_checks

NOTE_MAX = 200


def email_key(email: str) -> str:
    """The form a host's email is compared in: trimmed, lower-cased."""
    return (email or "").strip().lower()


def email_taken(email: str, exclude_id: int | None = None) -> bool:
    """True when another host already has this email (any case)."""
    query = select(Host.id).where(Host.email_key == email_key(email))
    if exclude_id:
        query = query.where(Host.id != exclude_id)
    return db.session.scalar(query) is not None


def host_for_admin(user: User) -> Host:
    """The host an admin is: theirs if they have one, the host with their email (now linked to them),
    or a new one. Adds to the session; the caller commits."""
    host = db.session.scalar(select(Host).where(Host.user_id == user.id))
    if host is None:
        host = db.session.scalar(select(Host).where(Host.email_key == email_key(user.email)))
        if host is None:
            host = Host(
                name=(user.display_name or user.email)[:NAME_MAX],
                email=user.email,
                email_key=email_key(user.email),
                timezone=user.timezone or "UTC",
            )
            db.session.add(host)
        host.user_id = user.id
        db.session.flush()
    return host


def on_admin_created(user: User, **_) -> Host:
    """events.admin_created: the new admin is a host from the start."""
    return host_for_admin(user)


def create_host(name: str, email: str, timezone: str = "UTC") -> Host:
    """Add a host who does not sign in (or not yet). The caller commits."""
    host = Host(name=name.strip()[:NAME_MAX], email=email.strip(), email_key=email_key(email), timezone=timezone)
    db.session.add(host)
    db.session.flush()
    return host


def add_host(name: str, email: str, timezone: str = "UTC") -> Host:
    """Add a host from validated input, and commit."""
    host = create_host(name, email, timezone)
    db.session.commit()
    audit("host.create", host_id=host.id)
    return host


def update_host(host: Host, changes: Mapping) -> None:
    """Save validated name / email / timezone / is_active, and commit."""
    if "name" in changes:
        host.name = changes["name"].strip()[:NAME_MAX]
    if "email" in changes:
        host.email, host.email_key = changes["email"].strip(), email_key(changes["email"])
    if "timezone" in changes:
        host.timezone = changes["timezone"]
    if "is_active" in changes:
        host.is_active = bool(changes["is_active"])
    db.session.commit()
    audit("host.update", host_id=host.id, fields=",".join(sorted(changes)))


def default_host_id(user_id: int | None = None) -> int | None:
    """The host a new calendar starts with: the signed-in admin's, else the first active admin's."""
    query = select(Host.id).where(Host.is_active.is_(True), Host.user_id.is_not(None))
    if user_id is not None and (own := db.session.scalar(query.where(Host.user_id == user_id))):
        return own
    return db.session.scalar(query.order_by(Host.user_id).limit(1))


# --- own hours and time off ----------------------------------------------------------------------


def set_hours(host: Host, own_hours: bool, weekly: Mapping[int, Iterable[tuple[int, int]]]) -> None:
    """Turn the host's own hours on or off and replace their weekly ranges, and commit."""
    host.own_hours = own_hours
    host.hours = [
        HostHours(weekday=day, start_minute=start, end_minute=end)
        for day, ranges in sorted(weekly.items())
        for start, end in sorted(ranges)
    ]
    host.busy_seq = (host.busy_seq or 0) + 1  # the hours change what the host's calendars offer
    db.session.commit()
    audit("host.hours", host_id=host.id, own_hours=own_hours)


def add_time_off(host: Host, first_day: date, last_day: date, note: str = "") -> HostTimeOff:
    """Add days the host is away (first ≤ last, checked by the form), and commit."""
    if last_day < first_day:
        raise ValueError("last_day before first_day")
    entry = HostTimeOff(host_id=host.id, first_day=first_day, last_day=last_day, note=note.strip()[:NOTE_MAX])
    db.session.add(entry)
    host.busy_seq = (host.busy_seq or 0) + 1
    db.session.commit()
    audit("host.time_off_add", host_id=host.id, time_off_id=entry.id)
    return entry


def remove_time_off(host: Host, time_off_id: int) -> bool:
    """Remove one of the host's time-off entries, and commit; False when it is not theirs (or gone)."""
    entry = db.session.scalar(select(HostTimeOff).where(HostTimeOff.id == time_off_id, HostTimeOff.host_id == host.id))
    if entry is None:
        return False
    db.session.delete(entry)
    host.busy_seq = (host.busy_seq or 0) + 1
    db.session.commit()
    audit("host.time_off_remove", host_id=host.id, time_off_id=time_off_id)
    return True


# --- deactivate or delete ------------------------------------------------------------------------


def in_use(host: Host) -> bool:
    """True when a booking (even cancelled) names the host: it can be deactivated, not deleted."""
    return any(check(host.id) for check in usage_checks)


def delete_or_deactivate(host: Host) -> str:
    """Delete a host nothing refers to, or deactivate one that has bookings; commit. An admin's own host
    is never deleted (every admin is a host)."""
    host_id = host.id
    if host.user_id is not None or in_use(host):
        host.is_active = False
        db.session.commit()
        audit("host.deactivate", host_id=host_id)
        return "deactivated"
    db.session.delete(host)
    db.session.commit()
    audit("host.delete", host_id=host_id)
    return "deleted"
