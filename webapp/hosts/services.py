"""Rules for hosts: who they are, and the host every admin is."""

from sqlalchemy import select

from webapp.auth.models import User
from webapp.extensions import db
from webapp.hosts.models import NAME_MAX, Host


def email_key(email: str) -> str:
    """The form a host's email is compared in: trimmed, lower-cased."""
    return (email or "").strip().lower()


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
