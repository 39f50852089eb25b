"""The browser harness: the app on a real server in a thread, Playwright driving Debian's Chromium."""

import os
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from tests.browser.helpers import issue_link
from tests.conftest import PASSWORD, empty_tables, make_app
from webapp.extensions import db

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Playwright's 5 s default is about what an HTMX round trip takes when both CI runs and other work
# share two cores; a longer wait costs nothing when the page is quick and ends a flaky "not visible".
expect.set_options(timeout=20_000)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: CI must run the browser tests (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium to run the browser tests")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": CHROMIUM_ARGS}


class LiveServer(str):
    """The server's base URL, which also knows its app (for setting up data in a test)."""

    app = None


@pytest.fixture
def live_server(tmp_path):
    """The app served by a real threaded HTTP server; yields its base URL."""
    app = make_app(tmp_path, TESTING=False, WTF_CSRF_ENABLED=True)
    with app.app_context():
        empty_tables()
        from webapp.auth.services import create_admin

        create_admin("admin@example.com", PASSWORD)
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = LiveServer(f"http://127.0.0.1:{server.server_port}")
    url.app = app
    yield url
    server.shutdown()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def admin_page(page, live_server):
    """A browser page signed in as the admin; fails the test on any console error."""
    errors = []

    def on_console(message):
        # Chromium logs every 4xx it receives; a 422 for an invalid form is expected behaviour.
        if message.type == "error" and not message.text.startswith(
            "Failed to load resource: the server responded with a status of 4"
        ):
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    # The tests start on the calendar list, where signing in used to land before the home page had a dashboard.
    page.goto(f"{live_server}/calendars/")
    page.base_url = live_server
    yield page
    assert errors == [], errors


@pytest.fixture
def new_york_calendar(live_server) -> int:
    """The id of a New York calendar open every day 09:00–17:00 (30-minute meetings, one seat)."""
    from webapp.calendars import services

    with live_server.app.app_context():
        calendar = services.create_calendar(
            {"name": "Discovery call", "timezone": "America/New_York", "duration": 30, "location": "Zoom"},
            weekly={d: [(9 * 60, 17 * 60)] for d in range(7)},
        )
        calendar_id = calendar.id
        db.session.remove()
        return calendar_id


@pytest.fixture
def link_url(live_server, new_york_calendar) -> str:
    """A one-time link on the New York calendar, for Grace."""
    return issue_link(live_server, new_york_calendar)
