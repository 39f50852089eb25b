"""Exactly-once under real concurrency: threads against a threaded server, processes against gunicorn.

Runs on the test database: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.
"""

import http.cookiejar
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from tests.conftest import iso, tomorrow_at
from tests.helpers import ROOT
from webapp.booking.models import Booking
from webapp.extensions import db


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url: str, data: dict, opener=None) -> int:
    opener = opener or urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, urllib.parse.urlencode(data).encode(), timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def served(app):
    """The test app on a real threaded server (CSRF off: the threads post directly)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def race(base: str, posts: list[tuple[str, dict]]) -> list[int]:
    """Send every POST at the same moment from its own thread; the HTTP statuses, sorted."""
    barrier = threading.Barrier(len(posts))
    results = []

    def one(path, data):
        barrier.wait()
        results.append(post(base + path, data))

    threads = [threading.Thread(target=one, args=p) for p in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return sorted(results)


def form(start, n=0):
    return {"start": iso(start), "name": f"Person {n}", "email": f"p{n}@example.com", "timezone": "UTC"}


def count_bookings() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Booking.id)).where(Booking.status == "confirmed"))


def test_twenty_threads_one_token_make_exactly_one_booking(served, make_link):
    _, token = make_link()
    statuses = race(served, [(f"/book/{token}", form(tomorrow_at(10 + n % 8), n)) for n in range(20)])
    assert statuses == [303] + [410] * 19
    assert count_bookings() == 1


def test_two_links_racing_for_a_one_seat_slot(served, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", weekly={d: [(0, 1440)] for d in range(7)})
    tokens = [make_link(calendar=calendar)[1] for _ in range(2)]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 409]
    assert count_bookings() == 1


def test_five_links_racing_for_a_three_seat_slot(served, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", seats=3, weekly={d: [(0, 1440)] for d in range(7)})
    tokens = [make_link(calendar=calendar)[1] for _ in range(5)]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 303, 303, 409, 409]
    assert count_bookings() == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _client_process(base, token, n, barrier, results):
    """One invitee in its own process: open the page (cookie + CSRF token), wait, then book."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with opener.open(f"{base}/book/{token}", timeout=60) as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())[1]
    data = {**form(tomorrow_at(10 + n % 8), n), "csrf_token": csrf}
    barrier.wait()
    results.put(post(f"{base}/book/{token}", data, opener))


def test_twenty_processes_against_gunicorn_make_exactly_one_booking(app, make_link):
    _, token = make_link()
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "RATELIMIT_ENABLED": "false",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([gunicorn, "-w", "4", "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "gunicorn did not start"
                time.sleep(0.2)
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(20), ctx.Queue()
        processes = [ctx.Process(target=_client_process, args=(base, token, n, barrier, results)) for n in range(20)]
        for p in processes:
            p.start()
        statuses = sorted(results.get(timeout=120) for _ in processes)
        for p in processes:
            p.join(30)
    finally:
        server.terminate()
        server.wait(20)
    assert statuses == [303] + [410] * 19
    assert count_bookings() == 1
