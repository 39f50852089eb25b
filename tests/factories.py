"""What the tests build, one helper each: workflow steps, workflows (through the services or as bare
rows), enrolments and links. Plain functions over the app's services: call them inside an app context
(the `app` fixture); fixtures that wrap them live in the conftest files."""

import secrets

from webapp.booking import services as booking
from webapp.booking.models import OneTimeLink
from webapp.booking.services import Invitee
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.workflows import services
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion

ALL_WEEK = {day: [(0, 1440)] for day in range(7)}  # a calendar's hours: open all day, every day
BODY = "Hi {{ contact.first_name }},\n\nPick a time for {{ calendar.name }}: {{ steps.booking_link.url }}\n"


def step(step_id, step_type, key="", **config) -> dict:
    """A step of any type, as the editor stores it."""
    return {"id": step_id, "type": step_type, "key": key, "config": config}


def link_step(calendar, key="booking_link", step_id=None, **config) -> dict:
    """Generate One-Time Booking Link on `calendar`; its id is s-<key> unless named."""
    return step(step_id or f"s-{key}", "generate_link", key=key, calendar_id=calendar.id, **config)


def email_step(step_id="s-email", subject="Your link, {{ contact.first_name }}", body=BODY, **config) -> dict:
    """Send Email to the contact (by default the link of link_step's key)."""
    return step(step_id, "send_email", subject=subject, body=body, **config)


def wait_step(step_id, **config) -> dict:
    return step(step_id, "wait", **config)


def goal_step(step_id, link_step="booking_link") -> dict:
    return step(step_id, "goal", link_step=link_step)


def if_else_step(step_id, conditions, yes=(), no=(), match="all") -> dict:
    """If/else on `conditions`, with the steps of each branch."""
    fork = step(step_id, "if_else", match=match, conditions=list(conditions))
    return fork | {"branches": {"yes": list(yes), "no": list(no)}}


def make_workflow(trigger_type="manual", trigger_config=None, steps=(), publish=True, name="Send a link", **settings):
    """A workflow made through the services; `settings` are its columns (allow_reentry, sender_name…)."""
    workflow = services.create_workflow(name, trigger_type, trigger_config)
    workflow.steps = list(steps)
    for column, value in settings.items():
        setattr(workflow, column, value)
    db.session.commit()
    if publish:
        services.publish(workflow)
    return workflow


def send_link_workflow(calendar, trigger_type="tag_added", trigger_config=None, publish=True):
    """The product's flow: Generate One-Time Booking Link (s-link), then Send Email (s-mail); tag vip by default."""
    body = "Hi {{ contact.first_name }}, pick a time: {{ steps.booking_link.url }}"
    steps = [link_step(calendar, step_id="s-link"), email_step("s-mail", subject="Your link", body=body)]
    return make_workflow(trigger_type, trigger_config or {"tag": "vip"}, steps=steps, publish=publish)


def follow_up_workflow(calendar, **settings):
    """A booking made or cancelled on `calendar` → a link (3 days, reused) → an email; re-entry on, the
    sender "Acme sales"; published. `settings` replace its columns (name…)."""
    steps = [
        link_step(calendar, step_id="s-link", expires_in=3, expires_unit="days", existing="reuse"),
        step("s-mail", "send_email", to="", subject="Hi", body=BODY),
    ]
    trigger = {"events": ["made", "cancelled"], "calendar_id": calendar.id}
    settings = {"name": "Follow up, then book", "allow_reentry": True, "sender_name": "Acme sales"} | settings
    return make_workflow("booking_event", trigger, steps=steps, **settings)


def workflow_rows(name):
    """A published workflow and its version 1 as bare rows (no steps, no services, not committed)."""
    workflow = Workflow(name=name, status="published", trigger_type="manual", steps=[])
    db.session.add(workflow)
    db.session.flush()
    version = WorkflowVersion(workflow_id=workflow.id, number=1, trigger_type="manual", steps=[], settings={})
    db.session.add(version)
    db.session.flush()
    return workflow, version


def add_link(calendar, contact, *, created_at, workflow=None, enrolment=None, source="workflow", **fields):
    """A one-time link as a bare row, made at `created_at` (its token is never known: nothing opens it)."""
    if workflow is not None:
        fields.update(
            workflow_id=workflow.id,
            enrolment_id=enrolment.id if enrolment else None,
            test_run=bool(enrolment and enrolment.is_test),
        )
    link = OneTimeLink(
        calendar_id=calendar.id,
        contact_id=contact.id,
        salt=secrets.token_hex(8),
        token_digest=secrets.token_hex(32),
        source=source,
        created_at=created_at,
        **fields,
    )
    db.session.add(link)
    return link


def enrol_now(workflow, contact) -> Enrolment:
    """Enrol by hand, committed."""
    enrolment = services.enrol(workflow, contact, {"type": "manual"})
    db.session.commit()
    return enrolment


def tag(contact, name="vip") -> None:
    """Add a tag and commit, as the contact page does (fires tag_added)."""
    contacts.add_tags(contact, [name])
    db.session.commit()


def book_link(link, start):
    """Book `link` at `start` through the booking service, as its contact."""
    return booking.book(link, start, Invitee(name="Ada", email=link.contact.email, timezone="UTC"))


def booking_lifecycle(link, start, moved_to, zone="America/New_York", reason="", locale="en_US"):
    """Book `link` at `start` as Ada, move it to `moved_to`, resend its confirmation, then cancel it
    (as the invitee, with `reason`): every invitee email a booking can get. Returns the booking."""
    invitee = Invitee(name="Ada Lovelace", email=link.contact.email, timezone=zone, locale=locale)
    made = booking.book(link, start, invitee)
    booking.reschedule(made, moved_to)
    booking.resend_confirmation(made)
    booking.cancel(made, reason, by="invitee")
    return made
