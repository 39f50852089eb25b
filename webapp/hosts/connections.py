"""Rules for a host's connected calendars: add a CalDAV account or an ICS feed, change, remove.

Saving checks the address against the outbound-address policy WITHOUT connecting (a literal address or
localhost is judged now, a name when a sync resolves it) and seals the secret with webapp/secretbox.py:
a CalDAV password through credentials.py, an ICS feed's whole URL (Google's "secret address") under
ICS_PURPOSE, with only its host kept in `url` for display. Neither is shown again nor logged.
Reading busy time is sync.py's.
"""

from urllib.parse import urlsplit

from sqlalchemy import delete, select, update

from webapp import outbound, secretbox
from webapp.audit import audit
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.hosts import credentials
from webapp.hosts.caldav_read import Account, same_server
from webapp.hosts.ics_feed import feed_url
from webapp.hosts.models import CALDAV, ICS, STALE_BUSY, STALE_IGNORE, BusyBlock, Connection, Host

ICS_PURPOSE = "ics-url"
URL_MAX = 2000
LABEL_MAX = 200
USERNAME_MAX = 254
PASSWORD_MAX = 1000
STALE_POLICIES = {
    STALE_BUSY: "treat that time as busy",
    STALE_IGNORE: "ignore it",
}


class Invalid(ValueError):
    """Input that cannot be saved: {field: message}; nothing was changed."""

    def __init__(self, fields: dict[str, str]):
        super().__init__("; ".join(fields.values()))
        self.fields = fields


def check_address(url: str, field: str = "url", feed: bool = False) -> str:
    """The address as it will be used (webcal:// read as https:// for a feed); Invalid when it may not be.

    No network traffic: a literal address or localhost is judged by the policy now, a name at each sync."""
    if len(url or "") > URL_MAX:
        raise Invalid({field: f"The address is longer than {URL_MAX} characters."})
    url = feed_url(url) if feed else (url or "").strip()
    if not url:
        raise Invalid({field: "Enter the address."})
    try:
        _scheme, host, port, _path = outbound.split(url)
    except ValueError:
        accepted = "https://, http:// or webcal://" if feed else "https:// or http://"
        raise Invalid({field: f"Enter a full address starting with {accepted}."}) from None
    if urlsplit(url).username or urlsplit(url).password:
        raise Invalid({field: "Leave the username and password out of the address; use the fields for them."})
    if problem := outbound.host_problem(host, port):
        raise Invalid(
            {
                field: f"OneSlot may not connect there: {problem}. "
                "Internal networks can be allowed with OUTBOUND_ALLOWED_NETWORKS."
            }
        )
    return url


def _label(label: str, default: str) -> str:
    if len(label or "") > LABEL_MAX:
        raise Invalid({"label": f"Keep the name under {LABEL_MAX} characters."})
    return " ".join((label or "").split()) or default[:LABEL_MAX]


def _policy(policy: str | None) -> str:
    policy = policy or STALE_BUSY
    if policy not in STALE_POLICIES:
        raise Invalid({"stale_policy": "Choose “busy” or “ignore”."})
    return policy


def _calendar_urls(server: str, read_urls, write_url) -> tuple[list[str], str]:
    """Chosen calendars must be on the account's server (a sync connects only there)."""
    errors = {}
    reads = []
    for url in read_urls or []:
        if not isinstance(url, str) or not same_server(server, url.strip()):
            errors["calendar_urls"] = "Each calendar must be an address on the same server as the account."
        else:
            reads.append(url.strip())
    write = (write_url or "").strip() if isinstance(write_url, str) or write_url is None else None
    if write is None or (write and not same_server(server, write)):
        errors["write_calendar_url"] = "The calendar for bookings must be an address on the same server."
    if errors:
        raise Invalid(errors)
    return reads, write or ""


def add_caldav(
    host: Host,
    *,
    url: str,
    username: str,
    password: str,
    label: str = "",
    stale_policy: str | None = None,
    calendar_urls=None,
    write_calendar_url=None,
) -> Connection:
    """Add a CalDAV account (its calendars are found at the first sync). Commits."""
    errors: dict[str, str] = {}
    try:
        url = check_address(url)
    except Invalid as exc:
        errors.update(exc.fields)
    if len(username or "") > USERNAME_MAX:
        errors["username"] = f"The username is longer than {USERNAME_MAX} characters."
    elif not (username or "").strip():
        errors["username"] = "Enter the username you sign in to the calendar server with."
    username = (username or "").strip()
    if not password:
        errors["password"] = "Enter the password (an app password where the server offers them)."
    elif len(password) > PASSWORD_MAX:
        errors["password"] = f"The password is longer than {PASSWORD_MAX} characters."
    try:
        label = _label(label, "CalDAV" if errors else urlsplit(url).hostname or "CalDAV")
        stale_policy = _policy(stale_policy)
        if "url" not in errors:
            reads, write = _calendar_urls(url, calendar_urls, write_calendar_url)
    except Invalid as exc:
        errors.update(exc.fields)
    if errors:
        raise Invalid(errors)
    connection = Connection(
        host_id=host.id,
        kind=CALDAV,
        label=label,
        url=url,
        username=username,
        secret=credentials.seal_password(password),
        read_urls=reads,
        write_url=write,
        stale_policy=stale_policy,
    )
    db.session.add(connection)
    db.session.commit()
    audit("host.connection.add", host_id=host.id, connection_id=connection.id, kind=CALDAV)
    return connection


def add_ics(host: Host, *, url: str, label: str = "", stale_policy: str | None = None) -> Connection:
    """Subscribe the host to an ICS feed; the URL is sealed, only its host kept in clear. Commits."""
    errors: dict[str, str] = {}
    try:
        url = check_address(url, feed=True)
    except Invalid as exc:
        errors.update(exc.fields)
    try:
        shown = urlsplit(url).hostname or "" if not errors else ""
        label = _label(label, f"Calendar feed ({shown})" if shown else "Calendar feed")
        stale_policy = _policy(stale_policy)
    except Invalid as exc:
        errors.update(exc.fields)
    if errors:
        raise Invalid(errors)
    connection = Connection(
        host_id=host.id,
        kind=ICS,
        label=label,
        url=shown,
        secret=secretbox.seal(url, ICS_PURPOSE),
        stale_policy=stale_policy,
    )
    db.session.add(connection)
    db.session.commit()
    audit("host.connection.add", host_id=host.id, connection_id=connection.id, kind=ICS)
    return connection


def update_connection(
    connection: Connection,
    *,
    label: str,
    stale_policy: str | None,
    url: str | None = None,
    username: str | None = None,
    password: str = "",
    read_urls=None,
    write_url=None,
) -> None:
    """Change a connection; an empty password keeps the one saved, a new address is read at the next sync. Commits."""
    errors: dict[str, str] = {}
    new_url = connection.url
    try:
        if url is not None and connection.kind == CALDAV:
            new_url = check_address(url)
        elif url:  # a feed's address is replaced only when one is typed (the saved one is never shown)
            new_url = check_address(url, feed=True)
    except Invalid as exc:
        errors.update(exc.fields)
    try:
        label = _label(label, connection.label)
        stale_policy = _policy(stale_policy)
        if connection.kind == CALDAV and "url" not in errors:
            reads, write = _calendar_urls(
                new_url,
                connection.read_urls if read_urls is None else read_urls,
                connection.write_url if write_url is None else write_url,
            )
    except Invalid as exc:
        errors.update(exc.fields)
    if connection.kind == CALDAV:
        username = connection.username if username is None else username.strip()
        if not username or len(username) > USERNAME_MAX:
            errors["username"] = "Enter the username you sign in to the calendar server with."
    if len(password or "") > PASSWORD_MAX:
        errors["password"] = "That password is too long."
    if errors:
        raise Invalid(errors)
    connection.label, connection.stale_policy = label, stale_policy or STALE_BUSY
    if connection.kind == CALDAV:
        if new_url != connection.url:
            connection.found_calendars, reads, write = [], [], ""  # another server: find its calendars again
        connection.url, connection.username = new_url, username or ""
        connection.read_urls, connection.write_url = reads, write
        if password:
            connection.secret = credentials.seal_password(password)
    elif url:
        connection.url = urlsplit(new_url).hostname or ""
        connection.secret = secretbox.seal(new_url, ICS_PURPOSE)
    if url or password:
        connection.next_sync_at, connection.failures = utcnow(), 0  # read the new address or login soon
    db.session.commit()
    audit("host.connection.update", host_id=connection.host_id, connection_id=connection.id)


def remove(connection: Connection) -> None:
    """Remove a connection and its busy time; the host's busy_seq moves when time was freed. Commits."""
    host_id, connection_id = connection.host_id, connection.id
    had_blocks = db.session.scalar(select(BusyBlock.id).where(BusyBlock.connection_id == connection_id).limit(1))
    db.session.execute(delete(BusyBlock).where(BusyBlock.connection_id == connection_id))
    db.session.delete(connection)
    if had_blocks is not None or connection.stale_policy == STALE_BUSY:
        db.session.execute(update(Host).where(Host.id == host_id).values(busy_seq=Host.busy_seq + 1))
    db.session.commit()
    audit("host.connection.remove", host_id=host_id, connection_id=connection_id)


def for_host(host_id: int) -> list[Connection]:
    """A host's connections, oldest first (a host has a handful)."""
    return list(db.session.scalars(select(Connection).where(Connection.host_id == host_id).order_by(Connection.id)))


def account(connection: Connection) -> Account:
    """A CalDAV connection's login, the password opened (SecretUnreadable after a key rotation)."""
    return Account(connection.url, connection.username, credentials.open_password(connection))


def feed_address(connection: Connection) -> str:
    """An ICS connection's full URL, opened (SecretUnreadable after a key rotation)."""
    return secretbox.unseal(connection.secret, ICS_PURPOSE)
