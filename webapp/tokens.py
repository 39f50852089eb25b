"""Secret URL tokens: an HMAC over an object's random salt, so the database never holds a working token.

A token is rebuilt from (purpose, salt) and the app's SECRET_KEY; the database keeps the salt and
the token's SHA-256 digest for lookups, neither of which opens anything without the key. A copy of
the database therefore hands out no working link, and rotating SECRET_KEY invalidates every
outstanding link.

Stored text (the mail outbox) never holds a secret URL either: it holds a marker such as
⟦book:42⟧ that `resolve()` turns into the real URL when the message is sent, or into a redacted
one when an admin reads the stored copy.
"""

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable

from flask import current_app

# purpose -> (URL path prefix, loader returning {id: salt} for the ids asked that still exist)
_PURPOSES: dict[str, tuple[str, Callable[[list[int]], dict[int, str]]]] = {}
MARKER_RE = re.compile(r"⟦([a-z]+):(\d+)⟧")


def new_salt() -> str:
    """128 random bits per object, the only input of its token besides the key."""
    return secrets.token_hex(16)


def make_token(purpose: str, salt: str) -> str:
    """The URL token of an object: 256-bit HMAC, base64url without padding."""
    key = current_app.config["SECRET_KEY"].encode()
    mac = hmac.new(key, f"{purpose}:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def digest(token: str) -> str:
    """What the database stores and looks tokens up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def register(purpose: str, path: str, salt_loader: Callable[[list[int]], dict[int, str]]) -> None:
    """Declare a kind of secret URL, e.g. register("book", "/book/", load_link_salts): the loader
    returns {id: salt} for those of the ids asked that exist (one query for many)."""
    _PURPOSES[purpose] = (path, salt_loader)


def marker(purpose: str, obj_id: int) -> str:
    """A placeholder for a secret URL in stored text."""
    return f"⟦{purpose}:{obj_id}⟧"


def url(purpose: str, salt: str) -> str:
    """The absolute secret URL, from BASE_URL."""
    path, _ = _PURPOSES[purpose]
    return f"{current_app.config['BASE_URL']}{path}{make_token(purpose, salt)}"


def resolve(text: str, redact: bool = False, cache: dict | None = None) -> str:
    """Replace markers with working URLs, or with redacted ones for display of stored copies.

    `cache` (a dict the caller keeps, see load()) saves looking a marker up again, e.g. across an
    email's parts, or across a batch of emails."""
    if redact:
        return MARKER_RE.sub(lambda match: f"{current_app.config['BASE_URL']}{_PURPOSES[match[1]][0]}••••••••", text)
    cache = load([text], {} if cache is None else cache)
    return MARKER_RE.sub(lambda match: cache[match[0]], text)


def load(texts: Iterable[str], cache: dict) -> dict:
    """Put the URL of every marker in `texts` that is not in `cache` yet into it: one query per purpose.

    A marker whose object is gone becomes a visibly dead link. Returns `cache`."""
    wanted: dict[str, dict[str, int]] = {}  # purpose -> {marker as written: id}
    for text in texts:
        for match in MARKER_RE.finditer(text or ""):
            if match[0] not in cache:
                wanted.setdefault(match[1], {})[match[0]] = int(match[2])
    for purpose, markers in wanted.items():
        path, loader = _PURPOSES[purpose]
        salts = loader(sorted(set(markers.values())))
        for written, obj_id in markers.items():
            salt = salts.get(obj_id)
            cache[written] = url(purpose, salt) if salt else f"{current_app.config['BASE_URL']}{path}(link removed)"
    return cache
