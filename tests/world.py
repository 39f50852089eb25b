"""One of everything a route can name (calendar, contact, link, booking, workflow, step, enrolment,
mail, API key, webhook secret), for the tests that throw input at every route and at the API."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from webapp.api import keys
from webapp.booking import links
from webapp.booking import services as booking
from webapp.calendars import services as calendars
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.tokens import make_token
from webapp.worker import drain
from webapp.workflows import actions, demo, services, starters


@dataclass
class World:
    """What was made, by the name a route's path variable gives it."""

    ids: dict[str, list[int]] = field(default_factory=dict)
    strings: dict[str, list[str]] = field(default_factory=dict)
    api_key: str = ""


def build(app) -> World:
    """Make one of everything (inside an app context); commits."""
    report = demo.seed()  # a calendar, a contact and a published workflow with a link and an email step
    open_all_day = calendars.create_calendar(
        {"name": "Open all day", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
    )
    guest = contacts.create_contact({"email": "grace@example.com", "first_name": "Grace"}, ["vip"])
    link = links.issue(open_all_day, report.contact)
    used = links.issue(open_all_day, guest)
    db.session.commit()
    tomorrow = datetime.combine(datetime.now(UTC).date() + timedelta(days=1), time(10), UTC)
    made = booking.book(used, tomorrow, booking.Invitee("Grace", "grace@example.com", "UTC"))

    hook = services.create_workflow("Inbound", "webhook")
    tag_step = services.new_step("add_tag")
    tag_step["config"]["tag"] = "from-hook"
    hook.steps = [tag_step]
    db.session.commit()
    services.publish(hook)
    secret = services.regenerate_secret(hook)

    # A draft with one step of every type: the editor shows every step form.
    every = services.create_workflow("Every step", "manual")
    every.steps = [services.new_step(step_type, key=f"k{i}") for i, step_type in enumerate(actions.all_types())]
    db.session.commit()

    enrolment = services.enrol(report.workflow, report.contact, {"type": "manual"})
    db.session.commit()
    drain(app)  # the link and email steps run: a step run, a second link and a queued message exist

    from webapp.mail.models import OutboxMessage

    api_key_row, api_key = keys.create_key("fuzz")
    messages = [m.id for m in db.session.scalars(db.select(OutboxMessage).limit(3))]
    return World(
        ids={
            "calendar_id": [report.calendar.id, open_all_day.id],
            "contact_id": [report.contact.id, guest.id],
            "link_id": [link.id, used.id],
            "booking_id": [made.id],
            "workflow_id": [report.workflow.id, hook.id, every.id],
            "enrolment_id": [enrolment.id],
            "message_id": messages,
            "key_id": [api_key_row.id],
            "index": [0, 1],
        },
        strings={
            "token": [links.url(link).rsplit("/", 1)[1], make_token(booking.MANAGE, made.manage_salt)],
            "step_id": [step["id"] for step in report.workflow.steps + hook.steps + every.steps],
            "secret": [secret],
            "slug": [template.slug for template in starters.all_templates()],
            "filename": ["css/app.css", "vendor/htmx.min.js"],
        },
        api_key=api_key,
    )
