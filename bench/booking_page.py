"""Benchmark: GET /book/<token> against GET /healthz on the same `gunicorn -w 2`, in one run.

    .venv/bin/python bench/booking_page.py [--seconds 10] [--connections 16]

Builds a fresh SQLite database in a temp folder (a calendar with one host, open every weekday with 200
bookings spread over its 60-day window; a round-robin calendar of 5 hosts, each with 300 busy events
from a freshly synced connected calendar in the window; a contact and a one-time link on each), starts
gunicorn with 2 workers and the rate limit off (RATELIMIT_ENABLED=false), and loads each URL with `wrk`
(Debian package `wrk`; `apt-get install wrk`) over 16 connections. Prints requests/s, p50 and p99
latency for each and the ratios to /healthz. Targets: single-host page >= 0.5, round-robin page >= 0.4,
booking page p99 < 50 ms.

Opening a link only records its first opening, so repeated GETs measure the page itself.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def setup(db_url: str, secret: str) -> tuple[str, str]:
    """Create the schema and the data; return the links' paths (single host, round robin)."""
    os.environ.update(DATABASE_URL=db_url, SECRET_KEY=secret)
    from webapp import create_app
    from webapp.booking import links
    from webapp.booking.models import Booking
    from webapp.calendars import services
    from webapp.contacts.services import create_contact
    from webapp.extensions import db
    from webapp.hosts.models import BusyBlock, Connection
    from webapp.hosts.services import create_host

    app = create_app()
    with app.app_context():
        db.create_all()
        calendar = services.create_calendar(
            {"name": "Bench call", "timezone": "America/New_York", "duration": 30, "window_days": 60},
            weekly={d: [(9 * 60, 17 * 60)] for d in range(5)},
        )
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
        for i in range(200):
            at = start + timedelta(hours=7 * i)
            db.session.add(
                Booking(calendar=calendar, start_at=at, end_at=at + timedelta(minutes=30), name="B", email="b@x.io")
            )
        services.set_hosts(calendar, [create_host("Sam Rivera", "sam@example.com", "America/New_York").id])
        team = services.create_calendar(
            {"name": "Bench team", "timezone": "America/New_York", "duration": 30, "window_days": 60},
            weekly={d: [(9 * 60, 17 * 60)] for d in range(5)},
        )
        hosts = [create_host(f"Host {n}", f"host{n}@example.com", "America/New_York") for n in range(5)]
        services.set_hosts(team, [h.id for h in hosts], "round_robin")
        now = datetime.now(UTC)
        for n, host in enumerate(hosts):
            connection = Connection(host_id=host.id, kind="ics", status="ok", last_success_at=now)
            db.session.add(connection)
            db.session.flush()
            # 300 events of an hour over the 60 days, each host's at other times: 5 per day, a few in hours.
            db.session.add_all(
                BusyBlock(
                    connection_id=connection.id,
                    host_id=host.id,
                    start_at=(at := start + timedelta(minutes=288 * i + 41 * n)),
                    end_at=at + timedelta(hours=1),
                )
                for i in range(300)
            )
        contact = create_contact({"first_name": "Bench", "email": "bench@example.com"})
        link, team_link = links.issue(calendar, contact), links.issue(team, contact)
        db.session.commit()
        return tuple("/book/" + links.url(one).rsplit("/", 1)[1] for one in (link, team_link))  # type: ignore[return-value]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk(url: str, seconds: int, connections: int) -> dict:
    """Run wrk; parse requests/s and the p50/p99 latencies (ms)."""
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label):
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": int(errors[1]) if errors else 0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="oneslot-bench-"))
    db_url, secret = f"sqlite:///{tmp / 'bench.db'}", "bench-secret-key-0123456789"
    path, team_path = setup(db_url, secret)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": secret, "RATELIMIT_ENABLED": "false"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        # Warm up both workers (they share the socket, so send a few requests): the first GET records the
        # link's opening, and each worker computes and caches the picker and the page shell.
        for _ in range(20):
            for url in (base + "/healthz", base + path, base + team_path):
                urllib.request.urlopen(url, timeout=5).close()
        health = wrk(base + "/healthz", args.seconds, args.connections)
        page = wrk(base + path, args.seconds, args.connections)
        team = wrk(base + team_path, args.seconds, args.connections)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"gunicorn -w 2, {args.connections} connections, {args.seconds} s each, wrk")
    rows = (("GET /healthz", health), ("GET /book/ 1 host", page), ("GET /book/ 5 rr", team))
    for name, r in rows:
        print(
            f"{name:18} {r['rps']:8.0f} req/s   p50 {r['p50']:6.1f} ms   p99 {r['p99']:6.1f} ms   errors {r['errors']}"
        )
    for name, r, target in (("booking (1 host)", page, 0.5), ("round robin (5 hosts)", team, 0.4)):
        ratio = r["rps"] / health["rps"]
        verdict = "OK" if ratio >= target else "MISSED"
        print(f"ratio {name}/healthz: {ratio:.2f} (target >= {target}: {verdict})")
        print(f"{name} p99: {r['p99']:.1f} ms (target < 50 ms: {'OK' if r['p99'] < 50 else 'MISSED'})")


if __name__ == "__main__":
    main()
