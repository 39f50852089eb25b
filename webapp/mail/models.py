"""The outbox: every email is a row first, sent later by the worker."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from webapp.clock import utcnow
from webapp.columns import UTCDateTime, unpruned_index
from webapp.extensions import db
from webapp.tokens import Minter

STATUSES = ("pending", "sent", "failed", "held")


class OutboxMessage(db.Model):
    """One email: rendered when queued, its secret links resolved only when it is sent."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The worker's query: due pending messages, oldest first.
        Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        # Sent mail, newest first a page at a time, all or of one status (and the capped counts).
        Index("ix_outbox_messages_created", "created_at", "id"),
        Index("ix_outbox_messages_status_created", "status", "created_at", "id"),
        # Retention's query: sent messages not pruned yet, oldest first.
        unpruned_index("ix_outbox_messages_prune", "status", "sent_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), default="")
    from_name: Mapped[str] = mapped_column(String(100), default="")  # display name before the sender address
    # The sender address ("" = MAIL_DEFAULT_SENDER's when sent): a calendar's or the branding's.
    from_addr: Mapped[str] = mapped_column(String(254), default="", server_default="")
    to_addr: Mapped[str] = mapped_column(String(254))
    # Where replies go ("": the sender): an invitee's mail answers to the booking's host.
    reply_to: Mapped[str] = mapped_column(String(254), default="", server_default="")
    subject: Mapped[str] = mapped_column(String(500))
    text_body: Mapped[str] = mapped_column(Text, default="")
    html_body: Mapped[str] = mapped_column(Text, default="")
    # The secret links this message may reveal, [["book", 42], ["manage", 7]], and the nonce its markers
    # carry (webapp/tokens.py, Minter): only those markers become URLs when it is sent.
    secret_links: Mapped[list] = mapped_column(JSON, default=list)
    link_nonce: Mapped[str] = mapped_column(String(32), default="")
    # [{"filename": "invite.ics", "mimetype": "text/calendar", "content": "BEGIN:VCALENDAR…"}]
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When retention emptied the bodies, attachments and secret links of this sent message (None: kept).
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A claim: the worker that is sending the message, and until when its claim holds.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"), index=True)
    # Fixed when queued, so a message sent twice (a worker died after the server accepted it) reads as one.
    # Also the sentinel that lets many new messages go in one INSERT … RETURNING on SQLite.
    message_id: Mapped[str] = mapped_column(String(255), unique=True, insert_sentinel=True)

    @property
    def minter(self):
        """The message's own markers: what resolves its secret links (and nothing else)."""
        return Minter(self.link_nonce, self.secret_links or [])

    @property
    def can_retry(self) -> bool:
        """Failed and held messages can be put back in the queue by an admin."""
        return self.status in ("failed", "held")

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.status} {self.kind}>"
