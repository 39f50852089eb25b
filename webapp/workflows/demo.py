"""`flask seed-demo`: a demo calendar, a demo contact and the published workflow
"Send a one-time booking link", so a new admin sees the whole flow in a minute. Idempotent.

The calendar and the workflow it makes are marked is_demo: the first-run checklist (the dashboard)
counts only what the admin made; a copy of the demo workflow is the admin's own."""

from dataclasses import dataclass, field

import click
from flask import current_app
from sqlalchemy import select

from webapp.calendars import services as calendars
from webapp.calendars.models import Calendar
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.workflows import services
from webapp.workflows.models import Workflow

CALENDAR_SLUG = "demo-call"
CALENDAR = {
    "name": "Demo call",
    "slug": CALENDAR_SLUG,
    "timezone": "Europe/London",
    "duration": 30,
    "description": "A 30-minute call to get to know each other.",
}
WEEKDAYS_9_TO_5 = {day: [(9 * 60, 17 * 60)] for day in range(5)}
CONTACT = {"first_name": "Alex", "last_name": "Demo", "email": "alex.demo@example.com"}
WORKFLOW_NAME = "Send a one-time booking link"
TAG = "book-me"
SUBJECT = "Your personal booking link, {{ contact.first_name }}"
BODY = """Hi {{ contact.first_name }},

Thanks for getting in touch! Pick a time that suits you for a {{ calendar.duration }}-minute call:

{{ steps.booking_link.url }}

This link is just for you and works once: after you book, it says it has been used.

See you soon,
The OneSlot demo
"""


@dataclass
class SeedReport:
    """What seed() found or made."""

    calendar: Calendar
    contact: Contact
    workflow: Workflow
    created: list[str] = field(default_factory=list)  # "calendar", "contact", "workflow"


def _calendar() -> tuple[Calendar, bool]:
    calendar = db.session.scalar(select(Calendar).where(Calendar.slug == CALENDAR_SLUG, Calendar.archived_at.is_(None)))
    if calendar is not None:
        return calendar, False
    data = dict(CALENDAR)
    if calendars.slug_taken(CALENDAR_SLUG):  # archived: a fresh one beside it
        data["slug"] = calendars.unique_slug(str(CALENDAR["name"]))
    calendar = calendars.create_calendar(data, weekly=WEEKDAYS_9_TO_5)
    calendar.is_demo = True
    db.session.commit()
    return calendar, True


def _contact() -> tuple[Contact, bool]:
    contact = contacts.find_by_email(CONTACT["email"])
    if contact is not None:
        return contact, False
    return contacts.create_contact(CONTACT), True


def link_by_email(calendar: Calendar, tag: str, sender_name: str, name: str = WORKFLOW_NAME) -> Workflow:
    """A published workflow "tag added → Generate One-Time Booking Link → Send Email" (the demo's shape)."""
    workflow = services.create_workflow(name, "tag_added", {"tag": tag})
    link = services.new_step("generate_link", key="booking_link")
    link["config"]["calendar_id"] = calendar.id
    email = services.new_step("send_email")
    email["config"].update(subject=SUBJECT, body=BODY)
    workflow.steps = [link, email]
    workflow.sender_name = sender_name
    db.session.commit()
    services.publish(workflow)
    return workflow


def _workflow(calendar: Calendar) -> tuple[Workflow, bool]:
    workflow = db.session.scalar(select(Workflow).where(Workflow.name == WORKFLOW_NAME).order_by(Workflow.id))
    if workflow is not None:
        return workflow, False
    workflow = link_by_email(calendar, TAG, "OneSlot demo")
    workflow.is_demo = True
    db.session.commit()
    return workflow, True


def seed() -> SeedReport:
    """Make what is missing of the demo (calendar, contact, published workflow); commits."""
    calendar, new_calendar = _calendar()
    contact, new_contact = _contact()
    workflow, new_workflow = _workflow(calendar)
    created = [
        name for name, new in (("calendar", new_calendar), ("contact", new_contact), ("workflow", new_workflow)) if new
    ]
    return SeedReport(calendar, contact, workflow, created)


def hint(report: SeedReport) -> str:
    """The one line that tells the admin how to start the flow."""
    base = current_app.config["BASE_URL"]
    return (
        f"Demo: add the tag “{TAG}” to {report.contact.name} ({base}/contacts/{report.contact.id}), "
        f"then open Sent mail to see the email with the one-time link."
    )


@click.command("seed-demo")
def seed_demo_command():
    """Create the demo calendar, contact and published workflow (once; running it again changes nothing)."""
    report = seed()
    if not report.created:
        click.echo("The demo is already there: nothing changed.")
    else:
        labels = {
            "calendar": f"calendar “{report.calendar.name}” (weekdays 09:00–17:00, {report.calendar.timezone})",
            "contact": f"contact {report.contact.name} <{report.contact.email}>",
            "workflow": f"published workflow “{report.workflow.name}” (trigger: tag “{TAG}” added)",
        }
        for name in report.created:
            click.echo(f"Created the demo {labels[name]}.")
    click.echo(hint(report))


def register(app) -> None:
    """Attach `flask seed-demo`."""
    app.cli.add_command(seed_demo_command)
