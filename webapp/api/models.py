"""API keys: only a SHA-256 digest of each key is stored, plus a short prefix to recognise it by."""

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db


class ApiKey(db.Model):
    """A key another system sends as `Authorization: Bearer <key>` to use the JSON API."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    # The first characters of the key ("os_live_ab12"), shown in the list; they open nothing.
    prefix: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(40), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def status(self) -> str:
        """active or revoked."""
        return "revoked" if self.revoked_at else "active"

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix}… {self.status}>"
