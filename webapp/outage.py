"""The database is away: tell that apart from other errors, and wait for it without flooding the log.

`is_unavailable(exc)` is true only for a database that cannot be reached (refused, lost, timed out, a
SQLite file that cannot be opened or stays locked): the error pages answer 503 for those
(webapp/core/errors.py), and the worker backs off (`Backoff`, webapp/worker.py). Any other database
error (a bug, a missing table) stays what it is.
"""

import contextlib
import logging
import time

from flask import has_request_context, request
from sqlalchemy import exc as sa_exc

from webapp.extensions import db

logger = logging.getLogger("oneslot.worker")

# How long a client should wait before trying again (the Retry-After header of a 503).
RETRY_AFTER_SECONDS = 30
# The worker's waits while the database is away: 1 s, 2 s, 4 s … up to 30 s.
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
# SQLite reports every failure as OperationalError: these are the ones that mean "cannot get at it".
_SQLITE_UNAVAILABLE = ("unable to open database", "database is locked", "disk i/o error")
# PostgreSQL's SQLSTATEs for "cannot serve you now": connection exceptions (08…), the server shutting
# down or starting (57P01-57P03), too many connections (53300).
_PG_UNAVAILABLE = ("08", "57P01", "57P02", "57P03", "53300")


class DatabaseUnavailable(Exception):
    """Raised by the worker's loop pieces when the database is away (the original error is its cause)."""


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` (or what it was raised from) says the database cannot be reached just now."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.TimeoutError | sa_exc.DisconnectionError):
            return True  # the pool's timeout, a connection that died under pre-ping
        if isinstance(current, sa_exc.DBAPIError):
            if current.connection_invalidated:
                return True
            if isinstance(current, sa_exc.OperationalError | sa_exc.InterfaceError):
                return _unavailable_driver_error(current)
        current = current.__cause__ or current.__context__
    return False


def _unavailable_driver_error(exc: sa_exc.DBAPIError) -> bool:
    if type(exc.orig).__module__.startswith("sqlite3"):
        text = str(exc.orig).lower()
        return any(part in text for part in _SQLITE_UNAVAILABLE)
    # psycopg: no SQLSTATE is a failure on the client's side (refused, lost, timed out: the connect timeout
    # and keepalives of webapp/config.py); a server's connection or shutdown state counts too, a deadlock
    # or a cancelled statement does not.
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return sqlstate is None or sqlstate.startswith(_PG_UNAVAILABLE)


# Set on a request once it is known to be answered with the outage's 503 (in the WSGI environ: an app
# context's g may outlive the request).
_ENVIRON_KEY = "oneslot.database_unavailable"


def mark_request() -> None:
    """Note that this request met a database that is away: what still renders for it (the 503 page, the
    branding it wears) asks the database nothing more, so a server that hangs costs one timeout, not two."""
    if has_request_context():
        request.environ[_ENVIRON_KEY] = True


def request_marked() -> bool:
    """Whether mark_request() was called for the current request."""
    return has_request_context() and bool(request.environ.get(_ENVIRON_KEY))


def rollback() -> None:
    """Roll the session back; a connection that is gone had nothing left to undo."""
    with contextlib.suppress(Exception):
        db.session.rollback()


def short(exc: BaseException) -> str:
    """The first line of the driver's message: enough to say why, no statement, no traceback."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return (lines[0] if lines else type(orig).__name__)[:300]


class Backoff:
    """The worker's wait while the database is away: one line when it goes, one when it is back."""

    def __init__(self, first: float = FIRST_DELAY, most: float = MAX_DELAY):
        self.first = first
        self.most = most
        self.delay = 0.0
        self.down_since: float | None = None

    def failed(self, exc: BaseException) -> float:
        """Record one more failed try; returns how long to wait before the next."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            logger.warning("database unavailable (%s): retrying with backoff up to %ss", short(exc), self.most)
            self.delay = self.first
        else:
            self.delay = min(self.delay * 2, self.most)
        return self.delay

    def succeeded(self) -> None:
        """The database answered: say so once, and start from the first delay next time."""
        if self.down_since is not None:
            logger.info("database available again after %.1fs", time.monotonic() - self.down_since)
        self.down_since = None
        self.delay = 0.0
