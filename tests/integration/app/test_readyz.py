"""/readyz: ready (200) only with a reachable, migrated database, a worker's recent heartbeat and queues
that keep up; otherwise 503 with each reason's code. Its queries are answered by indexes."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask import current_app
from sqlalchemy import text

from tests.conftest import make_app
from tests.factories import enrol_now, make_workflow, wait_step
from tests.helpers import assert_indexed, selects_sent
from webapp import heartbeat, worker
from webapp.core import readiness
from webapp.extensions import db
from webapp.mail import outbox
from webapp.mail.models import OutboxMessage

NOW = datetime(2027, 3, 14, 6, 30, tzinfo=UTC)


def head() -> str:
    heads, _known = readiness._migrations(current_app.extensions["migrate"].directory)
    return next(iter(heads))


def stamp(*revisions: str) -> None:
    """The database's migration history says `revisions` (none: no alembic_version table at all)."""
    db.session.rollback()  # PostgreSQL: the session's reads of alembic_version would hold up the DROP
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        if revisions:
            conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
            for revision in revisions:
                conn.execute(text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})


@pytest.fixture
def migrated(app):
    """The test tables, made by create_all, stamped at the scripts' head; the stamp goes afterwards."""
    stamp(head())
    yield
    stamp()


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def codes(response) -> list[str]:
    assert response.status_code == 503, response.json
    return [reason["code"] for reason in response.json["reasons"]]


def test_ready_with_a_migrated_database_and_a_live_worker(client, migrated):
    heartbeat.beat("host:1")
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    assert response.json == {"status": "ready", "reasons": []}
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_no_heartbeat_in_the_last_minute_is_not_ready_and_a_beat_makes_it_ready(client, migrated, clock):
    response = client.get("/readyz")
    assert codes(response) == ["no_worker_heartbeat"]
    assert response.json["status"] == "not ready"
    assert "flask worker" in response.json["reasons"][0]["message"]
    heartbeat.beat("host:1")
    assert client.get("/readyz").status_code == 200
    clock.shift(timedelta(seconds=60))
    assert client.get("/readyz").status_code == 200, "a beat exactly a minute ago still counts"
    clock.shift(timedelta(seconds=1))
    assert codes(client.get("/readyz")) == ["no_worker_heartbeat"]
    heartbeat.forget("host:1")
    heartbeat.beat("host:2")
    assert client.get("/readyz").status_code == 200


def test_a_due_outbox_message_older_than_the_limit_is_not_ready(app, client, migrated, clock):
    app.config["READY_MAX_LAG_SECONDS"] = 300
    outbox.queue_email("ada@example.com", "Hello", "test_message", {"base_url": "x"})
    db.session.commit()
    clock.shift(timedelta(seconds=300))
    heartbeat.beat("host:1")
    assert client.get("/readyz").status_code == 200, "waited exactly the limit"
    clock.shift(timedelta(seconds=1))
    heartbeat.beat("host:1")
    response = client.get("/readyz")
    assert codes(response) == ["queue_lagging"]
    reason = response.json["reasons"][0]
    assert reason["source"] == "outbox" and "301 s" in reason["message"] and "300 s" in reason["message"]
    # Sent (no longer due): ready again.
    db.session.execute(OutboxMessage.__table__.update().values(status="sent"))
    db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_a_message_scheduled_for_later_or_claimed_is_not_lag(app, client, migrated, clock):
    message = outbox.queue_email("ada@example.com", "Hello", "test_message", {"base_url": "x"})
    db.session.commit()
    message.next_attempt_at = NOW + timedelta(minutes=30)  # a retry, later
    db.session.commit()
    clock.shift(timedelta(hours=1))
    heartbeat.beat("host:1")
    assert codes(client.get("/readyz")) == ["queue_lagging"], "its retry time passed 30 minutes ago"
    message.locked_until, message.locked_by = NOW + timedelta(hours=2), "host:1:1"  # a worker holds it
    db.session.commit()
    assert client.get("/readyz").status_code == 200


def test_a_due_enrolment_older_than_the_limit_is_not_ready(app, client, migrated, clock, make_contact):
    app.config["READY_MAX_LAG_SECONDS"] = 60
    workflow = make_workflow(steps=[wait_step("s-wait", mode="duration", amount=1, unit="days")])
    enrol_now(workflow, make_contact())
    clock.shift(timedelta(seconds=61))
    heartbeat.beat("host:1")
    response = client.get("/readyz")
    assert codes(response) == ["queue_lagging"]
    assert response.json["reasons"][0]["source"] == "enrolments"


def test_both_reasons_at_once(app, client, migrated, clock):
    outbox.queue_email("ada@example.com", "Hello", "test_message", {"base_url": "x"})
    db.session.commit()
    clock.shift(timedelta(hours=1))
    assert codes(client.get("/readyz")) == ["no_worker_heartbeat", "queue_lagging"]


def test_a_database_behind_the_code_is_not_ready(client, migrated):
    heartbeat.beat("host:1")
    stamp("08b0702e6c9a")  # the first migration: known to the scripts, long behind their head
    response = client.get("/readyz")
    assert codes(response) == ["migrations_not_at_head"]
    assert "flask --app wsgi db upgrade" in response.json["reasons"][0]["message"]
    stamp()
    assert codes(client.get("/readyz")) == ["migrations_not_at_head"], "never migrated"


def test_a_database_ahead_of_the_code_is_not_ready(client, migrated):
    heartbeat.beat("host:1")
    stamp("ffffffffffff")
    response = client.get("/readyz")
    assert codes(response) == ["migrations_not_at_head"]
    assert "newer release" in response.json["reasons"][0]["message"]
    assert "ffffffffffff" not in response.text and head() not in response.text


def test_an_unreachable_database_is_a_503_in_json_not_a_500(tmp_path):
    # SQLite cannot open a file in a folder that does not exist: "unable to open database file".
    app = make_app(tmp_path, ENV_VARS={"DATABASE_URL": f"sqlite:///{tmp_path / 'gone' / 'oneslot.db'}"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json == {
        "status": "not ready",
        "reasons": [{"code": "database_unreachable", "message": "The database does not answer."}],
    }
    assert "gone" not in response.text


def test_public_and_never_rate_limited_into_failure(app, migrated, tmp_path):
    """A load balancer polls it from one address, often; the booking pages' limits do not apply."""
    limited = make_app(
        tmp_path, RATELIMIT_ENABLED=True, ENV_VARS={"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    )
    heartbeat.beat("host:1")
    client = limited.test_client()
    statuses = {client.get("/readyz").status_code for _ in range(130)}
    assert statuses == {200}
    with limited.app_context():
        db.engine.dispose()


def test_the_migration_head_is_read_once_per_process(client, migrated, monkeypatch):
    heartbeat.beat("host:1")
    client.get("/readyz")
    monkeypatch.setattr(readiness, "ScriptDirectory", None)  # reading the scripts again would fail
    assert client.get("/readyz").status_code == 200


def test_every_readiness_query_is_answered_by_an_index(app, client, migrated):
    """The heartbeat's max and each watched backlog's oldest due row: one index range, whatever the size."""
    heartbeat.beat("host:1")
    with selects_sent() as queries:
        assert client.get("/readyz").status_code == 200
    queries = [(s, p) for s, p in queries if "alembic_version" not in s]
    tables = {"worker_heartbeats", "outbox_messages", "enrolments"}
    assert tables <= {word.strip('"') for s, _ in queries for word in s.split()}, queries
    for statement, parameters in queries:
        assert_indexed(statement, parameters)


def test_backlogs_are_registered_for_every_task_source_that_queues(app):
    """The worker's sources that work through due rows have a backlog; /readyz watches two of them."""
    assert set(worker.backlogs()) == {"outbox", "enrolments", "link_expiry", "calendar_sync", "calendar_writes"}
    assert set(worker.backlogs(readiness_only=True)) == {"outbox", "enrolments"}
