"""Secret URL tokens, and the markers that stand for them in stored mail.

A token is `handle + mac`: the handle is the object's random salt (128 bits, base64url) and the mac
an HMAC over (purpose, salt) under the app's key. The database keeps the salt and the handle's
SHA-256 digest (for lookups), neither of which opens anything without the key: a copy of the
database hands out no working link. A token is valid only if its mac verifies under SECRET_KEY or
one of SECRET_KEY_FALLBACKS, so rotating the key with the old one listed as a fallback keeps every
mailed link working (URLs rebuilt from now on use the new key), and rotating without it kills every
outstanding link at once.

Tokens issued before that scheme (43 characters, the digest of the whole token stored) still verify
the same way: under the current key or a fallback.

Stored text (the mail outbox) never holds a secret URL either. Code that puts a secret link in a
message asks the message's Minter for a marker: ⟦book:42:<nonce>⟧, where the nonce is random and
the message's own, and the Minter records (purpose, id). When the message is sent, only markers
that carry its nonce AND name a link it recorded become URLs; anything else that looks like a marker
(text a contact, an invitee or an admin typed) is sent exactly as typed. Nobody can name a link.
"""

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flask import current_app

# purpose -> Purpose (URL path, loader, what a message says when the object is gone)
_PURPOSES: dict[str, "Purpose"] = {}
MARKER_RE = re.compile(r"⟦([a-z]+):(\d+):([0-9a-f]{32})⟧")
HANDLE_LEN = 22  # base64url of the 16-byte salt, unpadded
MAC_BYTES = 16  # 128 bits of HMAC-SHA256: beyond guessing, and a URL of 44 characters
LEGACY_LEN = 43  # the whole 256-bit HMAC, as tokens were before the handle


@dataclass(frozen=True)
class Purpose:
    """A kind of secret URL: its path, and a loader of {id: (salt, stored digest)} for ids that exist."""

    path: str
    loader: Callable[[list[int]], dict[int, tuple[str, str]]]
    gone: str


# --- tokens --------------------------------------------------------------------------------------


def new_salt() -> str:
    """128 random bits per object, the only input of its token besides the key."""
    return secrets.token_hex(16)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _keys() -> list[str]:
    config = current_app.config
    return [config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])]


def _mac(key: str, purpose: str, salt: str) -> bytes:
    return hmac.new(key.encode(), f"{purpose}:{salt}".encode(), hashlib.sha256).digest()


def _handle(salt: str) -> str:
    return _b64(bytes.fromhex(salt))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def stored_digest(salt: str) -> str:
    """What the database keeps for a new object and looks its token up by (needs no key)."""
    return _sha256(_handle(salt))


def lookup_digest(token: str) -> str | None:
    """The stored digest a token is looked up by; None for anything that is not a token."""
    if len(token) == HANDLE_LEN + len(_b64(bytes(MAC_BYTES))):
        return _sha256(token[:HANDLE_LEN])
    if len(token) == LEGACY_LEN:
        return _sha256(token)
    return None


def _legacy(key: str, purpose: str, salt: str) -> str:
    return _b64(_mac(key, purpose, salt))


def make_token(purpose: str, salt: str) -> str:
    """The URL token of a new object, under the current key."""
    return _handle(salt) + _b64(_mac(current_app.config["SECRET_KEY"], purpose, salt)[:MAC_BYTES])


def verify(purpose: str, token: str, salt: str) -> bool:
    """True when the token is the object's under the current key or a fallback (constant-time compares)."""
    if len(token) == LEGACY_LEN:
        return any(hmac.compare_digest(token, _legacy(key, purpose, salt)) for key in _keys())
    if not hmac.compare_digest(token[:HANDLE_LEN], _handle(salt)):
        return False
    return any(hmac.compare_digest(token[HANDLE_LEN:], _b64(_mac(key, purpose, salt)[:MAC_BYTES])) for key in _keys())


def token_for(purpose: str, salt: str, digest: str) -> str | None:
    """The object's working token: under the current key, or for an object issued before the handle
    scheme, the one its stored digest names if that token's key is still accepted; else None."""
    if digest == stored_digest(salt):
        return make_token(purpose, salt)
    for key in _keys():
        token = _legacy(key, purpose, salt)
        if _sha256(token) == digest:
            return token
    return None


def register(purpose: str, path: str, loader: Callable[[list[int]], dict[int, tuple[str, str]]], gone: str) -> None:
    """Declare a kind of secret URL, e.g. register("book", "/book/", load, "(…withdrawn)"): the loader
    returns {id: (salt, stored digest)} for those of the ids asked that exist (one query for many)."""
    _PURPOSES[purpose] = Purpose(path, loader, gone)


def url(purpose: str, salt: str, digest: str | None = None) -> str | None:
    """The absolute secret URL, from BASE_URL; None when the object's key is no longer accepted."""
    token = make_token(purpose, salt) if digest is None else token_for(purpose, salt, digest)
    return f"{current_app.config['BASE_URL']}{_PURPOSES[purpose].path}{token}" if token else None


def redacted_url(purpose: str) -> str:
    """How a secret URL shows in a stored copy: …/book/••••••••."""
    return f"{current_app.config['BASE_URL']}{_PURPOSES[purpose].path}••••••••"


# --- markers in stored mail ----------------------------------------------------------------------


@dataclass(frozen=True)
class LinkRef:
    """A secret link named by code (a step's output, a booking's manage link), never by text.

    Rendered without a Minter (a preview, a test run's display) it is the redacted URL."""

    purpose: str
    id: int

    def __str__(self) -> str:
        return redacted_url(self.purpose)


class Minter:
    """The secret links one message may reveal: markers carrying the message's own random nonce."""

    def __init__(self, nonce: str | None = None, links: Iterable[Iterable] = ()):
        self.nonce = nonce or secrets.token_hex(16)
        self.links: list[list] = [[purpose, int(obj_id)] for purpose, obj_id in links]

    def marker(self, ref: LinkRef) -> str:
        """The marker for a link this message reveals (recorded)."""
        if ref.purpose not in _PURPOSES:
            raise ValueError(f"unknown secret link purpose {ref.purpose!r}")
        if [ref.purpose, ref.id] not in self.links:
            self.links.append([ref.purpose, ref.id])
        return f"⟦{ref.purpose}:{ref.id}:{self.nonce}⟧"

    def fill(self, values):
        """A copy of template values with every LinkRef replaced by its marker."""
        if isinstance(values, LinkRef):
            return self.marker(values)
        if isinstance(values, Mapping):
            return {key: self.fill(value) for key, value in values.items()}
        if isinstance(values, list | tuple):
            return [self.fill(value) for value in values]
        return values

    def used_in(self, texts: Iterable[str]) -> list[list]:
        """The recorded links whose markers the rendered texts hold: what the message may reveal."""
        return [link for link in self.links if any(self.marker(LinkRef(*link)) in text for text in texts if text)]

    def _own(self, match: re.Match) -> bool:
        return match[3] == self.nonce and [match[1], int(match[2])] in self.links

    def resolve(self, text: str, urls: dict) -> str:
        """Own markers become their URLs (from load()); every other marker-like text stays as it is."""
        return MARKER_RE.sub(lambda m: urls[(m[1], int(m[2]))] if self._own(m) else m[0], text or "")

    def redact(self, text: str) -> str:
        """Own markers shown as …/book/••••••••, for an admin reading the stored copy."""
        return MARKER_RE.sub(lambda m: redacted_url(m[1]) if self._own(m) else m[0], text or "")


def load(wanted: Iterable[Iterable], urls: dict | None = None) -> dict:
    """Put the URL of every (purpose, id) not in `urls` yet into it: one query per purpose.

    An object that is gone, or whose key is no longer accepted, becomes a sentence saying so,
    never a link. Returns `urls` (a dict the caller may keep across a batch of messages)."""
    urls = {} if urls is None else urls
    asked: dict[str, set[int]] = {}
    for purpose, obj_id in wanted:
        if (purpose, int(obj_id)) not in urls:
            asked.setdefault(purpose, set()).add(int(obj_id))
    for purpose, ids in asked.items():
        kind = _PURPOSES[purpose]
        found = kind.loader(sorted(ids))
        for obj_id in ids:
            salt, digest = found.get(obj_id, (None, None))
            urls[(purpose, obj_id)] = (url(purpose, salt, digest) if salt else None) or kind.gone
    return urls
