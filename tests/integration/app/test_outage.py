"""The database goes away: 503 pages with Retry-After (not 500s), and a worker that waits quietly.

PostgreSQL goes down for real behind a loopback forwarder (tests/dbproxy.py: new connections refused,
open ones cut). SQLite's file goes away with its directory; its connections in the pool still hold
the old file open (as they would on any Unix), so the test drops them: the next ones cannot open it.
"""

import html
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import PASSWORD, empty_tables, make_app
from tests.dbproxy import BlackHole, DbProxy
from tests.factories import ALL_WEEK
from tests.helpers import ROOT
from webapp import outage
from webapp.api import keys
from webapp.auth.services import create_admin
from webapp.booking import links
from webapp.calendars import services as calendar_services
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.mail import outbox

FLASK = Path(sys.executable).with_name("flask")
ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


class Database:
    """The test's database and a way to take it away and bring it back."""

    def __init__(self, tmp_path):
        if ON_POSTGRES:
            self.proxy: DbProxy | None = DbProxy(("127.0.0.1", 5432))
            self.url = self.proxy.url(os.environ["TEST_DATABASE_URL"])
        else:
            self.proxy = None
            self.folder = tmp_path / "data"
            self.folder.mkdir()
            self.url = f"sqlite:///{self.folder / 'app.db'}"

    def down(self, app) -> None:
        if self.proxy:
            self.proxy.down()
            return
        self.folder.rename(self.folder.with_name("data-away"))
        with app.app_context():
            db.engine.dispose()  # a pooled connection keeps the moved file open; a new one cannot find it

    def up(self) -> None:
        if self.proxy:
            self.proxy.up()
            return
        self.folder.with_name("data-away").rename(self.folder)

    def close(self) -> None:
        if self.proxy:
            self.proxy.close()


@pytest.fixture
def database(tmp_path):
    found = Database(tmp_path)
    yield found
    found.close()


@pytest.fixture
def site(database, tmp_path):
    """An app on `database` with a signed-in admin, a booking link and an API key."""
    # Rate limits on, as deployed: the limiter's headers must not overwrite the outage's Retry-After.
    app = make_app(tmp_path / "site", ENV_VARS={"DATABASE_URL": database.url}, RATELIMIT_ENABLED=True)
    with app.app_context():
        empty_tables()
        create_admin("owner@example.com", PASSWORD)
        calendar = calendar_services.create_calendar(
            {"name": "Intro call", "timezone": "UTC", "duration": 30}, weekly=ALL_WEEK
        )
        contact = Contact(email_key="ada@example.com", first_name="Ada", last_name="L", email="ada@example.com")
        db.session.add(contact)
        link = links.issue(calendar, contact)
        db.session.commit()
        token = links.url(link).rsplit("/", 1)[1]
        _, key = keys.create_key("outage")
    admin = app.test_client()
    assert admin.post("/login", data={"email": "owner@example.com", "password": PASSWORD}).status_code == 303
    yield app, admin, f"/book/{token}", {"Authorization": f"Bearer {key}"}
    with app.app_context():
        db.engine.dispose()


def pages(app, admin, book_path, api_headers):
    invitee = app.test_client()
    return {
        "booking": invitee.get(book_path),
        "booking in German": invitee.get(book_path, headers={"Accept-Language": "de"}),
        "api": invitee.get("/api/v1/calendars", headers=api_headers),
        "admin": admin.get("/calendars/"),
        "healthz": invitee.get("/healthz"),
    }


def test_pages_answer_503_while_the_database_is_away_and_200_when_it_is_back(site, database):
    app, admin, book_path, api_headers = site
    assert {name: r.status_code for name, r in pages(*site).items()} == dict.fromkeys(
        ["booking", "booking in German", "api", "admin", "healthz"], 200
    )

    database.down(app)
    try:
        down = pages(*site)
        booking_form = app.test_client().post(book_path, data={"start": "2031-01-06T10:00:00Z", "name": "Ada"})
    finally:
        database.up()
    assert booking_form.status_code == 503 and "Retry-After" in booking_form.headers
    assert {name: r.status_code for name, r in down.items()} == dict.fromkeys(down, 503)
    for name in ("booking", "booking in German", "api", "admin"):
        assert down[name].headers["Retry-After"] == str(outage.RETRY_AFTER_SECONDS), name
        assert "Traceback" not in down[name].text
    text = {name: html.unescape(response.text) for name, response in down.items()}
    assert "<h1>We'll be right back</h1>" in text["booking"] and "try again in a moment" in text["booking"], text[
        "booking"
    ]
    assert down["booking"].headers["Content-Type"].startswith("text/html")
    assert "<h1>Gleich wieder da</h1>" in text["booking in German"]
    assert "versuchen Sie es gleich noch einmal" in text["booking in German"]
    assert down["api"].json == {"error": down["api"].json["error"]} and "try again" in down["api"].json["error"]
    assert "<h1>We'll be right back</h1>" in text["admin"] and "cannot reach its database" in text["admin"]
    assert down["healthz"].json["database"] == "unreachable"

    # Back without a restart: the same pages, the same sign-in.
    back = pages(*site)
    assert {name: r.status_code for name, r in back.items()} == dict.fromkeys(back, 200)
    assert "Calendars" in back["admin"].text


def test_every_outage_answer_says_retry_after_30_and_a_webhook_gets_json(site, database, caplog):
    """The limiter's headers (RATELIMIT_HEADERS_ENABLED) leave the outage's Retry-After alone, whatever the
    route's limit; the inbound webhook answers JSON like the API; each request line says how long it took."""
    app, admin, book_path, api_headers = site
    invitee = app.test_client()
    database.down(app)
    try:
        with caplog.at_level("INFO", logger="oneslot.request"):
            down = {
                "booking page": invitee.get(book_path),
                "booking form": invitee.post(book_path, data={"start": "2031-01-06T10:00:00Z", "name": "Ada"}),
                "resend (3/hour)": invitee.post(f"{book_path}/resend"),
                "api": invitee.get("/api/v1/calendars", headers=api_headers),
                "webhook": invitee.post("/hooks/1/" + "s" * 32, json={"email": "ada@example.com"}),
                "admin": admin.get("/calendars/"),
            }
    finally:
        database.up()
    assert {name: r.status_code for name, r in down.items()} == dict.fromkeys(down, 503)
    assert {name: r.headers.get("Retry-After") for name, r in down.items()} == dict.fromkeys(down, "30")
    assert down["booking page"].headers["X-RateLimit-Limit"] == "120"  # the limiter did answer
    assert down["webhook"].headers["Content-Type"] == "application/json"
    assert down["webhook"].json == down["api"].json and "try again" in down["webhook"].json["error"]
    lines = {record.path: record for record in caplog.records if record.name == "oneslot.request"}
    assert lines["/calendars/"].status == 503  # signed in: the admin's loader met the outage first
    assert {path: type(line.duration_ms) for path, line in lines.items()} == dict.fromkeys(lines, float)
    assert "Nonems" not in caplog.text


def test_a_database_that_never_answers_fails_in_seconds(tmp_path):
    """A server that takes the connection and never answers (a hung host, a partition): the health check
    and the pages answer 503 after DATABASE_CONNECT_TIMEOUT, not after libpq's two minutes."""
    hole = BlackHole()
    app = make_app(tmp_path, ENV_VARS={"DATABASE_URL": hole.url(), "DATABASE_CONNECT_TIMEOUT": "2"})
    answers = {}

    def ask(name, path):
        answers[name] = app.test_client().get(path)

    asked = {"healthz": "/healthz", "booking": "/book/" + "A" * 44}
    threads = [threading.Thread(target=ask, args=item, daemon=True) for item in asked.items()]
    started = time.monotonic()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(0.0, started + 15 - time.monotonic()))
        seconds, in_time = time.monotonic() - started, sorted(answers)
    finally:
        hole.close()  # a request still waiting gets its answer now
        for thread in threads:
            thread.join(10)
        with app.app_context():
            db.engine.dispose()
    assert in_time == sorted(asked) and seconds < 15, f"only {in_time} answered within {seconds:.1f}s"
    assert answers["healthz"].status_code == 503 and answers["healthz"].json["database"] == "unreachable"
    assert answers["booking"].status_code == 503
    assert answers["booking"].headers["Retry-After"] == str(outage.RETRY_AFTER_SECONDS)


@pytest.mark.skipif(not ON_POSTGRES, reason="libpq's options: a SQLite file has no connection to watch")
def test_postgres_connections_carry_the_timeout_and_keepalives(app):
    """The options reach libpq and the socket itself (webapp/config.py, PG_KEEPALIVES)."""
    with app.app_context():
        raw = db.engine.raw_connection()
        try:
            connection = raw.driver_connection
            parameters = connection.info.get_parameters()
            sock = socket.socket(fileno=os.dup(connection.fileno()))
            with sock:
                options = {
                    "keepalive": sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                    "idle": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
                    "interval": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
                    "count": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
                    "user_timeout": sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
                }
        finally:
            raw.close()
    assert parameters["connect_timeout"] == "5"
    assert options == {"keepalive": 1, "idle": 5, "interval": 2, "count": 3, "user_timeout": 10_000}


def test_other_database_errors_stay_500(app, client, monkeypatch, make_link):
    """A bug's database error (here: a statement the database rejects) is not an outage."""
    _, token = make_link()
    from webapp.booking import views

    def broken(_token):
        db.session.execute(db.text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(views.links, "find", broken)
    response = client.get(f"/book/{token}")
    assert response.status_code == 500 and "Retry-After" not in response.headers


def test_what_counts_as_unavailable():
    import sqlite3

    def wrapped(orig):
        return OperationalError("SELECT 1", {}, orig)

    assert outage.is_unavailable(wrapped(sqlite3.OperationalError("unable to open database file")))
    assert outage.is_unavailable(wrapped(sqlite3.OperationalError("database is locked")))
    assert not outage.is_unavailable(wrapped(sqlite3.OperationalError("no such table: contacts")))
    assert not outage.is_unavailable(ValueError("connection refused"))
    assert outage.is_unavailable(wrapped(psycopg.OperationalError("connection refused")))
    assert outage.is_unavailable(wrapped(psycopg.errors.ConnectionTimeout("connection timeout expired")))
    # A connection the keepalives or tcp_user_timeout ended, as libpq words it.
    assert outage.is_unavailable(wrapped(psycopg.OperationalError("consuming input failed: Connection timed out")))
    assert outage.is_unavailable(wrapped(psycopg.errors.AdminShutdown("terminating connection")))
    assert outage.is_unavailable(wrapped(psycopg.errors.TooManyConnections("too many clients")))
    assert not outage.is_unavailable(wrapped(psycopg.errors.DeadlockDetected("deadlock detected")))
    assert not outage.is_unavailable(wrapped(psycopg.errors.QueryCanceled("statement timeout")))


def test_the_backoff_doubles_to_30_seconds_and_logs_once_each_way(caplog):
    backoff = outage.Backoff()
    error = OperationalError("SELECT 1", {}, Exception("connection refused\nDETAIL: more"))
    with caplog.at_level("INFO", logger="oneslot.worker"):
        delays = [backoff.failed(error) for _ in range(8)]
        backoff.succeeded()
        backoff.succeeded()
        assert backoff.failed(error) == 1.0
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3 and "connection refused" in messages[0] and "DETAIL" not in messages[0]
    assert messages[1].startswith("database available again after")


# --- the worker, as a process --------------------------------------------------------------------


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.mark.slow
@pytest.mark.skipif(not ON_POSTGRES, reason="a SQLite file the worker holds open does not go away; see the page test")
def test_the_worker_waits_quietly_through_an_outage_and_resumes(database, tmp_path, smtp_server, real_clock):
    app = make_app(tmp_path, ENV_VARS={"DATABASE_URL": database.url})
    with app.app_context():
        empty_tables()
        outbox.queue_email("before@example.com", "Before", "test_message", {"base_url": "x"})
        db.session.commit()
        db.engine.dispose()
    env = {
        **os.environ,
        "DATABASE_URL": database.url,
        "SECRET_KEY": "outage-test-secret-key",
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": str(smtp_server.port),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("TEST_DATABASE_URL", None)
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(FLASK), "--app", "wsgi", "worker", "--poll", "0.2"], cwd=ROOT, env=env, stderr=out)
    try:
        wait_for(lambda: len(smtp_server.messages) == 1, 30, "the first message")
        lines_before = len(log.read_text().splitlines())

        database.down(app)
        time.sleep(7)
        outage_lines = log.read_text().splitlines()[lines_before:]
        database.up()

        with app.app_context():
            outbox.queue_email("after@example.com", "After", "test_message", {"base_url": "x"})
            db.session.commit()
            db.engine.dispose()
        # The backoff after 7 s away is at most 8 s; the message goes at the next try.
        wait_for(lambda: len(smtp_server.messages) == 2, 40, "the message queued after the outage")

        # A stop request during the backoff is not kept waiting for it.
        database.down(app)
        wait_for(lambda: log.read_text().count("database unavailable") == 2, 15, "the second outage's line")
        time.sleep(1.5)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        stop_seconds = time.monotonic() - stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        database.up()
    text = log.read_text()
    assert proc.returncode == 0, text
    assert stop_seconds < 5, text
    # ~7 s of outage: one line when it went, nothing per try, no traceback.
    assert len(outage_lines) <= 2, "\n".join(outage_lines)
    assert sum("database unavailable" in line for line in outage_lines) == 1, text
    assert text.count("database available again after") == 1, text
    assert "Traceback" not in text
    assert [message["Subject"] for message in smtp_server.messages] == ["Before", "After"]


def test_worker_once_says_the_database_is_unavailable_in_one_line(tmp_path):
    app = make_app(tmp_path, ENV_VARS={"DATABASE_URL": f"sqlite:///{tmp_path / 'missing' / 'app.db'}"})
    with app.app_context():  # as `flask` gives every command
        result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.output.strip() == "Error: the database is unavailable: unable to open database file"


def test_the_outage_page_asks_the_database_nothing_more(app, client, monkeypatch, make_link):
    """Once a request met a database that is away, its 503 page (and the branding it wears) reads nothing
    more from it: against a server that hangs, a second read would cost a second connect timeout."""
    from sqlalchemy import event

    from webapp.booking import views

    _, token = make_link()
    after_the_outage: list[str] = []
    met = []

    def away(_token):
        met.append(True)
        raise OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))

    def record(_conn, _cursor, statement, *_args):
        if met:
            after_the_outage.append(statement)

    monkeypatch.setattr(views.links, "find", away)
    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(f"/book/{token}")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 503 and met
    assert after_the_outage == []
