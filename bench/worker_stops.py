"""Benchmark: how long a stopped worker takes to exit, and how soon a killed worker's jobs move on.

    .venv/bin/python bench/worker_stops.py [--contacts 50] [--lease 45] [--pg-url postgresql+psycopg://…]

With the settings of a real deployment (WORKER_LEASE_SECONDS default 45) and an SMTP server that takes
0.3 s a message (aiosmtpd on 127.0.0.1), each scenario builds a fresh database with --contacts contacts
enrolled in "link, then email", starts worker A (`flask --app wsgi worker`), waits for its first mail
(its whole batch is claimed), starts worker B, then:
- term: SIGTERM to A once it has sent 5 mails: the seconds until A exited, and until B sent its next mail;
- kill: SIGKILL to A at the same point: the seconds until B held or had sent every message A held.
Each run then waits for every enrolment to complete and checks one link per contact and one mail per
contact (after a SIGKILL, the one message in flight may go twice: at-least-once).
Targets: A exits within 5 s of SIGTERM and B goes on at once (well under the lease); after SIGKILL the
messages move within the lease and a few seconds, under a minute with the default lease.
The issue this answers measured 13.6 s to stop and 5 minutes before a killed worker's jobs moved.
"""

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789"
SEND_SECONDS = 0.3


class Sink:
    """An aiosmtpd server that takes SEND_SECONDS per message and keeps the recipients, in arrival order."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.received: list[tuple[float, str]] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="localhost")
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(SEND_SECONDS)
        self.received.extend((time.monotonic(), address) for address in envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def prepare(db_url: str, contacts: int):
    from webapp import create_app
    from webapp.calendars import services as calendars
    from webapp.contacts import services as people
    from webapp.extensions import db
    from webapp.workflows import services as workflows

    app = create_app({"ENV_VARS": {"DATABASE_URL": db_url, "SECRET_KEY": SECRET}})
    with app.app_context():
        db.drop_all()
        db.create_all()
        calendar = calendars.create_calendar(
            {"name": "Intro call", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
        )
        workflow = workflows.create_workflow("Send a link", "manual", None)
        workflow.steps = [
            {"id": "s-link", "type": "generate_link", "key": "booking_link", "config": {"calendar_id": calendar.id}},
            {
                "id": "s-mail",
                "type": "send_email",
                "key": "",
                "config": {"subject": "Your link", "body": "{{ steps.booking_link.url }}"},
            },
        ]
        db.session.commit()
        workflows.publish(workflow)
        for n in range(contacts):
            workflows.enrol(workflow, people.create_contact({"email": f"person{n}@example.com"}), {"type": "manual"})
        db.session.commit()
        db.session.remove()
    return app


def query(app, statement):
    from webapp.extensions import db

    with app.app_context():
        rows = list(db.session.execute(statement))
        db.session.remove()
    return rows


def held_by(app, proc) -> int:
    from sqlalchemy import func, select

    from webapp.mail.models import OutboxMessage

    prefix = f"{socket.gethostname()}:{proc.pid}:%"
    return query(app, select(func.count()).where(OutboxMessage.locked_by.like(prefix)))[0][0]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return result


def scenario(kind: str, db_url: str, contacts: int, lease: int, sink: Sink) -> str:
    from sqlalchemy import select

    from webapp.booking.models import OneTimeLink
    from webapp.heartbeat import WorkerHeartbeat
    from webapp.workflows.models import Enrolment

    app = prepare(db_url, contacts)
    sink.received.clear()
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": SECRET,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(sink.port),
        "WORKER_LEASE_SECONDS": str(lease),
    }
    flask = Path(sys.executable).with_name("flask")

    def start():
        proc = subprocess.Popen(
            [str(flask), "--app", "wsgi", "worker", "--poll", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        name = f"{socket.gethostname()}:{proc.pid}"
        wait_for(lambda: query(app, select(WorkerHeartbeat.worker).where(WorkerHeartbeat.worker == name)), 60, name)
        return proc

    first = start()
    wait_for(lambda: sink.received, 60, "the first mail")
    second = start()
    wait_for(lambda: len(sink.received) >= 5, 60, "five mails")
    try:
        asked = time.monotonic()
        if kind == "term":
            first.send_signal(signal.SIGTERM)
            first.wait(30)
            exited = time.monotonic() - asked
            before = len(sink.received)
            wait_for(lambda: len(sink.received) > before, 120, "the second worker's next mail")
            next_mail = sink.received[before][0] - asked
            figure = f"SIGTERM: A exited after {exited:.1f} s; B sent the next mail {next_mail:.1f} s after the signal"
        else:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
            wait_for(lambda: held_by(app, first) == 0, 300, "the messages to move")
            moved = time.monotonic() - asked
            figure = f"SIGKILL: worker A's messages moved to B after {moved:.1f} s (lease {lease} s)"
        wait_for(lambda: {s for (s,) in query(app, select(Enrolment.status))} == {"completed"}, 300, "completion")
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
    links = Counter(c for (c,) in query(app, select(OneTimeLink.contact_id)))
    mails = Counter(address for _, address in sink.received)
    twice = sum(n - 1 for n in mails.values())
    ok = len(links) == contacts and set(links.values()) == {1} and len(mails) == contacts and twice <= (kind == "kill")
    verdict = "OK" if ok else "NOT exactly-once"
    return f"{figure}; {contacts} contacts, one link each, {twice} mail(s) sent twice: {verdict}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=50)
    parser.add_argument("--lease", type=int, default=45)
    parser.add_argument("--pg-url", default="")
    args = parser.parse_args()
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as folder:
            db_url = args.pg_url or f"sqlite:///{folder}/bench.db"
            print(f"database: {db_url.split('@')[-1]}")
            for kind in ("term", "kill"):
                print(scenario(kind, db_url, args.contacts, args.lease, sink), flush=True)
    finally:
        sink.controller.stop()


if __name__ == "__main__":
    main()
