"""Worker leases with real `flask worker` processes, a real slow SMTP server, SQLite or PostgreSQL.

A worker's claims last WORKER_LEASE_SECONDS and its heartbeat thread renews them while it lives: a batch
longer than the lease stays its own, a worker killed with SIGKILL leaves them to another within a lease,
and SIGTERM stops after the current message, freeing the rest at once. Every contact gets one link and
one mail; the one message in flight at a SIGKILL may go twice (at-least-once, README "Deployment").
"""

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.factories import email_step, enrol_now, link_step, make_workflow
from tests.helpers import ROOT
from tests.integration.workflows.test_workflow_steps import hook_step
from webapp import outbound, worker
from webapp.booking.models import OneTimeLink
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.heartbeat import WorkerHeartbeat
from webapp.mail import outbox
from webapp.mail.models import OutboxMessage
from webapp.workflows.models import Enrolment

pytestmark = pytest.mark.slow

FLASK = Path(sys.executable).with_name("flask")
SEND_SECONDS = 0.3  # the SMTP server's pace: a batch of 50 takes longer than two leases of 6 s


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return result


class Workers:
    """`flask worker` processes on the test database, sending to the test's SMTP server."""

    def __init__(self, app, smtp_server, lease: int):
        self.app, self.lease, self.procs = app, lease, []
        self.env = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "MAIL_SERVER": smtp_server.host,
            "MAIL_PORT": str(smtp_server.port),
            "WORKER_LEASE_SECONDS": str(lease),
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("TEST_DATABASE_URL", None)

    def start(self) -> subprocess.Popen:
        proc = subprocess.Popen(
            [str(FLASK), "--app", "wsgi", "worker", "--poll", "0.2"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        name = f"{socket.gethostname()}:{proc.pid}"
        wait_for(lambda: self.query(select(WorkerHeartbeat.worker).where(WorkerHeartbeat.worker == name)), 60, name)
        return proc

    def query(self, statement):
        """The rows of `statement`, read fresh."""
        db.session.rollback()
        rows = list(db.session.execute(statement))
        db.session.rollback()
        return rows

    def held_by(self, proc: subprocess.Popen, models=(OutboxMessage, Enrolment)) -> int:
        """How many rows of `models` (messages and enrolments) `proc` holds a claim on."""
        prefix = f"{socket.gethostname()}:{proc.pid}:%"
        return sum(self.query(select(func.count()).where(model.locked_by.like(prefix)))[0][0] for model in models)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


@pytest.fixture
def workers(real_clock, app, smtp_server, request):
    smtp_server.delay = SEND_SECONDS
    made = []

    def make(lease: int) -> Workers:
        made.append(Workers(app, smtp_server, lease))
        return made[-1]

    yield make
    for one in made:
        one.stop_all()


def enrol_contacts(make_calendar, make_contact, count: int) -> list[int]:
    calendar = make_calendar(weekly={day: [(0, 1440)] for day in range(7)})
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    contacts = [make_contact(email=f"person{n}@example.com") for n in range(count)]
    for contact in contacts:
        enrol_now(workflow, contact)
    ids = [contact.id for contact in contacts]
    db.session.remove()
    return ids


def everything_done(group: Workers) -> bool:
    statuses = [status for (status,) in group.query(select(Enrolment.status))]
    return bool(statuses) and set(statuses) == {"completed"}


def mails_by_recipient(smtp_server) -> Counter:
    return Counter(address for _sender, recipients in smtp_server.envelopes for address in recipients)


def assert_one_link_and_one_mail_each(group: Workers, smtp_server, count: int, allowed_twice: int) -> None:
    links = Counter(contact for (contact,) in group.query(select(OneTimeLink.contact_id)))
    assert len(links) == count and set(links.values()) == {1}, links
    assert [status for (status,) in group.query(select(OutboxMessage.status))] == ["sent"] * count
    received = mails_by_recipient(smtp_server)
    assert len(received) == count and set(received.values()) <= {1, 2}, received
    assert sum(times - 1 for times in received.values()) <= allowed_twice, received


def test_the_heartbeat_keeps_a_long_batch_and_a_killed_workers_claims_move_within_a_lease(
    workers, make_calendar, make_contact, smtp_server
):
    group = workers(lease=6)
    enrol_contacts(make_calendar, make_contact, 50)
    first = group.start()
    wait_for(lambda: smtp_server.envelopes, 60, "the first worker's first mail")
    claimed_at = time.monotonic()  # its batch is claimed: 50 enrolments and their 50 messages
    second = group.start()
    # (c) Renewed: two leases on, the first worker still holds what it has not sent, and the second
    # worker (idle all along, polling every 0.2 s) has taken nothing.
    while time.monotonic() < claimed_at + 2 * group.lease:
        if group.held_by(second):
            first.kill()
            print(first.communicate()[1][-5000:])
            second.kill()
            print(second.communicate()[1][-3000:])
        assert group.held_by(second) == 0
        time.sleep(0.2)
    assert group.held_by(first) > 0 and first.poll() is None
    # The same thread beats for /readyz during the batch.
    [(beat_at,)] = group.query(select(WorkerHeartbeat.beat_at).where(WorkerHeartbeat.worker.endswith(f":{first.pid}")))
    assert utcnow() - beat_at < timedelta(seconds=group.lease)
    assert len(smtp_server.envelopes) < 50, "the batch should outlast two leases"

    # (a) SIGKILL mid-batch: the second worker takes the messages over within a lease (and a margin for
    # its next round), then the enrolments once it has sent them; all of it well within a minute.
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    killed_at = time.monotonic()
    assert group.held_by(first, [OutboxMessage]) > 0
    wait_for(lambda: group.held_by(first, [OutboxMessage]) == 0, 60, "the second worker to take the messages")
    messages_moved = time.monotonic() - killed_at
    wait_for(lambda: group.held_by(first) == 0, 60, "the second worker to take the enrolments")
    all_moved = time.monotonic() - killed_at
    assert messages_moved <= group.lease + 5, f"the messages moved after {messages_moved:.1f} s"
    assert all_moved <= 60, f"the enrolments moved after {all_moved:.1f} s"
    wait_for(lambda: everything_done(group), 120, "every enrolment to complete")
    # The message in flight at the kill may have reached the server: it may go twice, nothing else.
    assert_one_link_and_one_mail_each(group, smtp_server, 50, allowed_twice=1)


def test_sigterm_stops_after_the_current_message_and_frees_the_rest_at_once(
    workers, make_calendar, make_contact, smtp_server
):
    group = workers(lease=60)  # a lease far longer than the test: whatever moves was released
    enrol_contacts(make_calendar, make_contact, 30)
    first = group.start()
    wait_for(lambda: smtp_server.envelopes, 60, "the first worker's first mail")
    second = group.start()
    wait_for(lambda: len(smtp_server.envelopes) >= 5, 60, "five mails")
    assert group.held_by(second) == 0
    asked = time.monotonic()
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=30)
    stopped_in = time.monotonic() - asked
    assert first.returncode == 0, err
    assert stopped_in <= 5, f"stopping took {stopped_in:.1f} s"
    assert "stopping after the current message or step" in err and "worker stopped" in err
    assert group.held_by(first) == 0, "a stopped worker's claims are released"
    # The second worker goes on without waiting for the 60 s lease.
    wait_for(lambda: everything_done(group), 45, "the second worker to finish the batch")
    assert time.monotonic() - asked < group.lease
    assert_one_link_and_one_mail_each(group, smtp_server, 30, allowed_twice=0)


def test_sigterm_during_a_send_to_a_silent_server_exits_within_5_seconds(
    workers, make_calendar, make_contact, smtp_server
):
    """The server never answers DATA (MAIL_TIMEOUT is 30 s): the stop cuts the connection after its grace,
    and the message goes back to the queue, due at once and not counted as a failed attempt."""
    group = workers(lease=60)
    smtp_server.delay = 120
    enrol_contacts(make_calendar, make_contact, 3)
    first = group.start()
    assert smtp_server.receiving.wait(60), "the worker never sent"
    asked = time.monotonic()
    first.send_signal(signal.SIGTERM)
    _, err = first.communicate(timeout=30)
    stopped_in = time.monotonic() - asked
    assert stopped_in <= 5, f"stopping took {stopped_in:.1f} s"
    assert first.returncode == 0, err
    assert "interrupting what blocks" in err and "back in the queue" in err
    messages = group.query(select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.locked_by))
    assert messages == [("pending", 0, None)] * 3
    assert group.held_by(first) == 0


def test_the_worker_thread_of_flask_serve_stops_within_the_grace_too(real_clock, app, smtp_server):
    """`flask serve` stops its worker thread with stop_thread(): a hung send is cut the same way."""
    smtp_server.configure(app)
    smtp_server.delay = 120
    outbox.queue_email("ada@example.com", "Hello", "test_message", {"base_url": "x"})
    db.session.commit()
    stop_event, thread = worker.start_thread(app, poll_interval=0.2)
    assert smtp_server.receiving.wait(30), "the worker thread never sent"
    asked = time.monotonic()
    worker.stop_thread(stop_event, thread, timeout=10)
    assert not thread.is_alive() and time.monotonic() - asked <= 5
    [(status, attempts, locked_by)] = db.session.execute(
        select(OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.locked_by)
    )
    assert (status, attempts, locked_by) == ("pending", 0, None) and not worker.stopping()


def test_a_worker_stuck_elsewhere_still_exits_by_the_deadline(workers, app, make_contact, smtp_server):
    """No stop hook can cut a webhook receiver that never answers (WEBHOOK_TIMEOUT 30 s here): `flask worker`
    exits at STOP_DEADLINE_SECONDS anyway, with status 1, and its claim waits one lease."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    silent.settimeout(60)
    group = workers(lease=60)
    group.env.update(OUTBOUND_ALLOWED_NETWORKS="127.0.0.0/8", WEBHOOK_TIMEOUT="30")
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("127.0.0.0/8")
    enrol_now(
        make_workflow("manual", steps=[hook_step(f"http://127.0.0.1:{silent.getsockname()[1]}/hook")]), make_contact()
    )
    db.session.remove()
    first = group.start()
    try:
        connection, _ = silent.accept()  # the step's request is in: nothing will ever answer it
        asked = time.monotonic()
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=30)
        stopped_in = time.monotonic() - asked
        connection.close()
    finally:
        silent.close()
    assert stopped_in <= 5, f"stopping took {stopped_in:.1f} s"
    assert first.returncode == 1 and "exiting now" in err, err
    assert group.held_by(first, [Enrolment]) == 1  # left to its lease: the step's transaction never ended
