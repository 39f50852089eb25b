"""One-time booking links."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.calendars.models import Booking, Calendar
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.types import UTCDateTime, utcnow

STATUSES = ("active", "opened", "used", "expired", "revoked")


class OneTimeLink(db.Model):
    """A personal link that books one slot on one calendar, once.

    The URL token is the salt's handle and an HMAC over it (see webapp/tokens.py); the key is never stored.
    """

    __tablename__ = "one_time_links"
    # The expiry task's query: links whose expiry passed and that it has not handled yet. AUTOINCREMENT:
    # SQLite would otherwise give a deleted link's id to the next one, and a queued mail naming it a stranger's.
    __table_args__ = (
        Index("ix_one_time_links_expiry", "expiry_handled_at", "expires_at"),
        # A contact's links on a calendar, newest first (Generate One-Time Booking Link's "active link
        # already there?"): without it SQLite read them through the calendar's index, every link of the
        # calendar for each new one, so issuing N links cost N².
        Index("ix_one_time_links_contact_calendar", "contact_id", "calendar_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("calendars.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    salt: Mapped[str] = mapped_column(String(32))
    # Also the sentinel that lets many new links go in one INSERT … RETURNING on SQLite (always set, unique).
    token_digest: Mapped[str] = mapped_column(String(64), unique=True, insert_sentinel=True)
    source: Mapped[str] = mapped_column(String(40), default="admin")
    meta: Mapped[dict] = mapped_column("metadata", JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(40), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by the worker once it has seen the expiry pass (and fired "link expired" if the link was unused).
    expiry_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"), index=True)

    calendar: Mapped[Calendar] = relationship()
    contact: Mapped[Contact | None] = relationship()
    booking: Mapped[Booking | None] = relationship(foreign_keys=[booking_id])

    def status_at(self, now: datetime) -> str:
        """active, opened, used, expired or revoked."""
        if self.revoked_at:
            return "revoked"
        if self.used_at:
            return "used"
        if self.expires_at and self.expires_at <= now:
            return "expired"
        return "opened" if self.opened_at else "active"

    @property
    def status(self) -> str:
        """The link's state now."""
        return self.status_at(utcnow())

    @property
    def bookable(self) -> bool:
        """True while the link can still make a booking."""
        return self.status in ("active", "opened")

    def __repr__(self) -> str:
        return f"<OneTimeLink {self.id} {self.status}>"
