"""Server-side admin sessions: every sign-in is a row, and a cookie works only while its row exists.

Flask-Login keeps "<admin id>:<session key>" (User.get_id) in the signed session cookie and, with
"Keep me signed in", in the remember cookie. The key is 256 random bits, new at every sign-in; the
database holds only its SHA-256 digest, so a copy of the database opens no session. Deleting a row
(sign-out, password change, "Sign out everywhere else", disabling or removing the admin) kills every
cookie that carries its key at once, wherever they were copied to.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import current_app, g
from sqlalchemy import delete, select, update
from sqlalchemy.orm import joinedload

from webapp.auth.models import AdminSession, User
from webapp.clock import utcnow
from webapp.extensions import db

USER_AGENT_MAX = 300
# last_seen_at is shown to the admin as "last active" and moves a session's idle deadline: writing it
# at most once a minute keeps signed-in pages from turning every request into a write.
TOUCH_EVERY = timedelta(minutes=1)


# (marker in the User-Agent, name shown), first match wins: Edge and Opera also say "Chrome", Chrome says "Safari".
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
_SYSTEMS = (
    ("Android", "Android"),
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def describe(user_agent: str) -> str:
    """A browser as a person names it ("Firefox on Windows"), from its User-Agent; "Unknown browser" if unsure."""
    browser = next((name for marker, name in _BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"


def digest(key: str) -> str:
    """What the database stores and looks a session key up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def _idle_limit() -> timedelta:
    # As long as Flask's own session cookie lives: a session nobody uses ends with its cookie.
    return current_app.permanent_session_lifetime


def _remember_limit() -> timedelta:
    duration = current_app.config.get("REMEMBER_COOKIE_DURATION", timedelta(days=365))
    return timedelta(seconds=duration) if isinstance(duration, int) else duration


def start(user: User, remember: bool, user_agent: str = "") -> AdminSession:
    """Open a session for the admin (not committed); sets user.session_key for Flask-Login's login_user."""
    now = utcnow()
    # Sessions that ran out are cleared here, so one admin's list never grows without bound.
    db.session.execute(delete(AdminSession).where(AdminSession.user_id == user.id, AdminSession.expires_at <= now))
    key = secrets.token_urlsafe(32)
    row = AdminSession(
        user_id=user.id,
        digest=digest(key),
        remember=remember,
        user_agent=(user_agent or "")[:USER_AGENT_MAX],
        created_at=now,
        last_seen_at=now,
        expires_at=now + (_remember_limit() if remember else _idle_limit()),
    )
    db.session.add(row)
    user.session_key = key
    return row


def load(session_id: str) -> tuple[User, AdminSession] | None:
    """The admin and session behind a cookie's "<id>:<key>", or None when it has ended (or never was)."""
    user_id, _, key = session_id.partition(":")
    if not user_id.isdigit() or not key or len(key) > 100:
        return None
    now = utcnow()
    row = db.session.scalar(
        select(AdminSession)
        .options(joinedload(AdminSession.user))
        .where(AdminSession.digest == digest(key), AdminSession.user_id == int(user_id), AdminSession.expires_at > now)
    )
    if row is None or not row.user.is_active:
        return None
    if row.last_seen_at <= now - TOUCH_EVERY:
        _touch(row, now)
    row.user.session_key = key
    return row.user, row


def _touch(row: AdminSession, now: datetime) -> None:
    values = {"last_seen_at": now}
    if not row.remember:
        values["expires_at"] = now + _idle_limit()
    # Conditional: of several requests racing on one session, one writes and the others match no row.
    db.session.execute(
        update(AdminSession)
        .where(AdminSession.id == row.id, AdminSession.last_seen_at <= now - TOUCH_EVERY)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    db.session.refresh(row)


def current() -> AdminSession | None:
    """The session this request's admin was loaded through (set by the user loader), or None."""
    return g.get("admin_session")


def of_user(user: User) -> list[AdminSession]:
    """The admin's live sessions, the most recently used first."""
    query = (
        select(AdminSession)
        .where(AdminSession.user_id == user.id, AdminSession.expires_at > utcnow())
        .order_by(AdminSession.last_seen_at.desc(), AdminSession.id.desc())
    )
    return list(db.session.scalars(query))


def end(row: AdminSession | None) -> None:
    """End one session (not committed): its session and remember cookies stop working."""
    if row is not None:
        db.session.execute(delete(AdminSession).where(AdminSession.id == row.id))


def end_all(user: User) -> int:
    """End every session of the admin (not committed); returns how many there were."""
    return db.session.execute(delete(AdminSession).where(AdminSession.user_id == user.id)).rowcount  # type: ignore[attr-defined]  # DML gives a CursorResult


def restart(user: User, current: AdminSession | None) -> tuple[AdminSession, int]:
    """End every session of the admin and open a fresh one for this browser (not committed).

    The current session gets a new key too, so a copy of its cookie taken earlier dies with the others.
    Returns the new session and how many other sessions ended.
    """
    remember = bool(current and current.remember)
    user_agent = current.user_agent if current else ""
    ended = end_all(user) - (1 if current else 0)
    return start(user, remember, user_agent), ended
