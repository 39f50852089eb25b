"""The invitee's calendar stays right: one stored UID per booking, a SEQUENCE that grows per change,
iTIP REQUEST / CANCEL parts as calendar apps read them, and a resend that tells what is true now."""

from datetime import UTC, datetime

import pytest
import time_machine
from icalendar import Calendar as ICalendar
from sqlalchemy import delete, select

from tests.conftest import iso, tomorrow_at
from webapp.auth.models import User
from webapp.booking import services
from webapp.booking.models import Booking
from webapp.extensions import db
from webapp.mail import outbox

# A Wednesday morning, so tomorrow is a weekday whatever the calendar.
NOW = datetime(2027, 3, 10, 8, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def smtp(app, smtp_server):
    smtp_server.configure(app)
    app.config["MAIL_DEFAULT_SENDER"] = "Ada's Studio <bookings@studio.example>"
    return smtp_server


def drain() -> None:
    while outbox.send_due(10):
        pass


def book(client, token, hour=10):
    # A contact's link: the booking is made with the contact's address, whatever is typed here.
    data = {"start": iso(tomorrow_at(hour)), "name": "Ada Lovelace", "email": "typed@example.com", "timezone": "UTC"}
    response = client.post(f"/book/{token}", data=data)
    assert response.status_code == 303, response.text
    return db.session.scalars(select(Booking).order_by(Booking.id.desc())).first(), response.location


def invitation(message):
    """(the iTIP part's method parameter, its charset, the parsed calendar) — and the .ics attachment agrees."""
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    # multipart/mixed: first the multipart/alternative (text, HTML, the invitation: where Outlook looks), then the file.
    alternative = message.get_payload()[0]
    assert message.get_content_type() == "multipart/mixed" and alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in alternative.get_payload()] == ["text/plain", "text/html", "text/calendar"]
    assert part.get_content_disposition() is None
    [attached] = [p for p in message.walk() if p.get_filename() == "invite.ics"]
    assert attached.get_content_type() == "application/ics"
    assert attached.get_content() == part.get_content().encode()
    return part.get_param("method"), part.get_param("charset"), ICalendar.from_ical(part.get_content())


def event_of(calendar):
    [event] = calendar.walk("VEVENT")
    return event


def test_book_move_cancel_resend_carry_one_uid_and_a_growing_sequence(app, client, make_link, admin, smtp):
    link, token = make_link()
    booking, path = book(client, token)
    assert booking.sequence == 0 and booking.uid.endswith("@oneslot") and len(booking.uid) > 36
    assert client.post(path + "/reschedule", data={"start": iso(tomorrow_at(14)), "timezone": "UTC"}).status_code == 303
    assert client.post(path + "/cancel", data={"reason": "Ill"}).status_code == 303
    # From another browser (the one that booked goes back to its booking's page instead).
    other = app.test_client()
    assert 'data-testid="gone-cancelled"' in other.get(f"/book/{token}").text
    resent_page = other.post(f"/book/{token}/resend")
    assert resent_page.status_code == 200 and "This booking was cancelled" in resent_page.text
    assert "confirmation again" not in resent_page.text
    drain()
    mails = [m for m in smtp.messages if m["To"] == booking.email]
    assert len(mails) == 4
    seen = []
    for mail in mails:
        method, charset, calendar = invitation(mail)
        event = event_of(calendar)
        assert str(calendar["METHOD"]) == method and charset.upper() == "UTF-8"
        seen.append((method, str(event["UID"]), int(event["SEQUENCE"]), str(event["STATUS"])))
        assert str(event["ORGANIZER"]) == "mailto:bookings@studio.example"
        assert event["ORGANIZER"].params["CN"] == "Ada's Studio"
        attendee = event["ATTENDEE"]
        assert str(attendee) == f"mailto:{booking.email}" and attendee.params["CN"] == "Ada Lovelace"
        assert attendee.params["PARTSTAT"] == "ACCEPTED" and attendee.params["RSVP"] == "FALSE"
        assert event["DTSTAMP"].dt == NOW
    uid = booking.uid
    assert seen == [
        ("REQUEST", uid, 0, "CONFIRMED"),
        ("REQUEST", uid, 1, "CONFIRMED"),
        ("CANCEL", uid, 2, "CANCELLED"),
        ("CANCEL", uid, 2, "CANCELLED"),
    ]
    assert event_of(invitation(mails[1])[2])["DTSTART"].dt == tomorrow_at(14)
    resent = mails[3]
    text = resent.get_body(("plain",)).get_content()
    assert resent["Subject"].startswith("Cancelled:") and "You're booked" not in text
    assert "You cancelled this booking on Wednesday, March 10, 2027, 8:15 AM." in text
    assert (
        "You cancelled this booking on Wednesday, March 10, 2027, 8:15 AM." in resent.get_body(("html",)).get_content()
    )
    # The admin's notifications carry no invitation (they are not the attendee).
    notifications = [m for m in smtp.messages if m["To"] == admin.email]
    assert len(notifications) == 3
    assert all(not [p for p in m.walk() if p.get_content_type() == "text/calendar"] for m in notifications)


def test_the_resend_of_a_live_booking_is_the_booking_as_it_stands(app, client, make_link, smtp):
    _, token = make_link()
    booking, path = book(client, token)
    client.post(path + "/reschedule", data={"start": iso(tomorrow_at(15)), "timezone": "UTC"})
    client.post(f"/book/{token}/resend")
    drain()
    resent = [m for m in smtp.messages if m["To"] == booking.email][-1]
    method, _, calendar = invitation(resent)
    event = event_of(calendar)
    assert (method, int(event["SEQUENCE"]), event["DTSTART"].dt) == ("REQUEST", 1, tomorrow_at(15))
    assert resent["Subject"].startswith("Your booking:")


def test_a_cancellation_by_the_organiser_says_so(app, client, make_link, smtp, login):
    _, token = make_link()
    booking, _ = book(client, token)
    assert login.post(f"/bookings/{booking.id}/cancel", data={"reason": "Double-booked"}).status_code in (302, 303)
    client.post(f"/book/{token}/resend")
    drain()
    cancel, resent = [m for m in smtp.messages if m["To"] == booking.email][1:]
    organiser = db.session.scalars(select(User)).first().display_name
    for mail in (cancel, resent):
        assert invitation(mail)[0] == "CANCEL"
        text = mail.get_body(("plain",)).get_content()
        assert f"Cancelled by {organiser} (organiser) on" in text
        assert "Reason:" in text and "Double-booked" in text
    note = services.cancellation_note(db.session.get(Booking, booking.id))
    assert note.endswith(f"by {organiser} (organiser).")


def test_the_apis_cancel_sends_the_same_cancel(app, client, make_link, smtp, api):
    _, token = make_link()
    booking, _ = book(client, token)
    response = api.post(f"/api/v1/bookings/{booking.id}/cancel", {"reason": "Closed that day"})
    assert response.status_code == 200 and response.json["status"] == "cancelled"
    assert api.post(f"/api/v1/bookings/{booking.id}/cancel", {}).status_code == 409
    assert api.post(f"/api/v1/bookings/{booking.id}/cancel", {"reason": 3}).status_code == 422
    drain()
    cancel = [m for m in smtp.messages if m["To"] == booking.email][-1]
    method, _, calendar = invitation(cancel)
    assert method == "CANCEL" and int(event_of(calendar)["SEQUENCE"]) == 1
    assert event_of(calendar)["UID"] == booking.uid
    text = cancel.get_body(("plain",)).get_content()
    assert "Closed that day" in text and "Cancelled by the organiser on" in text


def test_uids_are_random_and_never_follow_an_id(app, client, make_link, make_calendar):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    first, _ = book(client, make_link(calendar=calendar)[1], hour=10)
    second, _ = book(client, make_link(calendar=calendar)[1], hour=11)
    assert first.uid != second.uid
    # Even an id given again (a restored backup, another install) gets a new UID.
    old_id, old_uid = second.id, second.uid
    db.session.execute(delete(Booking).where(Booking.id == old_id))
    db.session.commit()
    again = Booking(
        id=old_id,
        calendar_id=calendar.id,
        start_at=tomorrow_at(12),
        end_at=tomorrow_at(12, 30),
        name="B",
        email="b@x.io",
    )
    db.session.add(again)
    db.session.commit()
    assert again.uid != old_uid and again.sequence == 0


def test_the_download_is_a_publish_with_the_same_uid(client, make_link):
    _, token = make_link()
    booking, path = book(client, token)
    calendar = ICalendar.from_ical(client.get(path + "/invite.ics").data)
    assert str(calendar["METHOD"]) == "PUBLISH" and event_of(calendar)["UID"] == booking.uid
    client.post(path + "/cancel", data={})
    calendar = ICalendar.from_ical(client.get(path + "/invite.ics").data)
    assert str(calendar["METHOD"]) == "CANCEL" and int(event_of(calendar)["SEQUENCE"]) == 1
