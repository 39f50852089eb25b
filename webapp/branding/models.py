"""The branding: one row of settings (id 1) that public pages and invitee mail wear."""

from datetime import datetime

from sqlalchemy import Boolean, Integer, LargeBinary, String, true
from sqlalchemy.orm import Mapped, deferred, mapped_column

from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db

ROW_ID = 1
NAME_MAX = 100
SENDER_NAME_MAX = 100
EMAIL_MAX = 254


class Branding(db.Model):
    """Business name, logo, accent colour, the default sender, and the "Sent by OneSlot" line.

    No row is the same as a row of defaults (nothing branded, the footer on): an install that never
    opens the page keeps today's look.
    """

    __tablename__ = "branding"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_name: Mapped[str] = mapped_column(String(NAME_MAX), default="")
    accent: Mapped[str] = mapped_column(String(7), default="")  # "#rrggbb", "" = OneSlot's own
    sender_name: Mapped[str] = mapped_column(String(SENDER_NAME_MAX), default="")
    sender_email: Mapped[str] = mapped_column(String(EMAIL_MAX), default="")
    powered_by: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # The logo as served: a PNG, JPEG or WebP of at most 400×120 (services.process_logo). Deferred:
    # only the logo's own URL and the mail sender read the bytes.
    logo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    logo_type: Mapped[str] = mapped_column(String(20), default="")
    logo_width: Mapped[int] = mapped_column(Integer, default=0)
    logo_height: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped by every save: the cache key of pre-rendered pages and the logo's and theme's URLs.
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
