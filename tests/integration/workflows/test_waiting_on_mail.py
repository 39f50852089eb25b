"""An enrolment whose email waits for the outbox's retry sleeps until that retry, not a poll every 5 s.

The SMTP server is down (a loopback port nobody listens on), then back; the clock is pinned and moved
one second per worker round, and every claim of an enrolment is counted with the clock's reading.
"""

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import free_port
from tests.factories import email_step, enrol_now, link_step, make_workflow
from tests.helpers import enrolments
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import run_once
from webapp.workflows import engine

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
CONTACTS = 12


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def claimed(monkeypatch):
    """Seconds after START of every enrolment claim, counted."""
    seen: Counter = Counter()
    claim = engine.claim

    def counting(limit, worker, now=None):
        ids = claim(limit, worker, now)
        if ids:
            seen[int((utcnow() - START).total_seconds())] += len(ids)
        return ids

    monkeypatch.setattr(engine, "claim", counting)
    return seen


@pytest.mark.parametrize("who_retries", ["outbox", "enrolment"])
def test_waiting_enrolments_follow_the_outbox_retry_schedule(
    clock, claimed, app, make_calendar, make_contact, smtp_server, who_retries
):
    app.config.update(
        MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=5
    )  # down: nothing listens there
    app.config.update(MAIL_RETRY_DELAYS=(60, 300, 1800), WORKFLOW_POLL_SECONDS=5)
    calendar = make_calendar(weekly={day: [(0, 1440)] for day in range(7)})
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    for _ in range(CONTACTS):
        enrol_now(workflow, make_contact())

    for second in range(120):  # two minutes of worker rounds while the server is down
        clock.move_to(START + timedelta(seconds=second))
        run_once(app)
    # The first try and one look 5 s later (the step's poll) find the retry 60 s away; the outbox's
    # retry at 60 s fails too (next: 300 s later). Nothing in between (a look every 5 s: 24 each).
    assert dict(claimed) == {0: CONTACTS, 5: CONTACTS, 60: CONTACTS}
    retry_at = START + timedelta(seconds=360)
    assert {m.next_attempt_at for m in db.session.scalars(select(OutboxMessage))} == {retry_at}
    assert {e.run_at for e in enrolments()} == {retry_at}

    smtp_server.configure(app)  # the server is back
    for second in range(120, 360, 10):  # nothing happens before the retry
        clock.move_to(START + timedelta(seconds=second))
        run_once(app)
    assert sum(claimed.values()) == 3 * CONTACTS and smtp_server.messages == []
    clock.move_to(retry_at)
    if who_retries == "outbox":
        run_once(app)  # as the worker does: the outbox first, then the enrolments
    else:
        engine.run_due(50)  # the enrolments' worker round comes first: they send their own mail
    # The mail went at its retry, and the enrolments went on at once, in the same round.
    assert {e.status for e in enrolments()} == {"completed"}
    assert {e.finished_at for e in enrolments()} == {retry_at}
    assert len(smtp_server.messages) == CONTACTS
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {"sent"}
    assert claimed[360] == CONTACTS
