"""Admins: creating, signing in, changing passwords, disabling and removing; shared by the pages and the CLI."""

import functools
import secrets

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from webapp import events
from webapp.audit import audit
from webapp.auth import models, sessions
from webapp.auth.models import MIN_PASSWORD_LENGTH, NAME_MAX, AdminSession, User, name_from_email
from webapp.clock import utcnow
from webapp.extensions import db

WRONG_LOGIN = "Email or password is wrong."
DISABLED_LOGIN = "This account is disabled. Ask another admin to enable it."


class AdminError(ValueError):
    """An admin account that cannot be created or changed as asked; the message says why."""


class SignInError(ValueError):
    """A sign-in refused; the message is what the person sees."""


def find_by_email(email: str) -> User | None:
    """The admin with this email, whatever its case."""
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def rename(user: User, name: str) -> None:
    """Set how the admin is named to invitees and other admins; blank takes the email's local part."""
    name = " ".join((name or "").split())
    if len(name) > NAME_MAX:
        raise AdminError(f"A name has at most {NAME_MAX} characters.")
    user.name = name or name_from_email(user.email)
    db.session.commit()
    audit("admin.rename", user_id=user.id)


def password_problem(password: str) -> str | None:
    """Why a password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    return None


def create_admin(email: str, password: str) -> User:
    """Add an admin; refuses a duplicate email or a weak password."""
    email = email.strip().lower()
    if "@" not in email:
        raise AdminError(f"{email!r} is not an email address.")
    if find_by_email(email):
        raise AdminError(f"An admin with the email {email} already exists.")
    if problem := password_problem(password):
        raise AdminError(problem)
    user = User(email=email, name=name_from_email(email))
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    events.admin_created.send(user)
    db.session.commit()
    audit("admin.create", user_id=user.id)
    return user


@functools.cache
def _dummy_hash() -> str:
    # Made once per process, the way every stored hash is made: checking against it costs the same.
    return models.hash_password(secrets.token_urlsafe(16))


def sign_in(email: str, password: str, remember: bool, user_agent: str = "") -> User:
    """Check the credentials and open a new session (user.session_key set for login_user); SignInError if refused.

    An unknown email is checked against a dummy hash, so it takes as long as a known one and the
    answer's timing does not tell which emails are admins. A disabled admin is told so only after
    the right password.
    """
    user = find_by_email(email)
    if user is None:
        models.verify_password(_dummy_hash(), password)
        raise SignInError(WRONG_LOGIN)
    if not user.check_password(password):
        raise SignInError(WRONG_LOGIN)
    if not user.is_active:
        raise SignInError(DISABLED_LOGIN)
    row = sessions.start(user, remember, user_agent)
    user.last_login_at = utcnow()
    db.session.commit()
    audit("admin.login", user_id=user.id, session_id=row.id)
    return user


def sign_out(row: AdminSession | None) -> None:
    """End this session server-side: a copy of its session or remember cookie stops working."""
    if row is None:
        return
    user_id, session_id = row.user_id, row.id
    sessions.end(row)
    db.session.commit()
    audit("admin.logout", user_id=user_id, session_id=session_id)


def end_session(user: User, session_id: int) -> bool:
    """Sign one of the admin's own sessions out (Settings › Where you're signed in); False if gone already."""
    ended = db.session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        delete(AdminSession).where(AdminSession.id == session_id, AdminSession.user_id == user.id)
    ).rowcount
    db.session.commit()
    if ended:
        audit("admin.session_end", user_id=user.id, session_id=session_id)
    return bool(ended)


def sign_out_everywhere_else(user: User, current: AdminSession | None) -> AdminSession:
    """End every other session of the admin; this browser stays signed in under a new key."""
    row, ended = sessions.restart(user, current)
    db.session.commit()
    audit("admin.sign_out_everywhere", user_id=user.id, sessions_ended=ended)
    return row


def change_password(user: User, new_password: str, current: AdminSession | None = None) -> AdminSession:
    """Replace the admin's password and end every other session; this browser continues under a new key."""
    user.set_password(new_password)
    row, ended = sessions.restart(user, current)
    db.session.commit()
    audit("admin.password_change", user_id=user.id, sessions_ended=ended)
    return row


def set_timezone(user: User, zone: str, proposed: bool = False) -> None:
    """Save the zone the admin reads times in (an offered zone, webapp.zones.resolve's answer)."""
    user.timezone = zone
    db.session.commit()
    audit("admin.timezone", user_id=user.id, timezone=zone, proposed=proposed)


def _lock_active_admins() -> None:
    # PostgreSQL: two admins disabling each other at once queue here, and the second sees the first's
    # change; SQLite lets one writer in at a time anyway (FOR UPDATE is left out there).
    db.session.execute(select(User.id).where(User.disabled_at.is_(None)).with_for_update())


def _another_active_admin(target_id: int):
    other = aliased(User)
    return exists(select(other.id).where(other.id != target_id, other.disabled_at.is_(None)))


def refuse_self(target: User, by: User | None, verb: str) -> None:
    """AdminError when an admin would disable or remove their own account (another admin must)."""
    if by is not None and target.id == by.id:
        raise AdminError(f"You cannot {verb} your own account: another admin can.")


def disable_admin(target: User, by: User | None) -> None:
    """Stop an admin from signing in and end their sessions at once; never the last active admin."""
    refuse_self(target, by, "disable")
    if not target.is_active:
        return
    _lock_active_admins()
    changed = db.session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        update(User)
        .where(User.id == target.id, User.disabled_at.is_(None), _another_active_admin(target.id))
        .values(disabled_at=utcnow())
    ).rowcount
    if not changed:
        db.session.rollback()
        raise AdminError(f"{target.email} is the only active admin: add or enable another admin first.")
    ended = sessions.end_all(target)
    db.session.commit()
    audit("admin.disable", user_id=target.id, sessions_ended=ended)


def enable_admin(target: User) -> None:
    """Let a disabled admin sign in again (with the password they had)."""
    if target.is_active:
        return
    target.disabled_at = None
    db.session.commit()
    audit("admin.enable", user_id=target.id)


def remove_admin(target: User, by: User | None) -> None:
    """Delete an admin and their sessions; never the last active admin. API keys stay (they belong to the install)."""
    refuse_self(target, by, "remove")
    target_id, email = target.id, target.email
    _lock_active_admins()
    ended = sessions.end_all(target)
    removed = db.session.execute(  # type: ignore[attr-defined]  # DML gives a CursorResult
        delete(User).where(User.id == target_id, or_(User.disabled_at.is_not(None), _another_active_admin(target_id)))
    ).rowcount
    if not removed:
        db.session.rollback()
        raise AdminError(f"{email} is the only active admin: add or enable another admin first.")
    db.session.commit()
    audit("admin.remove", user_id=target_id, sessions_ended=ended)


def admin_count() -> int:
    """How many admins exist."""
    return db.session.scalars(select(func.count(User.id))).one()


def all_admins() -> list[User]:
    """Every admin, by email."""
    return list(db.session.scalars(select(User).order_by(User.email)))
