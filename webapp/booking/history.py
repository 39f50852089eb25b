"""Who changed a booking, and what: the actor every booking service takes, and the history it writes.

Every service in services.py that changes a booking (book, move, cancel, attendance, resend) adds
one BookingChange in its own transaction, so the history is exactly what happened, never a guess.
The actor also names who acted in the mails: "cancelled by Sam Rivera (organiser)", "moved by you".
"""

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext
from sqlalchemy import select

from webapp.booking.models import Booking, BookingChange
from webapp.clock import utcnow
from webapp.extensions import db

INVITEE, ADMIN, API, SYSTEM = "invitee", "admin", "api", "system"
KINDS = (INVITEE, ADMIN, API, SYSTEM)
# What the history calls each change (the kind stored in booking_changes.kind).
BOOKED, MOVED, CANCELLED, ATTENDANCE, RESENT = "booked", "moved", "cancelled", "attendance", "resent"
# A booking's page shows at most this many changes (a booking has a handful; a looping script could add more).
PAGE_LIMIT = 100


@dataclass(frozen=True)
class Actor:
    """Who acts on a booking: the invitee, an admin (user_id), an API key (key_id) or OneSlot itself."""

    kind: str
    name: str = ""
    user_id: int | None = None
    key_id: int | None = None

    @classmethod
    def invitee(cls, name: str = "") -> "Actor":
        """The person who booked, by the name they gave."""
        return cls(INVITEE, name)

    @classmethod
    def admin(cls, user) -> "Actor":
        """A signed-in admin (a webapp.auth.models.User)."""
        return cls(ADMIN, user.display_name, user_id=user.id)

    @classmethod
    def api_key(cls, key) -> "Actor":
        """A system calling the JSON API with a key (a webapp.api.models.ApiKey)."""
        return cls(API, f"API key {key.name}", key_id=key.id)

    @classmethod
    def system(cls) -> "Actor":
        """OneSlot itself (the worker, a command)."""
        return cls(SYSTEM, "OneSlot")

    @classmethod
    def of(cls, value: "Actor | str | None", booking: Booking | None = None) -> "Actor":
        """An Actor from what callers pass: an Actor, a kind ("invitee", "admin"), or None (the invitee)."""
        if isinstance(value, Actor):
            return value
        kind = value if value in KINDS else INVITEE
        if kind == INVITEE:
            return cls.invitee(booking.name if booking is not None else "")
        return cls(kind, "OneSlot" if kind == SYSTEM else "")

    def for_invitee(self) -> str:
        """Who acted, as the invitee reads it: "you", "Sam Rivera (organiser)", "the organiser"."""
        if self.kind == INVITEE:
            return gettext("you")
        if self.kind == ADMIN and self.name:
            return gettext("%(name)s (organiser)", name=self.name)
        return gettext("the organiser")

    def for_admin(self, is_you: bool = False) -> str:
        """Who acted, as an admin reads it: "you" for the admin who acted, else a name and a role."""
        if is_you:
            return "you"
        if self.kind == INVITEE:
            return f"{self.name} (invitee)" if self.name else "the invitee"
        if self.kind == ADMIN:
            return f"{self.name} (organiser)" if self.name else "an organiser"
        return self.name or "OneSlot"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def record(booking: Booking, kind: str, actor: Actor, **details) -> BookingChange:
    """Add one change to the session (the calling service commits it with the change itself)."""
    clean = {key: _iso(value) if isinstance(value, datetime) else value for key, value in details.items()}
    change = BookingChange(
        booking_id=booking.id,
        at=utcnow(),
        kind=kind,
        actor_kind=actor.kind,
        actor_name=actor.name[:200],
        actor_user_id=actor.user_id,
        actor_key_id=actor.key_id,
        details={key: value for key, value in clean.items() if value not in (None, "")},
    )
    db.session.add(change)
    return change


def changes_of(booking_id: int, limit: int = PAGE_LIMIT) -> list[BookingChange]:
    """A booking's history, newest first (at most `limit` changes)."""
    query = (
        select(BookingChange)
        .where(BookingChange.booking_id == booking_id)
        .order_by(BookingChange.at.desc(), BookingChange.id.desc())
        .limit(limit)
    )
    return list(db.session.scalars(query))
