"""CalDAV accounts: finding an account's calendars and reading their busy time, with the `caldav` library.

The connection's address goes through the outbound-address policy before every sync: the host name is
resolved once (`outbound.resolve`, every address checked) and the library's HTTP session (requests) gets
an adapter whose connections open sockets only to those addresses (`outbound.connect`), so it never
asks DNS again; the client keeps that session even where the library would make a new one. Redirects
are refused (max_redirects = 0): a 3xx is an error asking for the final address.
Events come back from a calendar-query REPORT with a time range and are expanded here, with the ICS
feed's code (`ics_feed.busy`), so both kinds of connection read recurrences the same way.
"""

import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import requests
from caldav.davclient import DAVClient
from caldav.lib import error as caldav_error
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webapp import outbound
from webapp.hosts.ics_feed import Block, ReadError, busy


@dataclass(frozen=True)
class Account:
    """What a sync needs to log in: the server's address and the credentials (the password in clear, in memory only)."""

    url: str
    username: str
    password: str


def same_server(url: str, other: str) -> bool:
    """True when both URLs name the same scheme, host and port (a calendar of the account's server)."""
    a, b = urlsplit(url), urlsplit(other)
    try:
        return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)
    except ValueError:
        return False


def _pinned_connections(addresses: list[tuple[int, tuple]]) -> dict:
    """urllib3 pool classes whose connections open a socket only to the checked addresses (TLS still
    verifies the certificate for the URL's host name, which stays the connection's host)."""

    def new_conn(connection) -> socket.socket:
        timeout = connection.timeout if isinstance(connection.timeout, int | float) else None
        return outbound.connect(addresses, timeout)

    http = type("PinnedHTTPConnection", (HTTPConnection,), {"_new_conn": new_conn})
    https = type("PinnedHTTPSConnection", (HTTPSConnection,), {"_new_conn": new_conn})
    return {
        "http": type("PinnedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("PinnedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


class _PinnedAdapter(HTTPAdapter):
    """A requests adapter whose pools connect only to the checked addresses, with no retries."""

    def __init__(self, addresses: list[tuple[int, tuple]]):
        self.pools = _pinned_connections(addresses)
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pools


def _pinned_session(url: str) -> requests.Session:
    """A requests session that reaches only the checked addresses of the URL's host, and follows no redirect."""
    try:
        _scheme, host, port, _path = outbound.split(url)
    except ValueError:
        raise ReadError("refused: that is not an http:// or https:// URL with a host") from None
    try:
        addresses = outbound.resolve(host, port)
    except outbound.Refused as exc:
        raise ReadError(f"refused: {exc}") from None
    except outbound.Unreachable as exc:
        raise ReadError(f"could not reach the server: {exc}") from None
    session = requests.Session()
    adapter = _PinnedAdapter(addresses)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.max_redirects = 0  # a 3xx raises TooManyRedirects: no request leaves for another address
    session.trust_env = False  # no proxy from the environment: the request goes where the policy checked
    return session


class _PinnedDAVClient(DAVClient):
    """DAVClient on a pinned session, kept even where the library would make itself a new one (a retry)."""

    def __init__(self, pinned: requests.Session, **kwargs):
        self._pinned = pinned
        super().__init__(**kwargs)

    @property
    def session(self) -> requests.Session:
        return self._pinned

    @session.setter
    def session(self, _value) -> None:
        pass  # the pinned session stays


def _client(account: Account, timeout: float) -> DAVClient:
    return _PinnedDAVClient(
        _pinned_session(account.url),
        url=account.url,
        username=account.username,
        password=account.password,
        timeout=int(max(1, timeout)),
        enable_rfc6764=False,  # no DNS SRV/TXT discovery: the address given is the address used
        require_tls=False,  # http:// is the admin's choice (an internal server they allowed)
    )


def _in_words(exc: Exception) -> ReadError:
    """A library or network error as a sentence for the admin (never the server's text or the password)."""
    if isinstance(exc, ReadError):
        return exc
    if isinstance(exc, caldav_error.AuthorizationError):
        return ReadError("the server refused the username or password")
    if isinstance(exc, caldav_error.NotFoundError):
        return ReadError("the server has no calendar at that address")
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return ReadError("the server answered with a redirect; enter the address it redirects to")
    if isinstance(exc, requests.exceptions.Timeout):
        return ReadError("timed out: the server did not answer in time")
    if isinstance(exc, requests.exceptions.SSLError):
        return ReadError("the TLS connection failed (is the certificate valid?)")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return ReadError("could not connect to the server")
    if isinstance(exc, caldav_error.DAVError):
        return ReadError("the server did not answer as a CalDAV server (check the address)")
    return ReadError("the calendar server could not be read")


def discover(client: DAVClient) -> list[dict]:
    """The account's calendars as [{"url", "name"}], in the server's order."""
    found = []
    for calendar in client.principal().calendars():
        try:
            name = calendar.get_display_name() or ""
        except Exception:  # a calendar without a name is still a calendar
            name = ""
        url = str(calendar.url)
        found.append({"url": url, "name": str(name)[:200] or url.rstrip("/").rsplit("/", 1)[-1]})
    return found


def read(
    account: Account, read_urls: list[str], zone: ZoneInfo, start: datetime, end: datetime, timeout: float
) -> tuple[list[dict], list[Block]]:
    """(the account's calendars, the merged busy time in [start, end) of read_urls, or of all when empty)."""
    try:
        with _client(account, timeout) as client:
            found = discover(client)
            if not found:
                raise ReadError("the account holds no calendar")
            urls = list(read_urls) or [calendar["url"] for calendar in found]
            documents = []
            for url in urls:
                calendar = client.calendar(url=url)
                for item in calendar.search(start=start, end=end, event=True):
                    documents.append(item.data)
    except Exception as exc:
        raise _in_words(exc) from None
    return found, busy(documents, zone, start, end)
