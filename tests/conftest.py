"""Fixtures shared by every test: one app per session on tables emptied per test, a client, a
signed-in admin, factories, and the clock: `pinned_day` runs a test on each of the days where dates
go wrong, and ONESLOT_TEST_TODAY runs the whole suite as if today were another day."""

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from sqlalchemy import event

from webapp import create_app
from webapp.extensions import db, limiter

PASSWORD = "correct horse battery"


def database_url(tmp_path) -> str:
    """PostgreSQL when TEST_DATABASE_URL is set, else a fresh SQLite file for this test."""
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


def make_app(tmp_path, **overrides):
    """A new app on the test database; empty_tables() in its context gives it its tables."""
    env = {"SECRET_KEY": "test-secret-key-not-for-production", "DATABASE_URL": database_url(tmp_path)}
    env.update(overrides.pop("ENV_VARS", {}))
    settings = {
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,  # one test process makes many requests from one address
        # Still scrypt, at 1/32 of the default cost: ~240 tests make an admin and ~220 sign in.
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }
    settings.update(overrides)
    return create_app({"ENV_VARS": env, **settings})


def empty_tables() -> None:
    """Every table there and empty, ids from 1. When the tables are all there (the shared app's database,
    every test but its first) their rows go, which costs a fraction of creating them again; a fresh
    database, or one a test dropped tables from, gets them made."""
    if set(db.metadata.tables) <= set(db.inspect(db.engine).get_table_names()):
        with db.engine.begin() as conn:
            delete_rows(conn)
        return
    db.drop_all()
    db.create_all()


def delete_rows(conn) -> None:
    """Empty every table and restart its ids: one TRUNCATE on PostgreSQL, a DELETE per table on SQLite."""
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{table}"' for table in db.metadata.tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
        return
    for table in reversed(db.metadata.sorted_tables):
        conn.execute(table.delete())
    if conn.exec_driver_sql("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").first():
        conn.exec_driver_sql("DELETE FROM sqlite_sequence")


@pytest.fixture(scope="session")
def shared_app(tmp_path_factory):
    """One app for every test that takes `app` (building one costs ~40 ms of route compiling, ~1,300
    times a run). A test that needs its own settings or instance folder calls make_app instead."""
    return make_app(tmp_path_factory.mktemp("shared-app"))


@pytest.fixture
def app(shared_app):
    """The shared app on empty tables; the settings and extension state a test changed are put back."""
    settings = copy.deepcopy(dict(shared_app.config))
    extensions = dict(shared_app.extensions)
    limiter.init_app(shared_app)  # the limiter is module-wide: an app a test made may have switched it on
    with shared_app.app_context():
        empty_tables()
        yield shared_app
        db.session.remove()
        db.engine.dispose()
    shared_app.config.clear()
    shared_app.config.update(settings)
    shared_app.extensions.clear()  # drops what a test left there: the booking cache, retention's rest
    shared_app.extensions.update(extensions)


@pytest.fixture
def own_app(app, tmp_path):
    """An app of its own on the shared app's (emptied) database, for a test that changes the app
    itself, such as adding a route."""
    own = make_app(tmp_path, ENV_VARS={"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]})
    yield own
    with own.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def admin(app):
    from webapp.auth.services import create_admin

    return create_admin("admin@example.com", PASSWORD)


@pytest.fixture
def login(client, admin):
    """A client signed in as the admin."""
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def hx():
    """Headers HTMX adds to its requests."""
    return {"HX-Request": "true"}


@pytest.fixture
def make_calendar(app):
    from webapp.calendars import services

    def make(**fields):
        data = {"name": "Intro call", "timezone": "UTC", "duration": 30}
        data.update(fields)
        weekly = data.pop("weekly", {d: [(9 * 60, 17 * 60)] for d in range(5)})
        return services.create_calendar(data, weekly=weekly)

    return make


@pytest.fixture
def make_host(app):
    """make_host(name="Sam Rivera", email=…, timezone="UTC", calendars=(cal, …)): a host who does not sign in,
    made a host of each calendar given (added after its current hosts)."""
    from webapp.calendars import services as calendar_services
    from webapp.hosts import services

    counter = iter(range(1, 1_000_000))

    def make(name=None, email=None, timezone="UTC", calendars=()):
        n = next(counter)
        host = services.create_host(name or f"Host {n}", email or f"host{n}@example.com", timezone)
        for cal in calendars:
            calendar_services.set_hosts(cal, [h.id for h in cal.hosts] + [host.id])
        db.session.commit()
        return host

    return make


@pytest.fixture
def make_contact(app):
    from webapp.contacts.models import Contact, normalize_email

    counter = iter(range(1, 1_000_000))

    def make(**fields):
        n = next(counter)
        data = {"first_name": "Ada", "last_name": f"Lovelace{n}", "email": f"ada{n}@example.com"}
        data.update(fields)
        contact = Contact(email_key=normalize_email(data["email"]), **data)
        db.session.add(contact)
        db.session.commit()
        return contact

    return make


# --- mail: a real SMTP server on loopback ---------------------------------------------------------


class SMTPSink:
    """An aiosmtpd server on 127.0.0.1 that keeps what it receives and can refuse or stall on demand."""

    def __init__(self):
        import threading

        self.host = "127.0.0.1"
        self.port = free_port()
        self.messages = []  # email.message.EmailMessage, in arrival order
        self.envelopes = []  # (mail_from, rcpt_tos)
        self.refusals = []  # the replies sent instead of accepting
        self.refuse_next = 0
        self.refuse_reply = "451 4.3.0 Mailbox busy, try again later"
        self.delay = 0.0  # seconds to stall in DATA before answering
        self.receiving = threading.Event()  # set when a DATA command arrives

    def refuse(self, count: int, reply: str | None = None) -> None:
        """Answer the next `count` messages with `reply` (a 4xx by default) instead of accepting them."""
        self.refuse_next = count
        if reply:
            self.refuse_reply = reply

    def configure(self, app) -> None:
        """Point the app's mail settings at this server (sending for real, even under TESTING)."""
        app.config.update(MAIL_SERVER=self.host, MAIL_PORT=self.port, MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=10)

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        import email
        from email import policy

        self.receiving.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse_next > 0:
            self.refuse_next -= 1
            self.refusals.append(self.refuse_reply)
            return self.refuse_reply
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_smtp_sink():
    """A real SMTP server on loopback (aiosmtpd) for the block; yields its SMTPSink."""
    from aiosmtpd.controller import Controller

    sink = SMTPSink()
    controller = Controller(sink, hostname=sink.host, port=sink.port, server_hostname="localhost")
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback; `smtp_server.configure(app)` makes the app send to it."""
    with running_smtp_sink() as sink:
        yield sink


@pytest.fixture
def make_link(app, make_calendar, make_contact):
    """Issue a one-time link; returns (link, token). Defaults: a calendar open all day, every day."""
    from webapp.booking import links

    def make(calendar=None, contact=None, **options):
        calendar = calendar or make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
        contact = contact or make_contact()
        link = links.issue(calendar, contact, **options)
        db.session.commit()
        return link, links.url(link).rsplit("/", 1)[1]

    return make


_tomorrow: dict[str, date] = {}


@pytest.fixture(autouse=True)
def _one_tomorrow_per_test():
    """tomorrow_at() names one day for the whole test, even when the test runs across midnight."""
    _tomorrow.clear()


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """An instant tomorrow (UTC), safely inside an all-day calendar's window. "Tomorrow" is fixed at
    the test's first call: a test that straddles midnight UTC still books one day, still ahead."""
    day = _tomorrow.setdefault("day", datetime.now(UTC).date() + timedelta(days=1))
    return datetime.combine(day, time(hour, minute), UTC)


def iso(instant) -> str:
    """The form value of a slot: '2026-12-01T15:00:00Z'."""
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


@contextmanager
def statements_run() -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block, whitespace collapsed."""
    statements: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


# --- the clock ------------------------------------------------------------------------------------

# The days where date code goes wrong, each at a UTC time chosen to make it harder. `pinned_day` runs a
# test once per day; the ids name why each day is there.
PINNED_DAYS = {
    # The 1st (days 1–9: the grid shows "1" where a zero-padded label said "01"); a Monday.
    "mon-1st": datetime(2027, 2, 1, 8, 0, tzinfo=UTC),
    # 01:30 EST: thirty minutes before New York's clocks jump to 03:00.
    "ny-spring-forward": datetime(2027, 3, 14, 6, 30, tzinfo=UTC),
    # 00:30 GMT: thirty minutes before London's clocks jump to 02:00.
    "london-spring-forward": datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
    # Saturday the 31st, a quarter to midnight: tomorrow is a Sunday in another month.
    "sat-31st-late": datetime(2027, 7, 31, 23, 45, tzinfo=UTC),
    # 01:30 BST, the first of London's two 01:30s; also a 31st.
    "london-fall-back": datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
    # 01:30 EDT, the first of New York's two 01:30s; a day 1–9.
    "ny-fall-back": datetime(2027, 11, 7, 5, 30, tzinfo=UTC),
    # Friday 31 December, late afternoon in London: after today a Mon–Fri calendar opens on 3 January.
    "fri-31-dec": datetime(2027, 12, 31, 16, 30, tzinfo=UTC),
    # 29 February, noon: a day most years lack, and a month's last day.
    "leap-day": datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
}


@pytest.fixture(params=list(PINNED_DAYS.values()), ids=list(PINNED_DAYS))
def pinned_day(request) -> Iterator[time_machine.Coordinates]:
    """The clock stopped at each of PINNED_DAYS in turn; yields time-machine's traveller, whose
    move_to() and shift() move it on. Ask for it before the fixtures that write rows (or with
    `usefixtures`), so their timestamps are on the pinned day too."""
    with time_machine.travel(request.param, tick=False) as clock:
        yield clock


@pytest.fixture
def real_clock() -> Iterator[None]:
    """The real clock (ticking) under ONESLOT_TEST_TODAY, for a test whose rows a subprocess reads:
    `flask worker` or gunicorn do not travel, so mail queued "in 2028" is not due for them. Ask
    for it first. Without ONESLOT_TEST_TODAY it changes nothing."""
    if _travel is None:
        yield
        return
    with time_machine.travel(time_machine.escape_hatch.datetime.datetime.now(UTC), tick=True):
        yield


def faked_today(value: str) -> datetime:
    """ONESLOT_TEST_TODAY's instant: '2028-02-29' (noon UTC) or an ISO instant ('2027-12-31T23:50Z')."""
    try:
        instant = datetime.fromisoformat(value if "T" in value else f"{value}T12:00:00+00:00")
    except ValueError:
        raise pytest.UsageError(f"ONESLOT_TEST_TODAY={value!r}: give a date (2028-02-29) or an ISO instant") from None
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


_travel = None


def pytest_configure(config):
    """ONESLOT_TEST_TODAY=2028-02-29 pytest: the whole suite "on" another day, to prove a test does not
    depend on today. Starts before collection, so module constants see the faked day; the clock ticks
    (threads, timeouts and the live server run as usual). Tests that pin their own clock still do."""
    global _travel
    own_database_per_worker()
    value = os.environ.get("ONESLOT_TEST_TODAY")
    if value:
        _travel = time_machine.travel(faked_today(value), tick=True)
        _travel.start()


def pytest_unconfigure(config):
    if _travel is not None:
        _travel.stop()


def own_database_per_worker() -> None:
    """Under pytest-xdist (-n) each worker runs on its own PostgreSQL database, TEST_DATABASE_URL's name
    with the worker's id (oneslot_test_gw0), made empty here and dropped after its last test: workers sharing
    one would empty each other's tables between tests."""
    url, worker = os.environ.get("TEST_DATABASE_URL", ""), os.environ.get("PYTEST_XDIST_WORKER")
    if worker and url.startswith("postgresql"):
        os.environ["TEST_DATABASE_URL"] = f"{url}_{worker}"
        recreate_database(os.environ["TEST_DATABASE_URL"])


@pytest.fixture(scope="session", autouse=True)
def _drop_worker_database() -> Iterator[None]:
    """A worker's own PostgreSQL database goes when its last test ends (not later, in pytest_unconfigure:
    xdist may already be closing the worker, which interrupts the drop)."""
    yield
    if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        recreate_database(os.environ["TEST_DATABASE_URL"], create=False)


def recreate_database(url: str, create: bool = True) -> None:
    """Drop the database `url` names (closing its connections) and, unless told not to, create it empty."""
    from sqlalchemy import create_engine, make_url

    name = make_url(url).database
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()


def pytest_report_header(config):
    if _travel is not None:
        return f"ONESLOT_TEST_TODAY: the suite runs as if it were {datetime.now(UTC):%A %Y-%m-%d %H:%M} UTC"


def wait_until_up(base: str, server, log=None, seconds: float = 30) -> None:
    """Wait until a server started as a subprocess answers /healthz; fail with its log if it dies or hangs."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                assert response.status == 200
                return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                said = log.read_text() if log else ""
                raise AssertionError(f"the server did not start:\n{said}") from None
            time.sleep(0.2)
