"""Retention: the worker empties old sent mail bodies and completed enrolments' step details, in batches,
over an index, and leaves every count, the funnel and everything an admin must still act on as it was."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import event, func, select, text

from tests.conftest import PASSWORD, iso
from tests.factories import send_link_workflow, tag
from tests.helpers import enrolment_of, token_of
from webapp import config, retention
from webapp.booking import services as bookings
from webapp.booking.models import Booking
from webapp.dashboard import queries as dashboard
from webapp.extensions import db
from webapp.mail import outbox
from webapp.mail.models import OutboxMessage
from webapp.worker import drain, run_once
from webapp.workflows import editing, enrolments, services
from webapp.workflows.models import Enrolment, StepRun

pytestmark = pytest.mark.usefixtures("fast_retries")

T0 = datetime(2027, 3, 10, 9, 30, tzinfo=UTC)
BODY = "Hello, here is your link"


def message(status="sent", sent_at=None, **fields) -> OutboxMessage:
    """An outbox row as the sender leaves it, with bodies, an attachment and a secret link."""
    fields.setdefault("created_at", sent_at or T0)
    row = OutboxMessage(
        to_addr="ann@example.com",
        subject="Your link",
        text_body=BODY,
        html_body=f"<p>{BODY}</p>",
        attachments=[{"filename": "invite.ics", "mimetype": "text/calendar", "content": "BEGIN:VCALENDAR"}],
        secret_links=[["book", 1]],
        link_nonce="n" * 16,
        status=status,
        sent_at=sent_at,
        message_id=outbox.new_message_id(),
        **fields,
    )
    db.session.add(row)
    db.session.commit()
    return row


def whole(row: OutboxMessage) -> bool:
    """The message still has its bodies and attachment."""
    db.session.refresh(row)
    return row.pruned_at is None and row.text_body == BODY and row.attachments and row.secret_links


def sign_in(client, admin):
    """Sign in on the travelled clock (a session from the real clock has not started yet, or is over)."""
    assert client.post("/login", data={"email": admin.email, "password": PASSWORD}).status_code == 303
    return client


# --- the setting ---------------------------------------------------------------------------------


def test_retention_days_defaults_to_90_and_must_be_a_whole_number_of_at_least_1(tmp_path):
    assert config.load({}, tmp_path)["RETENTION_DAYS"] == 90
    assert config.load({"RETENTION_DAYS": "7"}, tmp_path)["RETENTION_DAYS"] == 7
    for bad in ("0", "-3", "ninety", "1.5"):
        with pytest.raises(config.ConfigError, match="RETENTION_DAYS"):
            config.load({"RETENTION_DAYS": bad}, tmp_path)


# --- sent mail -----------------------------------------------------------------------------------


def test_old_sent_mail_loses_its_bodies_in_batches_and_nothing_else_is_touched(app):
    old = T0 - timedelta(days=91)
    sent = [message(sent_at=old + timedelta(minutes=i)) for i in range(5)]
    young = message(sent_at=T0 - timedelta(days=89))
    # What an admin must still act on, however old: queued, retrying, held, failed.
    queued = message(status="pending", created_at=old)
    retrying = message(status="pending", attempts=2, last_error="421 try later", created_at=old)
    held = message(status="held", created_at=old)
    failed = message(status="failed", attempts=5, last_error="550 no such user", created_at=old)

    assert [retention.prune_mail(limit=2, now=T0) for _ in range(4)] == [2, 2, 1, 0]

    for row in sent:
        db.session.refresh(row)
        assert row.pruned_at == T0
        assert (row.text_body, row.html_body, row.attachments, row.secret_links) == ("", "", [], [])
        # The thin row the pages still show.
        assert (row.to_addr, row.subject, row.status, row.sent_at) == (
            "ann@example.com",
            "Your link",
            "sent",
            row.sent_at,
        )
    assert all(whole(row) for row in (young, queued, retrying, held, failed))
    assert outbox.counts() == {None: 10, "pending": 2, "sent": 6, "failed": 1, "held": 1}


def test_the_oldest_go_first_and_the_setting_decides_what_is_old(app):
    app.config["RETENTION_DAYS"] = 10
    newer = message(sent_at=T0 - timedelta(days=11))
    older = message(sent_at=T0 - timedelta(days=12))
    kept = message(sent_at=T0 - timedelta(days=9, hours=23))
    assert retention.prune_mail(limit=1, now=T0) == 1
    assert not whole(older) and whole(newer)
    assert retention.prune_mail(limit=1, now=T0) == 1
    assert not whole(newer)
    assert retention.prune_mail(now=T0) == 0
    assert whole(kept)


def test_a_pruned_message_says_so_and_the_list_says_how_long_bodies_are_kept(app, client, admin):
    app.config["RETENTION_DAYS"] = 30
    pruned = message(sent_at=T0 - timedelta(days=31))
    kept = message(sent_at=T0 - timedelta(days=1))
    with time_machine.travel(T0, tick=False):
        login = sign_in(client, admin)
        assert retention.prune_mail() == 1
        page = login.get(f"/mail/{pruned.id}").text
        assert "were removed" in page and "for 30 days" in page
        assert BODY not in page and "invite.ics" not in page
        assert "Your link" in page and "ann@example.com" in page
        page = login.get(f"/mail/{kept.id}").text
        assert BODY in page and "were removed" not in page
        assert "keeps its body and attachments for 30 days" in login.get("/mail/").text
        assert login.get(f"/mail/{pruned.id}/attachments/0").status_code == 404
        assert login.get(f"/mail/{pruned.id}/html").status_code == 200


# --- step runs -----------------------------------------------------------------------------------


@pytest.fixture
def enrolled(app, client, smtp_server, make_calendar, make_contact):
    """At T0, through the real trigger and worker: three contacts complete the workflow (one opens
    the link, one books), one fails (a bad address); a test run; and an active enrolment."""
    smtp_server.configure(app)
    calendar = make_calendar(name="Intro call", weekly={d: [(0, 1440)] for d in range(7)})
    with time_machine.travel(T0, tick=False) as clock:
        workflow = send_link_workflow(calendar)
        people = {
            name: make_contact(first_name=name.title(), email=f"{name}@example.com") for name in ("sam", "olive", "bea")
        }
        people["fay"] = make_contact(first_name="Fay", email="fay-has-no-at-sign")
        for contact in people.values():
            tag(contact)
        drain(app)
        assert client.get(f"/book/{token_of(enrolment_of(people['olive']))}").status_code == 200
        start = T0.replace(hour=10, minute=0) + timedelta(days=1)
        data = {"start": iso(start), "name": "Bea", "email": "bea@example.com", "timezone": "UTC"}
        assert client.post(f"/book/{token_of(enrolment_of(people['bea']))}", data=data).status_code == 303
        booking = db.session.scalar(select(Booking))
        with time_machine.travel(booking.end_at, tick=False):  # marked once the meeting has taken place
            bookings.set_attendance(booking, "showed")
        people["tess"] = make_contact(first_name="Tess", email="tess@example.com")
        services.enrol(workflow, people["tess"], {"type": "manual"}, is_test=True)
        db.session.commit()
        drain(app)
        # Active: a contact who entered and whose first step has not run yet.
        people["ada"] = make_contact(first_name="Ada", email="ada@example.com")
        tag(people["ada"])
        ada = enrolment_of(people["ada"])
        ada.run_at = T0 + timedelta(days=365)
        db.session.commit()
        yield workflow, people, clock


def runs_of(contact) -> dict[str, StepRun]:
    return {run.step_id: run for run in enrolment_of(contact).step_runs}


def test_completed_enrolments_lose_their_step_details_in_batches_and_the_rest_keep_theirs(app, enrolled):
    workflow, people, clock = enrolled
    fay_before = {sid: (run.status, run.error, dict(run.output)) for sid, run in runs_of(people["fay"]).items()}
    assert enrolment_of(people["fay"]).status == "failed" and any(e for _, e, _ in fay_before.values())
    statuses = {name: enrolment_of(contact).status for name, contact in people.items()}
    assert statuses == {
        "sam": "completed",
        "olive": "completed",
        "bea": "completed",
        "tess": "completed",
        "fay": "failed",
        "ada": "active",
    }
    clock.shift(timedelta(days=89))
    assert retention.prune_steps() == 0  # young
    clock.shift(timedelta(days=2))
    assert [retention.prune_steps(limit=3) for _ in range(3)] == [3, 1, 0]

    for name in ("sam", "olive", "bea", "tess"):
        enrolment = enrolment_of(people[name])
        assert enrolment.pruned_at is not None
        runs = runs_of(people[name])
        assert {run.status for run in runs.values()} == {"done"}  # the record stays
        assert set(runs["s-link"].output) == {"link_id"}
        assert set(runs["s-mail"].output) == {"outbox_id"}
        assert all(run.error == "" for run in runs.values())
    fay = enrolment_of(people["fay"])
    assert fay.pruned_at is None
    assert {sid: (run.status, run.error, dict(run.output)) for sid, run in runs_of(people["fay"]).items()} == fay_before
    assert enrolment_of(people["ada"]).pruned_at is None
    # The failed one can still be retried; the completed ones never run a step again.
    assert enrolments.retry(fay)
    assert db.session.scalar(select(func.count()).select_from(StepRun)) == sum(
        len(runs_of(contact)) for contact in people.values()
    )


def test_the_enrolment_page_says_the_details_were_removed(app, client, admin, enrolled):
    workflow, people, clock = enrolled
    app.config["RETENTION_DAYS"] = 5
    clock.shift(timedelta(days=6))
    login = sign_in(client, admin)
    bea = enrolment_of(people["bea"])
    before = login.get(f"/enrolments/{bea.id}")
    assert "were removed" not in before.text
    assert retention.prune_steps() == 4
    page = login.get(f"/enrolments/{bea.id}")
    assert page.status_code == 200
    assert "details (outputs, responses and errors) were removed" in page.text and "for 5 days" in page.text
    # Its link (booked) and its email are still there.
    assert "Booked" in page.text and "Your link" in page.text
    assert "were removed" not in login.get(f"/enrolments/{enrolment_of(people['fay']).id}").text


# --- counts and the funnel survive ---------------------------------------------------------------


def snapshot(client, workflow) -> dict:
    """Every number the admin sees about the workflow, and the two pages that show them."""
    db.session.expire_all()
    board = dashboard.build()
    return {
        "funnel": [(r.workflow_id, r.sent, r.opened, r.booked, r.showed) for r in board.rows],
        "total": (board.total.sent, board.total.opened, board.total.booked, board.total.showed),
        "statuses": enrolments.status_counts(workflow),
        "links": {
            state: db.session.scalar(
                select(func.count()).select_from(enrolments.enrolment_query(workflow, "all", state).subquery())
            )
            for state in enrolments.LINK_FILTERS
        },
        "workflow list": editing.counts([workflow.id]),
        "mail": outbox.counts(),
        "home page": client.get("/").text,
        "enrolments page": client.get(f"/workflows/{workflow.id}/enrolments").text,
    }


def test_the_funnel_and_every_count_are_the_same_before_and_after_pruning(app, client, admin, enrolled):
    workflow, people, clock = enrolled
    app.config["RETENTION_DAYS"] = 1  # so that the pruned links are still in the funnel's 30 days
    clock.shift(timedelta(days=2))
    login = sign_in(client, admin)
    login.get("/")  # shows (and so drops) the booking's flash message left in the session
    before = snapshot(login, workflow)
    assert before["total"] == (4, 2, 1, 1)  # Fay's link was made; her email failed
    assert before["links"]["booked"] == 1 and before["links"]["opened"] == 1
    assert before["statuses"]["completed"] == 4

    app.extensions.pop("retention", None)
    drain(app)  # the worker's own rounds, until nothing is left to do
    assert db.session.scalar(select(func.count()).where(Enrolment.pruned_at.is_not(None))) == 4
    # Every sent message: the four workflow emails and the booking's own.
    assert db.session.scalar(select(func.count()).where(OutboxMessage.pruned_at.is_not(None))) == before["mail"]["sent"]
    assert int(before["mail"]["sent"]) >= 4 and before["mail"]["failed"] == 0
    assert before == snapshot(login, workflow)


# --- the worker and the plan ---------------------------------------------------------------------


def test_the_worker_prunes_then_rests_after_a_round_with_nothing_to_prune(app):
    with time_machine.travel(T0, tick=False) as clock:
        old = message(sent_at=T0 - timedelta(days=100))
        assert run_once(app) == 1
        assert not whole(old)
        assert run_once(app) == 0  # nothing left: it rests
        later = message(sent_at=T0 - timedelta(days=100))
        assert run_once(app) == 0 and whole(later)
        clock.shift(retention.IDLE)
        assert run_once(app) == 1 and not whole(later)


def plans(statements: list) -> list[str]:
    """The database's plan of each captured statement (EXPLAIN QUERY PLAN on SQLite; on PostgreSQL
    EXPLAIN with sequential scans priced out, so a plan without a usable index still shows one)."""
    connection = db.session.connection()
    found = []
    for statement, parameters in statements:
        if connection.dialect.name == "sqlite":
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            found.append("\n".join(row[-1] for row in rows))
        else:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).all()
            found.append("\n".join(row[0] for row in rows))
    db.session.rollback()
    return found


def grow(table: str, copies: int, **values: str) -> None:
    """PostgreSQL plans by its statistics: make `copies` more rows like the table's first one (with
    `values`, SQL expressions of g, the copy's number), and ANALYZE, so it plans as for a large table."""
    columns = [c.name for c in db.metadata.tables[table].columns if c.name != "id"]
    chosen = ", ".join(values.get(c, f"t.{c}") for c in columns)
    db.session.execute(
        text(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT {chosen}"
            f" FROM (SELECT * FROM {table} ORDER BY id LIMIT 1) t, generate_series(1, {copies}) g"
        )
    )
    db.session.commit()
    db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()


def test_the_prune_statements_are_answered_by_their_indexes(app, enrolled):
    workflow, people, clock = enrolled
    clock.shift(timedelta(days=91))
    if db.engine.dialect.name == "postgresql":
        # A long history: most rows pruned long ago, many young ones, a few due.
        status = "CASE WHEN g % 10 = 0 THEN 'pending' ELSE t.status END"
        for table, stamp in (("outbox_messages", "sent_at"), ("enrolments", "finished_at")):
            pruned = f"CASE WHEN g % 3 = 0 THEN NULL ELSE t.{stamp} END"
            moved = f"t.{stamp} + (CASE WHEN g % 3 = 0 THEN 60 ELSE -60 END) * interval '1 day'"
            extra = {"message_id": "t.message_id || g"} if table == "outbox_messages" else {}
            grow(table, 30000, status=status, pruned_at=pruned, **{stamp: moved}, **extra)
    captured = []

    def capture(_conn, _cursor, statement, parameters, *_args):
        if statement.lstrip().startswith("UPDATE") and "pruned_at" in statement:
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        assert retention.prune_mail(limit=2) == 2
        assert retention.prune_steps(limit=2) == 2
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    mail_plan, steps_plan = plans(captured)
    # The batch found over its index, then its rows taken by primary key (not the backlog walked again).
    assert "ix_outbox_messages_prune" in mail_plan, mail_plan
    assert "ix_enrolments_prune" in steps_plan, steps_plan
    for plan in (mail_plan, steps_plan):
        assert "PRIMARY KEY" in plan or "pk_" in plan, plan
        # Read in the index's order, not all due rows sorted (which would cost the whole backlog a batch).
        assert "TEMP B-TREE" not in plan and not re.search(r"Sort Key: \w+\.(sent_at|finished_at)", plan), plan
        # No full pass over a table: SQLite's "SCAN outbox_messages", PostgreSQL's "Seq Scan".
        assert "Seq Scan" not in plan, plan
        assert not any(line.split()[:1] == ["SCAN"] for line in plan.splitlines()), plan
