"""Leases held by a worker's task sources: recorded per thread, renewed by id, released on a failure."""

import logging
import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.helpers import reload
from webapp import claims, worker
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail import outbox
from webapp.mail.models import OutboxMessage


def queue(n: int) -> list[OutboxMessage]:
    messages = [outbox.queue_email(f"p{i}@example.com", "Hi", "test_message", {"base_url": "x"}) for i in range(n)]
    db.session.commit()
    return messages


def test_the_heartbeat_renews_exactly_the_rows_held_and_still_ours(app):
    app.config["WORKER_LEASE_SECONDS"] = 45
    mine, released, taken_over, untracked = queue(4)
    now = utcnow()
    with claims.tracked() as held:
        assert outbox.take([mine.id, released.id, taken_over.id], "w1", now) == [mine.id, released.id, taken_over.id]
        claims.release(OutboxMessage, [released.id], "w1")
        reload(taken_over).locked_by = "w2"  # as if w1 had stalled past its lease and w2 took it
        db.session.commit()
        later = now + timedelta(seconds=30)
        assert claims.renew_held(later) == 1
        assert reload(mine).locked_until == later + timedelta(seconds=45)
        assert claims.held_until(OutboxMessage, mine.id, now + timedelta(seconds=45)) == later + timedelta(seconds=45)
        assert reload(released).locked_until is None and reload(taken_over).locked_until == now + timedelta(seconds=45)
        assert held.ids == {(OutboxMessage.__table__, "w1"): {mine.id, released.id, taken_over.id}}
    # Outside a worker's source nothing is recorded, and a finished source's rows are forgotten.
    outbox.take([untracked.id], "w1", now)
    assert claims.renew_held(now + timedelta(seconds=60)) == 0
    assert reload(untracked).locked_until == now + timedelta(seconds=45)


def test_a_source_that_fails_lets_go_of_its_claims_at_once(app, monkeypatch):
    messages = queue(3)
    monkeypatch.setattr(worker, "_SOURCES", {})

    def claims_then_breaks(limit):
        outbox.claim(limit, outbox.worker_id())
        raise RuntimeError("a bug after the claim")

    worker.register_task_source("breaks", claims_then_breaks)
    worker.run_once(app)
    assert [reload(m).locked_by for m in messages] == [None, None, None]
    assert outbox.claim(10, "another") == [m.id for m in messages]  # due for anyone, without waiting


@pytest.mark.skipif(
    "postgresql" in os.environ.get("TEST_DATABASE_URL", ""),
    reason="SQLite's plans (PostgreSQL's follow its statistics)",
)
def test_the_renewal_finds_its_rows_by_primary_key(app):
    ids = [m.id for m in queue(3)]
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, executemany):
        if statement.startswith("UPDATE outbox_messages"):
            captured.append((statement, parameters))

    with claims.tracked():
        outbox.take(ids, "w1")
        event.listen(db.engine, "before_cursor_execute", capture)
        try:
            assert claims.renew_held(utcnow()) == 3
        finally:
            event.remove(db.engine, "before_cursor_execute", capture)
    [(statement, parameters)] = captured
    connection = db.session.connection()
    plan = " ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "USING INTEGER PRIMARY KEY" in plan and "SCAN" not in plan, plan


def test_the_heartbeat_thread_says_once_that_the_database_is_away_and_once_that_it_is_back(app, monkeypatch, caplog):
    answers = [None, RuntimeError("database is away\nSQL: UPDATE …"), RuntimeError("still away"), None, None]
    calls: list = []
    done = threading.Event()

    def beat(_app, _name):
        calls.append(answers[len(calls)])
        if len(calls) == len(answers):
            done.set()
        return calls[-1]

    monkeypatch.setattr(worker, "_beat", beat)
    monkeypatch.setattr(worker, "heartbeat_seconds", lambda _app: 0.01)
    with caplog.at_level(logging.INFO, logger="oneslot.worker"):
        worker._heartbeats(app, "w1", done)
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "oneslot.worker"]
    assert lines == [
        ("WARNING", "could not write the worker heartbeat or renew its claims (trying again): database is away"),
        ("INFO", "worker heartbeat written again"),
    ]
