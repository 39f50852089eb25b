"""Exactly-once with hosts, under real concurrency: bookings of calendars that share a host take turns
(threads against a threaded server, processes against gunicorn). SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set."""

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
from webapp.booking.models import Booking, BookingHost
from webapp.calendars import services as calendars
from webapp.extensions import db

ALL_DAY = {d: [(0, 1440)] for d in range(7)}


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


def confirmed() -> list[Booking]:
    db.session.expire_all()
    return list(db.session.scalars(select(Booking).where(Booking.status == "confirmed")))


def hosts_booked() -> list[int]:
    db.session.expire_all()
    query = select(BookingHost.host_id).where(BookingHost.active.is_(True))
    return sorted(db.session.scalars(query))


@pytest.fixture
def shared_host(make_calendar, make_host):
    """Two calendars, each hosted by the same one host."""
    first = make_calendar(name="First", weekly=ALL_DAY)
    second = make_calendar(name="Second", weekly=ALL_DAY)
    host = make_host(calendars=[first, second])
    return first, second, host


@pytest.fixture
def two_host_round_robin(make_calendar, make_host):
    """A round-robin calendar of two hosts."""
    calendar = make_calendar(name="Sales", weekly=ALL_DAY)
    ada, bob = make_host(calendars=[calendar]), make_host(calendars=[calendar])
    calendars.set_hosts(calendar, [ada.id, bob.id], "round_robin")
    db.session.commit()
    return calendar, ada, bob


def test_two_links_on_two_calendars_sharing_a_host_make_one_booking(served, make_link, shared_host):
    first, second, host = shared_host
    tokens = [make_link(calendar=first)[1], make_link(calendar=second)[1]]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 409]
    assert len(confirmed()) == 1 and hosts_booked() == [host.id]


def test_overlapping_slots_on_two_calendars_sharing_a_host_make_one_booking(
    served, make_link, make_calendar, make_host
):
    first = make_calendar(name="First", weekly=ALL_DAY)
    second = make_calendar(name="Second", weekly=ALL_DAY, slot_interval=15)
    make_host(calendars=[first, second])
    tokens = [make_link(calendar=c)[1] for c in (first, second) for _ in range(3)]
    # 10:00 on the first against 10:15 on the second: 30-minute meetings that overlap.
    starts = [tomorrow_at(10)] * 3 + [tomorrow_at(10, 15)] * 3
    statuses = race(served, [(f"/book/{t}", form(s, n)) for n, (t, s) in enumerate(zip(tokens, starts, strict=True))])
    assert statuses == [303] + [409] * 5
    assert len(confirmed()) == 1


def test_round_robin_of_two_hosts_gives_two_invitees_the_slot_and_refuses_the_rest(
    served, make_link, two_host_round_robin
):
    calendar, ada, bob = two_host_round_robin
    tokens = [make_link(calendar=calendar)[1] for _ in range(5)]
    statuses = race(served, [(f"/book/{t}", form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 303, 409, 409, 409]
    assert len(confirmed()) == 2 and hosts_booked() == sorted([ada.id, bob.id])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _gunicorn_race(app, token_forms: list[tuple[str, dict]]) -> list[int]:
    """Each (token, form) booked by its own process against gunicorn (4 workers), all at once."""
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
        barrier, results = ctx.Barrier(len(token_forms)), ctx.Queue()
        processes = [
            ctx.Process(target=book, args=(base, token, data, barrier, results)) for token, data in token_forms
        ]
        for p in processes:
            p.start()
        statuses = sorted(results.get(timeout=120) for _ in processes)
        for p in processes:
            p.join(30)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:  # a loaded machine can keep gunicorn's graceful exit waiting
            server.kill()
            server.wait(20)
    return statuses


@pytest.mark.slow
def test_processes_on_two_calendars_sharing_a_host_make_one_booking(app, make_link, shared_host):
    first, second, host = shared_host
    tokens = [make_link(calendar=c)[1] for c in (first, second) for _ in range(5)]
    statuses = _gunicorn_race(app, [(t, form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303] + [409] * 9
    assert len(confirmed()) == 1 and hosts_booked() == [host.id]


@pytest.mark.slow
def test_processes_on_a_round_robin_of_two_hosts_make_two_bookings(app, make_link, two_host_round_robin):
    calendar, ada, bob = two_host_round_robin
    tokens = [make_link(calendar=calendar)[1] for _ in range(8)]
    statuses = _gunicorn_race(app, [(t, form(tomorrow_at(10), n)) for n, t in enumerate(tokens)])
    assert statuses == [303, 303] + [409] * 6
    assert len(confirmed()) == 2 and hosts_booked() == sorted([ada.id, bob.id])
    assert db.session.scalar(select(func.count(BookingHost.booking_id))) == 2
