"""Sealed secrets: encrypted under a key derived from SECRET_KEY (and a purpose), opened by the current
key or a fallback, by nothing else."""

import pytest
from flask import Flask

from webapp import secretbox

KEY, OLD = "current-key-0123456789abcdef", "previous-key-0123456789abcdef"


def test_a_sealed_value_opens_with_its_key_and_purpose_only():
    sealed = secretbox.seal("hunter2", "webhook signing secret", secret_key=KEY)
    assert "hunter2" not in sealed and secretbox.is_sealed(sealed)
    assert secretbox.unseal(sealed, "webhook signing secret", secret_key=KEY) == "hunter2"
    with pytest.raises(secretbox.SecretUnreadable):
        secretbox.unseal(sealed, "calendar password", secret_key=KEY)
    with pytest.raises(secretbox.SecretUnreadable):
        secretbox.unseal(sealed, "webhook signing secret", secret_key=OLD)
    assert secretbox.seal("hunter2", "p", secret_key=KEY) != secretbox.seal("hunter2", "p", secret_key=KEY)  # fresh IV


def test_tampering_or_garbage_is_unreadable_not_an_error():
    sealed = secretbox.seal("value", "p", secret_key=KEY)
    tampered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]
    for bad in (tampered, "", "not a token", "gAAAAA", "é"):
        with pytest.raises(secretbox.SecretUnreadable):
            secretbox.unseal(bad, "p", secret_key=KEY)


@pytest.mark.parametrize("value", ["", "x", "0" * 64, "s3cret-for-tests", None, 42, "gAAAAA"])
def test_plaintext_secrets_are_not_taken_for_sealed_ones(value):
    assert secretbox.is_sealed(value) is False


def test_fallback_keys_open_and_reseal_moves_to_the_current_key():
    app = Flask(__name__)
    app.config.update(SECRET_KEY=KEY, SECRET_KEY_FALLBACKS=[OLD])
    old = secretbox.seal("value", "p", secret_key=OLD)
    with app.app_context():
        assert secretbox.unseal(old, "p") == "value"
        moved = secretbox.reseal(old, "p")
        app.config["SECRET_KEY_FALLBACKS"] = []
        assert secretbox.unseal(moved, "p") == "value"
        with pytest.raises(secretbox.SecretUnreadable):
            secretbox.unseal(old, "p")
        assert secretbox.unseal(secretbox.seal("new", "p"), "p", secret_key=KEY) == "new"  # sealed under the current


def test_an_encryption_key_seals_apart_from_the_secret_key_and_still_opens_older_values():
    app = Flask(__name__)
    separate = "encryption-key-0123456789abcdef"
    app.config.update(SECRET_KEY=KEY, SECRET_KEY_FALLBACKS=[], ENCRYPTION_KEY=separate)
    before = secretbox.seal("older", "p", secret_key=KEY)  # sealed before ENCRYPTION_KEY was set
    with app.app_context():
        sealed = secretbox.seal("value", "p")
        assert secretbox.unseal(sealed, "p", secret_key=separate) == "value"
        with pytest.raises(secretbox.SecretUnreadable):
            secretbox.unseal(sealed, "p", secret_key=KEY)  # SECRET_KEY alone no longer opens it
        assert secretbox.unseal(before, "p") == "older"
        moved = secretbox.reseal(before, "p")
        assert secretbox.unseal(moved, "p", secret_key=separate) == "older"


def test_a_short_encryption_key_is_refused_at_start(tmp_path):
    from webapp import config

    with pytest.raises(config.ConfigError, match="ENCRYPTION_KEY is too short"):
        config.load({"ENCRYPTION_KEY": "short", "SECRET_KEY": KEY}, tmp_path)
