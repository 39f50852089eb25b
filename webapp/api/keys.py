"""Make, check and revoke API keys. The key itself is shown once and never stored."""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import or_, select, update

from webapp.api.models import ApiKey
from webapp.audit import actor, audit
from webapp.clock import utcnow
from webapp.extensions import db

KEY_PREFIX = "os_live_"
VISIBLE_CHARS = len(KEY_PREFIX) + 4  # "os_live_ab12": enough to tell keys apart in a list
NAME_MAX = 120
# last_used_at is a "roughly when" for the admin: writing it at most once a minute per key keeps a
# busy integration from turning every read request into a write.
TOUCH_EVERY = timedelta(minutes=1)


class ApiKeyError(ValueError):
    """A key that cannot be made as asked; the message says why."""


def digest(key: str) -> str:
    """What the database stores and looks keys up by."""
    return hashlib.sha256(key.encode()).hexdigest()


def name_error(name: str) -> str | None:
    """Why a key name is refused, or None."""
    if not name:
        return "Give the key a name, e.g. the system that will use it."
    if len(name) > NAME_MAX:
        return f"A key name has at most {NAME_MAX} characters."
    return None


def create_key(name: str) -> tuple[ApiKey, str]:
    """Add and commit a key; returns the row and the key itself, which is never stored."""
    name = (name or "").strip()
    if error := name_error(name):
        raise ApiKeyError(error)
    key = KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    row = ApiKey(name=name, prefix=key[:VISIBLE_CHARS], digest=digest(key), created_by=actor())
    db.session.add(row)
    db.session.commit()
    audit("api_key.create", api_key_id=row.id)
    return row, key


def authenticate(key: str) -> ApiKey | None:
    """The active key matching `key` (its last use recorded), or None for an unknown or revoked one."""
    if not key or len(key) > 200:
        return None
    row = db.session.scalar(select(ApiKey).where(ApiKey.digest == digest(key), ApiKey.revoked_at.is_(None)))
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or row.last_used_at <= now - TOUCH_EVERY:
        # Conditional: of several requests racing with one key, one writes and the others match no row.
        db.session.execute(
            update(ApiKey)
            .where(ApiKey.id == row.id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - TOUCH_EVERY))
            .values(last_used_at=now)
        )
        db.session.commit()
        db.session.refresh(row)
    return row


def all_keys() -> list[ApiKey]:
    """Every key, active ones first, newest first."""
    query = select(ApiKey).order_by(ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())
    return list(db.session.scalars(query))


def revoke(row: ApiKey) -> bool:
    """Revoke a key for good; False when it already was revoked."""
    result = db.session.execute(
        update(ApiKey).where(ApiKey.id == row.id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    db.session.commit()
    db.session.refresh(row)
    if result.rowcount == 1:  # type: ignore[attr-defined]  # DML gives a CursorResult
        audit("api_key.revoke", api_key_id=row.id)
        return True
    return False
