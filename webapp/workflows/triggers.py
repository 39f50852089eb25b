"""Triggers: an event (contact created, tag added, booking made, …) enrols the contact in every live
workflow that listens for it, in the caller's transaction, so the event and its enrolments commit together.

The events come from contacts and booking as signals (webapp.events); connect() subscribes to them."""

from collections.abc import Callable, Iterable

from blinker import NamedSignal
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from webapp import events
from webapp.booking.models import OneTimeLink
from webapp.contacts.models import Contact, normalize_tag
from webapp.extensions import db
from webapp.workflows.engine import on_link_event
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion
from webapp.workflows.services import CALENDAR_TRIGGERS, enrol, preload_enrolments

EVENT_TYPES = (
    "contact_created",
    "tag_added",
    "booking_made",
    "booking_rescheduled",
    "booking_cancelled",
    "booking_showed",
    "booking_no_show",
    "link_opened",
    "link_expired",
)


def _trigger_type(event_type: str) -> str:
    return "booking_event" if event_type.startswith("booking_") else event_type


def matches(trigger_type: str, config: dict, event_type: str, data: dict) -> bool:
    """Whether a (published) trigger listens for this event."""
    if trigger_type != _trigger_type(event_type):
        return False
    if trigger_type == "tag_added":
        return normalize_tag(str(config.get("tag") or "")) == normalize_tag(str(data.get("tag") or ""))
    if trigger_type == "booking_event" and event_type.removeprefix("booking_") not in (config.get("events") or []):
        return False
    # "Only for bookings with host": the event lists the booking's hosts (every one of a collective booking).
    if trigger_type == "booking_event" and config.get("host_id") is not None:  # noqa: SIM102  (reads as the rule)
        if config["host_id"] not in (data.get("host_ids") or ()):
            return False
    if trigger_type in CALENDAR_TRIGGERS:
        calendar_id = config.get("calendar_id")
        return calendar_id is None or calendar_id == data.get("calendar_id")
    return True


def _live(trigger_type: str) -> list:
    """Published workflows listening to a trigger type, read once per transaction.

    A CSV import fires for thousands of contacts in one transaction: one query, not one per contact
    (and no autoflush per contact). The memo is dropped at every commit and rollback.
    """
    memo = db.session.info.setdefault(_MEMO, {})
    if trigger_type not in memo:
        memo[trigger_type] = db.session.execute(
            select(Workflow, WorkflowVersion)
            .join(WorkflowVersion, Workflow.published_version_id == WorkflowVersion.id)
            .where(Workflow.status == "published", WorkflowVersion.trigger_type == trigger_type)
            .order_by(Workflow.id)
        ).all()
    return memo[trigger_type]


_MEMO = "oneslot_live_workflows"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_soft_rollback")
def _forget_live(session, *_args):
    session.info.pop(_MEMO, None)


def fire(event_type: str, contact: Contact, *, via_workflows: Iterable[int] = (), **data) -> list[Enrolment]:
    """Enrol the contact in every published workflow whose trigger matches; does NOT commit.

    via_workflows: the workflows whose steps caused the event (a tag added by a step, and the chain
    of workflows that led to that enrolment). They are never enrolled by it, so no workflow can
    enrol a contact into itself through its own steps, directly or around a loop of workflows.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    live = _live(_trigger_type(event_type))
    via = list(dict.fromkeys(via_workflows))
    event = {"type": event_type, **data, **({"via_workflows": via} if via else {})}
    enrolled = []
    for workflow, version in live:
        if workflow.id in via or not matches(version.trigger_type, version.trigger_config or {}, event_type, data):
            continue
        if enrolment := enrol(workflow, contact, event):
            enrolled.append(enrolment)
    return enrolled


def booking_event(kind: str, booking, link_id: int | None = None) -> list[Enrolment]:
    """fire("booking_<kind>") for a booking's contact (a booking without a contact enrols no one).

    Made, rescheduled or cancelled: first the enrolment that made the booking's link looks again
    (engine.on_link_event), in the same transaction."""
    if booking.contact_id is None:
        return []
    contact = db.session.get(Contact, booking.contact_id)
    if contact is None:
        return []
    if link_id is None:
        link_id = db.session.scalar(select(OneTimeLink.id).where(OneTimeLink.booking_id == booking.id).limit(1))
    if kind in ("made", "rescheduled", "cancelled"):
        on_link_event(kind, link_id)
    # The booking's hosts, for a trigger's host filter (none: a calendar without hosts).
    hosts = {"host_ids": [row.host_id for row in booking.host_rows]} if booking.host_rows else {}
    return fire(
        f"booking_{kind}", contact, calendar_id=booking.calendar_id, booking_id=booking.id, link_id=link_id, **hosts
    )


def link_event(kind: str, link: OneTimeLink) -> list[Enrolment]:
    """fire("link_<kind>") (opened, expired) for a link's contact; a link without a contact enrols no one."""
    if link.contact_id is None:
        return []
    contact = db.session.get(Contact, link.contact_id)
    if contact is None:
        return []
    return fire(f"link_{kind}", contact, calendar_id=link.calendar_id, link_id=link.id)


# --- the receivers of webapp.events -----------------------------------------------------------------


def _contact_created(contact: Contact) -> list[Enrolment]:
    return fire("contact_created", contact)


def _tag_added(contact: Contact, *, tag: str, via_workflows: Iterable[int] = ()) -> list[Enrolment]:
    return fire("tag_added", contact, via_workflows=via_workflows, tag=tag)


def _contacts_batch(_sender, *, contact_ids: Iterable[int]) -> None:
    preload_enrolments(contact_ids)  # the re-entry checks of the triggers that follow, in a query per chunk


def _link_opened(link: OneTimeLink) -> list[Enrolment]:
    return link_event("opened", link)


def _link_expired(link: OneTimeLink) -> list[Enrolment]:
    return link_event("expired", link)


def _booking_made(booking, *, link_id: int | None) -> list[Enrolment]:
    return booking_event("made", booking, link_id=link_id)


def _booking_rescheduled(booking) -> list[Enrolment]:
    return booking_event("rescheduled", booking)


def _booking_cancelled(booking) -> list[Enrolment]:
    return booking_event("cancelled", booking)


def _attendance_marked(booking, *, attendance: str) -> list[Enrolment]:
    return booking_event(attendance, booking)


RECEIVERS: dict[NamedSignal, Callable[..., object]] = {
    events.contact_created: _contact_created,
    events.tag_added: _tag_added,
    events.contacts_batch: _contacts_batch,
    events.link_opened: _link_opened,
    events.link_expired: _link_expired,
    events.booking_made: _booking_made,
    events.booking_rescheduled: _booking_rescheduled,
    events.booking_cancelled: _booking_cancelled,
    events.booking_attendance_marked: _attendance_marked,
}


def connect() -> None:
    """Subscribe the triggers to every event; connecting again (another app in the process) changes nothing."""
    for signal, receiver in RECEIVERS.items():
        signal.connect(receiver)
