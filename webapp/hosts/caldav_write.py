"""Writing bookings into a host's CalDAV calendar: PUT an event, DELETE it (or mark it cancelled).

Every request goes through webapp/outbound.py: the address policy checked after DNS, the checked
addresses pinned, redirects answered and not followed. An event lives at `<calendar URL>/<uid>.ics`,
so a retry after a crash writes the same resource again instead of a second event: a first write
asks `If-None-Match: *`, a later one `If-Match: <etag>`; a 412 means the resource is there already
(an attempt whose result was lost) or was edited in the host's calendar app, and the booking, which
is the truth, is written over it. Finding the calendar to write into when the admin chose none
(`write_calendar`) uses the caldav library, after the same policy check.

Messages of WriteError are ours (the server's status code, never its words or the password)."""

import base64
from urllib.parse import quote, urljoin

from caldav.davclient import DAVClient

from webapp import outbound
from webapp.hosts import credentials
from webapp.hosts.models import Connection
from webapp.secretbox import SecretUnreadable

TIMEOUT = 15  # seconds for one request
ICS_TYPE = "text/calendar; charset=utf-8"
GONE = (404, 410)  # nothing to delete: already removed (by us, or by the host in their calendar app)
NO_DELETE = (403, 405)  # the server keeps events: it gets a cancelled one instead


class WriteError(Exception):
    """A write that did not happen, in words for the admin; `retry` False when trying again cannot help."""

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


def event_href(calendar_url: str, uid: str) -> str:
    """Where a booking's event lives in a calendar: the calendar's URL and `<uid>.ics`."""
    return urljoin(calendar_url.rstrip("/") + "/", quote(uid, safe="@.-_") + ".ics")


def _password(connection: Connection) -> str:
    try:
        return credentials.open_password(connection)
    except SecretUnreadable:
        raise WriteError(
            "the saved password cannot be read with the current SECRET_KEY; enter it again", retry=False
        ) from None


def _headers(connection: Connection, **more: str) -> dict[str, str]:
    pair = f"{connection.username}:{_password(connection)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii"), "User-Agent": "OneSlot", **more}


def _status_words(status: int) -> str:
    if status == 401:
        return "the server did not accept the username or password (HTTP 401)"
    if status == 403:
        return "the server does not allow writing into that calendar (HTTP 403)"
    if status == 404:
        return "the calendar was not found on the server (HTTP 404)"
    if 300 <= status < 400:
        return f"the server answered with a redirect (HTTP {status}); enter the calendar's final address"
    return f"the server answered HTTP {status}"


def _send(method: str, url: str, headers: dict[str, str], body: bytes = b"") -> outbound.Response:
    try:
        return outbound.request(method, url, body=body, headers=headers, timeout=TIMEOUT)
    except outbound.Refused as exc:
        raise WriteError(f"not allowed: {exc}", retry=False) from None
    except outbound.Unreachable as exc:
        raise WriteError(str(exc)) from None


def put_event(connection: Connection, calendar_url: str, uid: str, body: bytes, etag: str = "") -> tuple[str, str]:
    """Create or replace the booking's event in the calendar; returns (its URL, its new ETag or "")."""
    href = event_href(calendar_url, uid)
    condition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
    response = _send("PUT", href, _headers(connection, **{"Content-Type": ICS_TYPE}, **condition), body)
    if response.status == 412:
        response = _send("PUT", href, _headers(connection, **{"Content-Type": ICS_TYPE}), body)
    if not 200 <= response.status < 300:
        raise WriteError(_status_words(response.status))
    return href, response.etag


def delete_event(connection: Connection, href: str, cancelled_body: bytes) -> None:
    """Remove the event at `href`; a server that refuses deletion gets `cancelled_body` (STATUS:CANCELLED)."""
    response = _send("DELETE", href, _headers(connection))
    if 200 <= response.status < 300 or response.status in GONE:
        return
    if response.status in NO_DELETE:
        response = _send("PUT", href, _headers(connection, **{"Content-Type": ICS_TYPE}), cancelled_body)
        if 200 <= response.status < 300:
            return
    raise WriteError(_status_words(response.status))


def write_calendar(connection: Connection) -> str:
    """The URL of the calendar bookings go into: the one the admin chose, else the first one the account has."""
    if connection.write_url:
        return connection.write_url
    try:
        _scheme, host, port, _path = outbound.split(connection.url)
        outbound.resolve(host, port)
    except ValueError:
        raise WriteError("the connection's address is not an http:// or https:// URL", retry=False) from None
    except outbound.Refused as exc:
        raise WriteError(f"not allowed: {exc}", retry=False) from None
    except outbound.Unreachable as exc:
        raise WriteError(str(exc)) from None
    client = DAVClient(
        url=connection.url,
        username=connection.username,
        password=_password(connection),
        timeout=TIMEOUT,
    )
    client.session.max_redirects = 0  # a redirect could lead past the address policy: not followed
    client.session.trust_env = False  # no proxy or .netrc from the environment: the address checked is the one reached
    try:
        with client:
            calendars = client.principal().calendars()
    except Exception as exc:  # the library raises its own errors and its HTTP client's: all mean "not found"
        raise WriteError(f"could not find the account's calendars ({type(exc).__name__})") from None
    if not calendars:
        raise WriteError("the account has no calendar to write into")
    return str(calendars[0].url)
