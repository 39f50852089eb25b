"""Exactly-once under real concurrency: threads against a threaded server, processes against gunicorn.

Runs on the test database: SQLite by default, PostgreSQL when TEST_DATABASE_URL is set.
"""

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from tests.conftest import iso, tomorrow_at
from tests.helpers import ROOT
from tests.integration.booking.race_client import book, post
from webapp.booking import services
from webapp.booking.models import Booking
from webapp.extensions import db


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


def rearmed_link(make_link) -> str:
    """A link that booked, whose booking was cancelled, and that may book again (re-arm); its token."""
    link, token = make_link(rearm_on_cancel=True)
    first = services.book(link, tomorrow_at(9), services.Invitee("First", "", "UTC"))
    services.cancel(first, by="invitee")
    db.session.refresh(link)
    assert link.bookable
    return token


def test_twenty_threads_on_a_re_armed_link_make_exactly_one_more_booking(served, make_link):
    token = rearmed_link(make_link)
    statuses = race(served, [(f"/book/{token}", form(tomorrow_at(10 + n % 8), n)) for n in range(20)])
    assert statuses == [303] + [410] * 19
    assert count_bookings() == 1
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Booking.id))) == 2  # the cancelled one keeps its record


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("rearmed", [False, True], ids=["new", "re-armed"])
def test_twenty_processes_against_gunicorn_make_exactly_one_booking(app, make_link, rearmed):
    token = rearmed_link(make_link) if rearmed else make_link()[1]
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
        processes = [
            ctx.Process(target=book, args=(base, token, form(tomorrow_at(10 + n % 8), n), barrier, results))
            for n in range(20)
        ]
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
