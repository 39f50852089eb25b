"""Secrets OneSlot must use again later (outgoing webhook signing keys, calendar credentials), encrypted
at rest with a key derived from SECRET_KEY.

A copy of the database alone reveals none of them. Fernet (AES-128-CBC with an HMAC-SHA256, from the
`cryptography` package) does the encryption; its key is HKDF-SHA256 of SECRET_KEY with a `purpose` in
the derivation, so a value sealed for one use cannot be opened as another.

A separate ENCRYPTION_KEY, when set, is used instead of SECRET_KEY (which then only opens what was
sealed before), so the secrets at rest can be kept apart from the key that signs sessions and links.

Rotating SECRET_KEY: values sealed under a key listed in SECRET_KEY_FALLBACKS still open; `reseal()`
moves one to the current key. A value sealed under a key that is no longer listed cannot be opened
(SecretUnreadable): the admin makes a new secret.
"""

import base64
import binascii
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

FERNET_VERSION = 0x80  # the first byte of every Fernet token
MIN_TOKEN_BYTES = 1 + 8 + 16 + 32  # version, timestamp, IV, HMAC: even an empty value is longer


class SecretUnreadable(ValueError):
    """A sealed value that no current or fallback key opens (the key was rotated away, or it was altered)."""


@lru_cache(maxsize=64)
def _fernet(secret_key: str, purpose: str) -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=None,
        info=f"oneslot secretbox v1: {purpose}".encode(),
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _keys(secret_key: str | None, fallbacks) -> list[str]:
    """The current key first (it seals), then the fallbacks (they only open).

    ENCRYPTION_KEY, when set, is the current key, and SECRET_KEY with its fallbacks only open: values
    sealed before it was set still open, and reseal() moves them to it."""
    if secret_key is None:
        config = current_app.config
        secret_key = config.get("ENCRYPTION_KEY") or config["SECRET_KEY"]
        if fallbacks is None:
            fallbacks = list(config.get("SECRET_KEY_FALLBACKS") or [])
            if config.get("ENCRYPTION_KEY"):
                fallbacks = [config["SECRET_KEY"], *fallbacks]
    if isinstance(fallbacks, str):  # one key given as text rather than a list
        fallbacks = [fallbacks]
    return [secret_key, *(fallbacks or [])]


def _box(purpose: str, secret_key: str | None = None, fallbacks=None) -> MultiFernet:
    """Encrypts under the first key; decrypts under any of them."""
    return MultiFernet([_fernet(key, purpose) for key in _keys(secret_key, fallbacks)])


def seal(plaintext: str, purpose: str, *, secret_key: str | None = None) -> str:
    """The value encrypted under the current SECRET_KEY (or `secret_key`, for a migration), as text."""
    return _box(purpose, secret_key).encrypt(plaintext.encode()).decode("ascii")


def unseal(sealed: str, purpose: str, *, secret_key: str | None = None, fallbacks=None) -> str:
    """The plaintext of a sealed value; SecretUnreadable when no current or fallback key opens it."""
    try:
        return _box(purpose, secret_key, fallbacks).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable("this secret cannot be read with the current ENCRYPTION_KEY or SECRET_KEY") from None


def reseal(sealed: str, purpose: str) -> str:
    """The same value sealed under the current key (after a rotation); SecretUnreadable as unseal."""
    try:
        return _box(purpose).rotate(sealed.encode("ascii")).decode("ascii")
    except (InvalidToken, UnicodeError):
        raise SecretUnreadable("this secret cannot be read with the current ENCRYPTION_KEY or SECRET_KEY") from None


def is_sealed(value) -> bool:
    """True for text shaped like a sealed value (a Fernet token), False for anything else (a plaintext
    secret stored before encryption: hex or base64url text never starts with Fernet's version byte)."""
    if not isinstance(value, str) or not value:
        return False
    try:
        raw = base64.urlsafe_b64decode(value.encode("ascii"))
    except (binascii.Error, UnicodeError, ValueError):
        return False
    return len(raw) >= MIN_TOKEN_BYTES and raw[0] == FERNET_VERSION
