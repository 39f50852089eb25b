"""Admin accounts and their sign-in sessions."""

from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db

MIN_PASSWORD_LENGTH = 10
NAME_MAX = 100


def name_from_email(email: str) -> str:
    """A new admin's name until they give theirs: the email's local part ("sam.rivera")."""
    return (email or "").partition("@")[0][:NAME_MAX] or "Admin"


def hash_password(password: str) -> str:
    """A salted scrypt hash (werkzeug's default method and cost), the only form a password is kept in.

    PASSWORD_HASH_METHOD (not read from the environment) lets the test suite use a cheaper scrypt."""
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def verify_password(password_hash: str, password: str) -> bool:
    """The one place a password is checked against a hash (sign-in runs it for unknown emails too)."""
    return check_password_hash(password_hash, password)


class User(UserMixin, db.Model):
    """An admin who signs in to the back office."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # How the admin is named to invitees and other admins ("cancelled by Sam Rivera (organiser)").
    name: Mapped[str] = mapped_column(String(NAME_MAX), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set by another admin: a disabled admin cannot sign in and has no session.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The zone the admin reads times in (an offered IANA name, webapp.zones); NULL until set: UTC,
    # and the admin pages propose the browser's zone.
    timezone: Mapped[str | None] = mapped_column(String(64))

    # The key of the session this object was loaded through (webapp.auth.sessions); not stored.
    if TYPE_CHECKING:  # for mypy only: the ORM maps every attribute annotated in the class body
        session_key: str | None
    session_key = None

    @property
    def display_name(self) -> str:
        """The admin's name, never blank (the email's local part when none was given)."""
        return self.name.strip() if self.name and self.name.strip() else name_from_email(self.email)

    @property
    def is_active(self) -> bool:
        """Flask-Login refuses to sign in an inactive (disabled) admin."""
        return self.disabled_at is None

    def get_id(self) -> str:
        """Flask-Login's alternative id: the admin and one server-side session, "<id>:<session key>".

        The session and remember cookies carry it, so ending the session row kills both cookies.
        """
        if not self.session_key:
            raise RuntimeError("start a session (webapp.auth.sessions.start) before signing the admin in")
        return f"{self.id}:{self.session_key}"

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password, never the password."""
        self.password_hash = hash_password(password)

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return verify_password(self.password_hash, password)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class AdminSession(db.Model):
    """One signed-in browser of an admin; its cookies hold the key, the row only the key's digest."""

    __tablename__ = "admin_sessions"
    # Ids are never reused: a "Sign out" button on an old page must not reach a newer session.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    remember: Mapped[bool] = mapped_column(default=False)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Past this instant the session is over: fixed for "keep me signed in", moved on by use otherwise.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<AdminSession {self.id} of user {self.user_id}>"
