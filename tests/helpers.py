"""What the tests read and send, one helper each: rows counted or read afresh, what a workflow did,
an API client, the calendar form, a booking posted, a pager's links, a database at a migration, the
SELECTs a block sends and whether an index answers them."""

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event, func, select

from tests.conftest import iso
from webapp.booking import links
from webapp.booking.models import OneTimeLink
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.workflows import services
from webapp.workflows.models import Enrolment, StepRun

ROOT = Path(__file__).resolve().parents[1]  # the checkout


def count(model) -> int:
    """Rows in the model's table."""
    return db.session.scalar(select(func.count()).select_from(model))


def reload(row):
    """The row as the database has it now (the session's copies expired first)."""
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def enrolments(workflow=None) -> list[Enrolment]:
    """Every enrolment, or the workflow's, oldest first, read afresh."""
    db.session.expire_all()
    query = select(Enrolment).order_by(Enrolment.id)
    if workflow is not None:
        query = query.where(Enrolment.workflow_id == workflow.id)
    return list(db.session.scalars(query))


def enrolled(workflow) -> set[str]:
    """The emails of the contacts enrolled in the workflow."""
    return {enrolment.contact.email for enrolment in enrolments(workflow)}


def enrolment_of(contact) -> Enrolment:
    """The contact's one enrolment, read afresh."""
    db.session.expire_all()
    return db.session.scalar(select(Enrolment).where(Enrolment.contact_id == contact.id))


def runs(enrolment) -> dict[str, StepRun]:
    """The enrolment's step runs by step id."""
    return {run.step_id: run for run in reload(enrolment).step_runs}


def issued_link(enrolment, step_id="s-booking_link") -> OneTimeLink:
    """The link the enrolment's Generate One-Time Booking Link step issued (link_step's id by default)."""
    return db.session.get(OneTimeLink, runs(enrolment)[step_id].output["link_id"])


def token_of(enrolment, step_id="s-link") -> str:
    """The token of the link the enrolment's step issued (send_link_workflow's step by default)."""
    run = db.session.scalar(select(StepRun).where(StepRun.enrolment_id == enrolment.id, StepRun.step_id == step_id))
    return links.url(db.session.get(OneTimeLink, run.output["link_id"])).rsplit("/", 1)[1]


def subjects() -> list[str]:
    """The subjects of the mail workflows queued, oldest first."""
    db.session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.kind == "workflow").order_by(OutboxMessage.id)
    return [message.subject for message in db.session.scalars(query)]


def hook_url(workflow) -> str:
    """A new inbound URL for the workflow (only its secret's digest is stored: the URL exists once, here)."""
    return f"/hooks/{workflow.id}/{services.regenerate_secret(workflow)}"


class Api:
    """The test client with an API key on every request."""

    def __init__(self, client, key):
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    def get(self, url, **kwargs):
        return self.client.get(url, headers=self.headers, **kwargs)

    def post(self, url, json=None, **kwargs):
        return self.client.post(url, headers=self.headers, json=json, **kwargs)

    def patch(self, url, json=None, **kwargs):
        return self.client.patch(url, headers=self.headers, json=json, **kwargs)


def post_booking(client, token, start, **fields):
    """The booking page's form posted for `start`; `fields` replace the invitee's (None leaves one out)."""
    data = {"start": iso(start), "name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"}
    data.update(fields)
    return client.post(f"/book/{token}", data={name: value for name, value in data.items() if value is not None})


def calendar_form(**overrides) -> dict:
    """The calendar form as a browser posts it (Intro call, Europe/London, Mondays 9–12 and 13–17), saved;
    `overrides` replace fields (None leaves one out)."""
    data = {
        "name": "Intro call",
        "slug": "",
        "timezone": "Europe/London",
        "duration": "30",
        "seats": "1",
        "buffer_before": "0",
        "buffer_after": "0",
        "min_notice": "0",
        "window_days": "60",
        "mon-0-start": "09:00",
        "mon-0-end": "12:00",
        "mon-1-start": "13:00",
        "mon-1-end": "17:00",
        "action": "save",
    }
    data.update(overrides)
    return {name: value for name, value in data.items() if value is not None}


def pager_link(html: str, rel: str) -> str | None:
    """The address of the pager's rel="prev"/"next" link, or None."""
    found = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def empty_database_upgraded_to(revision: str = "head") -> None:
    """Drop everything the test database holds, then run the migrations up to `revision`."""
    db.drop_all()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(revision=revision)


class _Resources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "srcset", "background", "poster", "data") and value is not None:
                self.found.append((tag, name, value))


def html_references(html: str) -> list[tuple[str, str, str]]:
    """Every URL-bearing attribute of an HTML document, as (tag, attribute, value), in order."""
    parser = _Resources()
    parser.feed(html)
    return parser.found


@contextmanager
def selects_sent() -> Iterator[list[tuple[str, object]]]:
    """The SELECT statements (with their parameters) sent to the database inside the block."""
    captured: list[tuple[str, object]] = []

    def capture(_conn, _cursor, statement, parameters, _context, _executemany):
        if statement.lstrip().upper().startswith("SELECT") and re.search(r"\bFROM\b", statement, re.IGNORECASE):
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)


# Small tables a plan may read whole: the workflows (a paused workflow's enrolments wait), and
# SQLite's own scan of a subquery's rows (anon_1).
WHOLE_READ_ALLOWED = ("workflows", "anon_")


def assert_indexed(statement: str, parameters) -> None:
    """An index answers the statement, on SQLite (EXPLAIN QUERY PLAN) and on PostgreSQL (EXPLAIN, with
    sequential scans off: the test's small tables would otherwise be read whole whatever the indexes)."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = [row[0] for row in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)]
            whole = [line for line in plan if "Seq Scan on" in line]
            whole = [line for line in whole if not line.split("Seq Scan on ")[1].startswith(WHOLE_READ_ALLOWED)]
        else:
            plan = [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            whole = [line for line in plan if line.startswith("SCAN ") and "INDEX" not in line]
            whole = [line for line in whole if not line.split()[1].startswith(WHOLE_READ_ALLOWED)]
    assert not whole and any("Index" in line or "INDEX" in line for line in plan), (statement, plan)


def stop_process(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM a server the test started, and SIGKILL it if it is still there after `grace` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
