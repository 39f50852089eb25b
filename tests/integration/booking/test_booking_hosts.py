"""Who the meeting is with: the booking page (single, collective, round robin, none; its cache follows a
renamed host), the confirmation page, the invitee's mail and .ics, the admins' and hosts' notifications."""

from email.utils import parseaddr

import pytest
from icalendar import Calendar as ICalendar
from sqlalchemy import select

from tests.conftest import iso, tomorrow_at
from webapp.booking import ics, services
from webapp.booking.models import Booking
from webapp.calendars import services as calendar_services
from webapp.extensions import db
from webapp.hosts.models import COLLECTIVE, ROUND_ROBIN
from webapp.mail.models import OutboxMessage
from webapp.mail.sender import build_message


def assign(booking, *hosts):
    """The booking's hosts, as the booking assignment (booking/assign.py) made them: checked."""
    db.session.expire(booking)
    assert sorted(row.host_id for row in booking.host_rows) == sorted(host.id for host in hosts)
    db.session.commit()
    db.session.expire(booking)


def book(client, token, name="Grace Hopper", email="grace@example.com", hour=10):
    data = {"start": iso(tomorrow_at(hour)), "name": name, "email": email, "timezone": "UTC"}
    response = client.post(f"/book/{token}", data=data)
    assert response.status_code == 303, response.text
    return db.session.scalars(select(Booking).order_by(Booking.id.desc())).first(), response.headers["Location"]


def page(client, token):
    return client.get(f"/book/{token}").text


def test_single_host_name_and_photo_or_initials(client, make_link, make_calendar, make_host):
    calendar = make_calendar(name="Intro call")
    sam = make_host(name="Sam Rivera", email="sam@example.com", calendars=[calendar])
    _, token = make_link(calendar=calendar)
    html = page(client, token)
    assert "With Sam Rivera" in html and 'class="host-initials">SR<' in html and "/photo/" not in html
    sam.photo_version = 3
    db.session.commit()
    html = page(client, token)  # the cached path now (the link was opened)
    assert f'src="/hosts/{sam.id}/photo/3"' in html and "host-initials" not in html


def test_renaming_the_host_changes_the_cached_page(client, make_link, make_calendar, make_host):
    calendar = make_calendar()
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    _, token = make_link(calendar=calendar)
    page(client, token)
    assert "With Sam Rivera" in page(client, token)
    sam.name = "Samantha Rivera"
    db.session.commit()
    html = page(client, token)
    assert "With Samantha Rivera" in html and "Sam Rivera" not in html


def test_collective_names_every_host_and_round_robin_none(client, make_link, make_calendar, make_host):
    calendar = make_calendar()
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    ada = make_host(name="Ada Lovelace", calendars=[calendar])
    calendar_services.set_hosts(calendar, [sam.id, ada.id], assignment=COLLECTIVE)
    db.session.commit()
    _, token = make_link(calendar=calendar)
    html = page(client, token)
    assert "With Sam Rivera and Ada Lovelace" in html and ">SR<" in html and ">AL<" in html
    assert "Avec Sam Rivera et Ada Lovelace" in client.get(f"/book/{token}?lang=fr").text

    calendar_services.set_hosts(calendar, [sam.id, ada.id], assignment=ROUND_ROBIN)
    db.session.commit()
    html = client.get(f"/book/{token}?lang=en").text
    assert "With one of our team" in html and "Sam Rivera" not in html and "host-initials" not in html
    assert "Mit einer Person aus unserem Team" in client.get(f"/book/{token}?lang=de").text


def test_a_calendar_without_hosts_shows_nobody(client, make_link, make_calendar):
    _, token = make_link(calendar=make_calendar())
    assert 'data-testid="hosts"' not in page(client, token)


def test_host_names_are_text_and_a_hole_character_renders_live(client, make_link, make_calendar, make_host):
    calendar = make_calendar()
    make_host(name="<b>Sam</b> \ue000token\ue001", calendars=[calendar])
    _, token = make_link(calendar=calendar)
    for _ in range(2):
        html = page(client, token)
        assert "&lt;b&gt;Sam&lt;/b&gt; \ue000token\ue001" in html and "<b>Sam" not in html


def test_confirmation_mail_ics_and_notifications_name_the_host(client, make_link, make_calendar, make_host):
    calendar = make_calendar(name="Intro call", notify_email="desk@example.com")
    sam = make_host(name="Sam Rivera", email="sam@example.com", calendars=[calendar])
    ada = make_host(name="Ada Lovelace", email="Desk@example.com")  # the notify address again: one mail
    _, token = make_link(calendar=calendar)
    booking, manage = book(client, token)
    assign(booking, sam)
    assert "Sam Rivera" in client.get(manage).text

    db.session.execute(OutboxMessage.__table__.delete())
    db.session.commit()
    services.resend_confirmation(booking)
    services.cancel(booking, by="admin")
    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    invitee = [m for m in messages if m.to_addr == booking.email]
    assert len(invitee) == 2 and all(m.reply_to == "Sam Rivera <sam@example.com>" for m in invitee)
    resent = invitee[0]
    assert "Your meeting with Sam Rivera." in resent.text_body and "With: Sam Rivera" in resent.text_body
    assert "Your meeting with Sam Rivera." in resent.html_body
    sent = build_message(resent)
    assert parseaddr(sent.reply_to if isinstance(sent.reply_to, str) else sent.reply_to[1])[1] == "sam@example.com"
    assert "Reply-To" in sent.as_string()

    event = ICalendar.from_ical(resent.attachments[0]["content"]).walk("VEVENT")[0]
    assert str(event["ORGANIZER"]) == "mailto:sam@example.com" and event["ORGANIZER"].params["CN"] == "Sam Rivera"

    admin = sorted(m.to_addr for m in messages if m.kind == "admin_cancelled")
    assert admin == ["desk@example.com", "sam@example.com"]
    admin_mail = next(m for m in messages if m.kind == "admin_cancelled")
    assert "With: Sam Rivera" in admin_mail.text_body and "Sam Rivera" in admin_mail.html_body
    assert ada.id  # a host of no booking hears nothing: checked by the recipients above


def test_collective_ics_first_host_organises_others_attend(client, make_link, make_calendar, make_host):
    calendar = make_calendar()
    sam = make_host(name="Sam Rivera", email="sam@example.com", calendars=[calendar])
    ada = make_host(name="Ada Lovelace", email="ada@example.com", calendars=[calendar])
    calendar_services.set_hosts(calendar, [sam.id, ada.id], assignment=COLLECTIVE)
    db.session.commit()
    _, token = make_link(calendar=calendar)
    booking, manage = book(client, token)
    assign(booking, sam, ada)
    html = client.get(manage).text
    assert "Sam Rivera and Ada Lovelace" in html
    download = ICalendar.from_ical(client.get(manage + "/invite.ics").data)
    event = ICalendar.from_ical(ics.for_booking(booking)).walk("VEVENT")[0]
    assert str(event["ORGANIZER"]) == "mailto:sam@example.com"
    attendees = sorted(str(a) for a in event["ATTENDEE"])
    assert attendees == sorted(["mailto:ada@example.com", f"mailto:{booking.email}"])
    assert download.walk("VEVENT")[0]["SUMMARY"] == "Intro call"


@pytest.mark.parametrize(
    "lang, words", [("de", "Ihr Termin mit Sam Rivera."), ("fr", "Votre rendez-vous avec Sam Rivera.")]
)
def test_invitee_mail_in_the_invitee_language(client, make_link, make_calendar, make_host, lang, words):
    calendar = make_calendar()
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    _, token = make_link(calendar=calendar)
    client.get(f"/book/{token}?lang={lang}")
    booking, _ = book(client, token)
    assign(booking, sam)
    services.resend_confirmation(booking)
    message = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert words in message.text_body


def test_a_host_with_an_odd_stored_address_never_stops_the_mail(client, make_link, make_calendar, make_host):
    calendar = make_calendar()
    odd = make_host(name="Odd\nHost", email="odd@example.com\r\nBcc: x@example.com", calendars=[calendar])
    _, token = make_link(calendar=calendar)
    booking, _ = book(client, token)
    assign(booking, odd)
    services.resend_confirmation(booking)
    services.cancel(booking, by="admin")
    messages = db.session.scalars(select(OutboxMessage)).all()
    assert messages and all(m.reply_to == "" and "\n" not in m.to_addr for m in messages)
