"""{{ booking.start_local }} and friends: the booking in a workflow's email, written for the invitee (their
language, zone and clock, from the page they booked on; English when unknown)."""

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import iso
from tests.factories import email_step, link_step, make_workflow
from webapp.booking.models import Booking
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain
from webapp.workflows import actions, merge

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # a Monday; 13:00 UTC is 14:00 in Berlin
BODY = (
    "On {{ booking.start_date }} at {{ booking.start_time }}–{{ booking.end_time }} ({{ booking.timezone }}).\n"
    "{{ booking.start_local }}\n"
)


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


def _workflow_mail(app, calendar, make_link, client, accept: str) -> OutboxMessage:
    make_workflow(
        "booking_event",
        {"events": ["made"], "calendar_id": calendar.id},
        steps=[email_step(subject="See you {{ booking.start_local }}", body=BODY)],
    )
    _, token = make_link(calendar=calendar)
    data = {"start": iso(datetime(2026, 12, 7, 13, 0, tzinfo=UTC)), "name": "Ada", "timezone": "America/New_York"}
    assert client.post(f"/book/{token}", data=data, headers={"Accept-Language": accept}).status_code == 303
    drain(app)
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "workflow")).one()


def test_a_german_invitees_workflow_mail_speaks_german_with_24_hour_times(app, client, make_calendar, make_link):
    berlin = make_calendar(timezone="Europe/Berlin")
    mail = _workflow_mail(app, berlin, make_link, client, "de-DE,de;q=0.9")
    # The invitee's own zone (they booked in New York time), German words and a 24-hour clock.
    assert "On Montag, 7. Dezember 2026 at 08:00–08:30 (America/New York)." in mail.text_body
    assert "Montag, 7. Dezember 2026, 08:00" in mail.text_body
    assert mail.subject.endswith("Montag, 7. Dezember 2026, 08:00")


def test_an_american_invitees_workflow_mail_has_12_hour_times(app, client, make_calendar, make_link):
    berlin = make_calendar(timezone="Europe/Berlin")
    mail = _workflow_mail(app, berlin, make_link, client, "en-US")
    assert "On Monday, December 7, 2026 at 8:00 AM–8:30 AM (America/New York)." in mail.text_body


def test_booking_values_are_english_for_a_booking_without_a_locale_and_empty_without_a_booking(app, make_calendar):
    calendar = make_calendar(timezone="UTC")
    booking = Booking(
        calendar_id=calendar.id,
        start_at=datetime(2026, 12, 8, 15, 0, tzinfo=UTC),
        end_at=datetime(2026, 12, 8, 15, 30, tzinfo=UTC),
        name="B",
        email="b@example.com",
        timezone="Europe/London",
        locale="",
    )
    values = merge.booking_values(booking)
    assert values["start_local"] == "Tuesday, December 8, 2026, 3:00 PM"
    assert values["timezone"] == "Europe/London"
    assert merge.booking_values(None) == {**dict.fromkeys(merge.BOOKING_VALUES, ""), "host": {"name": "", "email": ""}}


def test_the_editor_offers_the_booking_values_where_a_calendar_is_known(app, make_calendar):
    calendar = make_calendar()
    groups = dict(actions.available([link_step(calendar)]))
    assert ("Booking: date and time", "{{ booking.start_local }}") in groups["Booking"]
    assert "Booking" not in dict(actions.available([]))
    ok = merge.check("{{ booking.start_local }}", [link_step(calendar)], outputs_of=actions.outputs_of, calendar=True)
    refused = merge.check("{{ booking.start_local }}", [], outputs_of=actions.outputs_of, calendar=False)
    unknown = merge.check("{{ booking.secret }}", [link_step(calendar)], outputs_of=actions.outputs_of, calendar=True)
    assert ok == [] and refused and unknown == ["Unknown value {{ booking.secret }}"]
