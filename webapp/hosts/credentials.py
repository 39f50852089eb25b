"""A CalDAV connection's password, sealed at rest by webapp/secretbox.py under one purpose.

The connections feature seals what the admin typed (`seal_password`); reading and writing busy time
open it just before a request (`open_password`). The purpose string is shared by both: change it and
every saved password stops opening."""

from webapp import secretbox
from webapp.hosts.models import Connection

PURPOSE = "caldav-password"


def seal_password(text: str) -> str:
    """The password as stored in Connection.secret."""
    return secretbox.seal(text, PURPOSE)


def open_password(connection: Connection) -> str:
    """The connection's password in plain text ("" when none); SecretUnreadable after a key rotation."""
    return secretbox.unseal(connection.secret, PURPOSE) if connection.secret else ""
