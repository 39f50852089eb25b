"""Booking races under real concurrency, shared by the race tests: threads against the test app on a
threaded server (`served`, in conftest.py, and race()), processes against gunicorn (gunicorn_race()).
Each spawned process runs race_client.book (standard library only)."""

import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.conftest import iso
from tests.helpers import ROOT
from tests.integration.booking.race_client import book, post


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


def form(start, n=0) -> dict:
    """The booking form of invitee number n, for `start`."""
    return {"start": iso(start), "name": f"Person {n}", "email": f"p{n}@example.com", "timezone": "UTC"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_race(app, token_forms: list[tuple[str, dict]]) -> list[int]:
    """Each (token, form) booked by its own process against gunicorn (4 workers) on the test database,
    all at once; the HTTP statuses, sorted."""
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
