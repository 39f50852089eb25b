"""`flask seed-demo` (and `flask bootstrap` on an empty database): the demo calendar, contact and
published workflow, made once; tagging the demo contact sends a working one-time link."""

from sqlalchemy import select

from tests.helpers import count
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Calendar
from webapp.calendars.services import preview
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.mail.sender import build_message
from webapp.worker import drain
from webapp.workflows import demo
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion


def counts() -> tuple[int, int, int, int]:
    return count(Calendar), count(Contact), count(Workflow), count(WorkflowVersion)


def test_seed_demo_creates_everything_once(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Created the demo calendar “Demo call”" in result.output
    assert "Created the demo contact Alex Demo" in result.output
    assert "Created the demo published workflow “Send a one-time booking link”" in result.output
    assert "add the tag “book-me” to Alex Demo" in result.output
    assert counts() == (1, 1, 1, 1)
    calendar = db.session.scalar(select(Calendar))
    assert (calendar.timezone, calendar.duration) == ("Europe/London", 30)
    assert sorted((r.weekday, r.start_minute, r.end_minute) for r in calendar.ranges) == [
        (day, 540, 1020) for day in range(5)
    ]
    workflow = db.session.scalar(select(Workflow))
    version = workflow.published_version
    assert workflow.status == "published" and workflow.name == "Send a one-time booking link"
    assert (version.trigger_type, version.trigger_config) == ("tag_added", {"tag": "book-me"})
    link_step, email_step = version.steps
    assert (link_step["type"], link_step["key"], link_step["config"]["calendar_id"]) == (
        "generate_link",
        "booking_link",
        calendar.id,
    )
    assert email_step["type"] == "send_email"
    assert "{{ steps.booking_link.url }}" in email_step["config"]["body"]
    assert "{{ contact.first_name }}" in email_step["config"]["body"]

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0
    assert "nothing changed" in again.output and "Created" not in again.output
    assert counts() == (1, 1, 1, 1)


def test_seed_demo_makes_only_what_is_missing(runner):
    demo.seed()
    db.session.delete(db.session.scalar(select(Contact)))
    db.session.commit()
    result = runner.invoke(args=["seed-demo"])
    assert "Created the demo contact" in result.output
    assert "calendar" not in result.output.split("\n")[0] and "workflow “" not in result.output
    assert counts() == (1, 1, 1, 1)


def test_tagging_the_demo_contact_sends_a_working_one_time_link(app, client):
    app.config.update(WORKFLOW_POLL_SECONDS=0)  # the email step looks at the outbox again at once
    report = demo.seed()
    contacts.add_tags(report.contact, ["book-me"])
    db.session.commit()
    drain(app)
    enrolment = db.session.scalar(select(Enrolment))
    assert enrolment.status == "completed" and enrolment.workflow_id == report.workflow.id
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "workflow"))
    assert message.to_addr.endswith("<alex.demo@example.com>")
    assert "Hi Alex," in message.text_body
    [[purpose, link_id]] = message.secret_links
    link = db.session.get(OneTimeLink, link_id)
    assert purpose == "book" and link.contact_id == report.contact.id and link.calendar_id == report.calendar.id
    url = build_message(message).body.split("\n\n")[2].strip()
    assert url.startswith(app.config["BASE_URL"] + "/book/")
    path = url.removeprefix(app.config["BASE_URL"])
    page = client.get(path)
    assert page.status_code == 200 and "Demo call" in page.text
    # Book the first open slot: the link then says it was used.
    start = next(slot.start for _day, slots in preview(report.calendar, days=14) for slot in slots)
    data = {
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": "Alex Demo",
        "email": "alex.demo@example.com",
        "timezone": "Europe/London",
    }
    booked = client.post(path, data=data)
    assert booked.status_code == 303
    assert client.get(path).location == booked.location  # the browser that booked: back to the confirmation
    assert app.test_client().get(path).status_code == 410  # anyone else: the link was used


def test_bootstrap_seeds_the_demo_on_an_empty_database(runner):
    result = runner.invoke(args=["bootstrap"])
    assert result.exit_code == 0, result.output
    assert "First admin created" in result.output
    assert "add the tag “book-me” to Alex Demo" in result.output
    assert counts() == (1, 1, 1, 1)
    again = runner.invoke(args=["bootstrap"])
    assert again.output == "" and counts() == (1, 1, 1, 1)
