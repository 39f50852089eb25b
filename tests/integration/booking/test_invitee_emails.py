"""The invitee's emails as they arrive over SMTP: a text and an HTML alternative with the .ics, the
booking in the invitee's zone, buttons whose links work, typed text kept as text (escaped, its line
breaks kept), and nothing fetched from anywhere. The Chromium rendering is tests/browser/test_emails.py."""

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from flask import render_template

from tests.factories import ALL_WEEK, booking_lifecycle
from tests.helpers import html_references
from webapp import tokens
from webapp.booking import links
from webapp.booking.services import Invitee, book
from webapp.extensions import db
from webapp.worker import drain

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
START = datetime(2027, 3, 12, 14, 0, tzinfo=UTC)  # 09:00 in New York (EST)
MOVED = datetime(2027, 3, 15, 14, 0, tzinfo=UTC)  # 10:00 in New York: its clocks moved on 14 March (EDT)
MESSAGE = "Bring your ID.\n<script>alert('x')</script> & <b>be on time</b>"
REASON = "Ill today.\nSorry & <i>thanks</i>"
EVENTS = ("confirmed", "moved", "resent", "cancelled")
GOOGLE = "https://calendar.google.com/calendar/render?"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def calendar(clock, make_calendar):
    return make_calendar(
        name="Discovery call",
        timezone="Europe/London",
        location="Room 4, 1 Main Street",
        confirmation_message=MESSAGE,
        weekly=ALL_WEEK,
    )


@pytest.fixture
def ada(clock, make_contact):
    return make_contact(first_name="Ada", last_name="Lovelace", email="ada@example.com")


@pytest.fixture
def received(app, smtp_server, calendar, ada):
    """The booking, and the invitee's four emails as aiosmtpd received them: {event: message}."""
    smtp_server.configure(app)
    app.config["MAIL_DEFAULT_SENDER"] = "Sam Rivera <sam@example.com>"
    link = links.issue(calendar, ada)
    db.session.commit()
    booking = booking_lifecycle(link, START, MOVED, reason=REASON)
    drain(app)
    mails = [message for message in smtp_server.messages if message["To"] == "ada@example.com"]
    assert len(mails) == len(EVENTS), [message["Subject"] for message in mails]
    return booking, dict(zip(EVENTS, mails, strict=True))


def html_of(message: EmailMessage) -> str:
    """The HTML part with plain line ends and spaces (Babel puts a narrow no-break one before AM/PM)."""
    return message.get_body(("html",)).get_content().replace("\r\n", "\n").replace("\u202f", " ")


def text_of(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n").replace("\u202f", " ")


def words(html: str) -> str:
    """The HTML's text as a reader sees it: tags dropped, white space run together."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def ics_files(message: EmailMessage) -> list[str]:
    """The calendar files the message carries, wherever it puts them."""
    return [
        part.get_content() if isinstance(part.get_content(), str) else part.get_content().decode()
        for part in message.walk()
        if (part.get_filename() or "").endswith(".ics")
    ]


def test_every_invitee_email_is_text_and_html_alternatives_with_the_ics(received):
    _, mails = received
    for event, message in mails.items():
        alternative = next(part for part in message.walk() if part.get_content_type() == "multipart/alternative")
        kinds = [part.get_content_type() for part in alternative.iter_parts()]
        assert kinds[:2] == ["text/plain", "text/html"], (event, kinds)
        html = html_of(message)
        assert html.startswith("<!doctype html>") and '<html lang="en"' in html, event
        assert "Ada Lovelace" in text_of(message) and "Ada Lovelace" in html, event
        if event != "cancelled":
            [ics] = ics_files(message)
            assert "BEGIN:VEVENT" in ics, event


def test_the_details_are_in_the_invitees_zone(received):
    _, mails = received
    confirmed, moved = words(html_of(mails["confirmed"])), words(html_of(mails["moved"]))
    # en_US, the page's locale: its dates and its 12-hour clock.
    assert "When Friday, March 12, 2027 9:00 AM – 9:30 AM" in confirmed and "America/New York (EST)" in confirmed
    assert "When Monday, March 15, 2027 10:00 AM – 10:30 AM" in moved and "America/New York (EDT)" in moved
    assert "Was Friday, March 12, 2027, 9:00 AM" in moved
    assert re.search(r"<s\b[^>]*>Friday, March 12, 2027, 9:00 AM</s>", html_of(mails["moved"]))  # struck
    for html in (confirmed, moved):
        assert "Discovery call" in html and "30 minutes" in html and "Room 4, 1 Main Street" in html
        assert "Sam Rivera" in html  # with whom: the organiser
    text = text_of(mails["moved"])
    assert (
        "When: Monday, March 15, 2027, 10:00 AM – 10:30 AM" in text and "Was: Friday, March 12, 2027, 9:00 AM" in text
    )


def test_a_preheader_leads_each_email(received):
    _, mails = received
    expected = {
        "confirmed": "Discovery call, Friday, March 12, 2027, 9:00 AM with Sam Rivera.",
        "moved": "New time: Monday, March 15, 2027, 10:00 AM.",
        "resent": "Discovery call, Monday, March 15, 2027, 10:00 AM with Sam Rivera.",
        "cancelled": "Discovery call on Monday, March 15, 2027, 10:00 AM is cancelled.",
    }
    for event, message in mails.items():
        hidden = re.search(r'<div style="display:none;[^"]*">([^<]*)', html_of(message))
        assert hidden and hidden[1].startswith(expected[event]), (event, hidden and hidden[1][:120])


def test_the_buttons_carry_working_links(received, client):
    booking, mails = received
    base = client.application.config["BASE_URL"]
    html = html_of(mails["confirmed"])
    hrefs = {value for _tag, attr, value in html_references(html) if attr == "href"}
    [manage] = {href for href in hrefs if re.fullmatch(re.escape(base) + r"/booking/[\w-]+", href)}
    assert {manage + "/reschedule", manage + "/invite.ics"} <= hrefs
    [google] = [href for href in hrefs if href.startswith(GOOGLE)]
    query = parse_qs(urlsplit(google).query)
    assert query["action"] == ["TEMPLATE"] and query["text"] == ["Discovery call"]
    assert query["dates"] == ["20270312T140000Z/20270312T143000Z"]
    for label in ("Add to Google Calendar", "Reschedule", "Cancel booking", "Apple / Outlook (.ics)"):
        assert f">{label}</a>" in html
    # The links work: the manage page (where the invitee cancels), the reschedule page, the .ics.
    path = urlsplit(manage).path
    assert client.get(path).status_code == 200
    assert client.get(path + "/invite.ics").status_code == 200
    text = text_of(mails["confirmed"])
    assert f"Reschedule: {manage}/reschedule" in text and f"Cancel: {manage}" in text and google in text
    assert tokens.MARKER_RE.search(html) is None and tokens.MARKER_RE.search(text) is None


def test_the_reschedule_button_opens_the_picker(received, client, calendar):
    """Before the cancellation (the last mail), the reschedule link of the moved mail opens the picker."""
    booking, mails = received
    [manage] = re.findall(r"Reschedule: (\S+)/reschedule", text_of(mails["moved"]))
    booking.status = "confirmed"  # as it stood when that mail was sent
    db.session.commit()
    page = client.get(urlsplit(manage).path + "/reschedule")
    assert page.status_code == 200 and "Discovery call" in page.text


def test_the_confirmation_message_is_text_with_its_line_breaks(received):
    _, mails = received
    for event in ("confirmed", "moved", "resent"):
        html = html_of(mails[event])
        assert "<script>" not in html and "<b>be on time</b>" not in html
        assert (
            "Bring your ID.<br>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;be on time&lt;/b&gt;"
            in html
        )
        assert MESSAGE in text_of(mails[event])  # the text part says it as typed
    assert "Bring your ID." not in html_of(mails["cancelled"])


def test_nothing_is_fetched_from_elsewhere(received, client):
    _, mails = received
    base = client.application.config["BASE_URL"]
    for event, message in mails.items():
        html = html_of(message)
        for tag, attr, value in html_references(html):
            assert attr == "href" and tag == "a", (event, tag, attr, value)
            assert value.startswith((base + "/", GOOGLE)), (event, value)
        assert not re.search(r"<(img|link|script|iframe|object|embed|video|audio|source)\b", html, re.I), event
        assert "url(" not in html and "@import" not in html, event
        assert "max-width:600px" in html  # the email's width


def test_the_cancellation_says_who_why_and_what_next(app, calendar, ada, received):
    booking, mails = received
    html, text = html_of(mails["cancelled"]), text_of(mails["cancelled"])
    assert "Your booking is cancelled" in html and "/reschedule" not in html and "Cancel booking" not in html
    assert "Ill today.<br>Sorry &amp; &lt;i&gt;thanks&lt;/i&gt;" in html and "Ill today.\nSorry & <i>thanks</i>" in text
    assert "get in touch with Sam Rivera" in html and "get in touch with Sam Rivera" in text
    said = "You cancelled this booking on Wednesday, March 10, 2027, 7:00 AM."
    assert said in html and f"It will not take place.\n{said}\n" in text
    # What the manage and ics features pass in: who acted, their reason, a link to book again.
    context = {
        "booking": booking,
        "calendar": calendar,
        "event": "cancelled",
        "manage_url": "http://127.0.0.1:5000/booking/x",
        "organiser": "Sam Rivera",
        "actor_label": "Sam <Rivera> (organiser)",
        "reason": "Double-booked & sorry.\nCall me",
        "rebook_url": "http://127.0.0.1:5000/book/again",
        "subject": "Cancelled",
    }
    html = render_template("email/booking_invitee.html", **context)
    text = render_template("email/booking_invitee.txt", **context)
    assert "Cancelled by Sam &lt;Rivera&gt; (organiser) on Wednesday, March 10, 2027, 7:00 AM." in html
    assert "Double-booked &amp; sorry.<br>Call me" in html and "Ill today" not in html
    assert '<a href="http://127.0.0.1:5000/book/again"' in html and ">Book a new time</a>" in html
    assert (
        "Cancelled by Sam <Rivera> (organiser)" in text and "Book a new time: http://127.0.0.1:5000/book/again" in text
    )
    assert "get in touch" not in html


def test_a_move_says_who_moved_it(app, calendar, ada, received):
    booking, _ = received
    booking.status = "confirmed"
    context = {"booking": booking, "calendar": calendar, "event": "rescheduled", "manage_url": "u", "subject": "s"}
    for template in ("email/booking_invitee.html", "email/booking_invitee.txt"):
        assert "Moved by" not in render_template(template, **context)
        moved = render_template(template, **context, actor_label="Sam <b>Rivera</b> (organiser)")
        assert (
            "Moved by Sam &lt;b&gt;Rivera&lt;/b&gt; (organiser)."
            if template.endswith("html")
            else "Moved by Sam <b>Rivera</b> (organiser)."
        ) in moved


def test_the_organisers_cancel_says_so_and_where_to_write(app, calendar, ada, received):
    booking, _ = received
    booking.cancelled_by = "admin"
    context = {"booking": booking, "calendar": calendar, "event": "cancelled", "manage_url": "u", "subject": "s"}
    for template in ("email/booking_invitee.html", "email/booking_invitee.txt"):
        said = render_template(template, **context, organiser_email="sam@example.com")
        assert "The organiser cancelled this booking on Wednesday, March 10, 2027, 7:00 AM." in said
        assert "Write to sam@example.com." in said


def test_a_resend_of_a_cancelled_booking_says_cancelled(app, calendar, ada, received):
    booking, _ = received
    context = {"booking": booking, "calendar": calendar, "event": "resent", "manage_url": "u", "subject": "s"}
    html = render_template("email/booking_invitee.html", **context)
    assert "Your booking is cancelled" in html and "You're booked" not in html and "Reschedule" not in html


def test_the_link_used_notice_is_html_too_without_the_booking_links(app, smtp_server, calendar, ada):
    smtp_server.configure(app)
    calendar.allow_other_email = True
    link = links.issue(calendar, ada)
    db.session.commit()
    book(link, START, Invitee(name="Linus", email="linus@example.org", timezone="Europe/Berlin", locale="de_DE"))
    drain(app)
    [notice] = [message for message in smtp_server.messages if message["To"] == "ada@example.com"]
    html, text = html_of(notice), text_of(notice)
    # Linus booked on a German page: the notice speaks German (the page's locale), with Ada's name.
    assert '<html lang="de"' in html and "linus@example.org" in html and "Ada" in text and "linus@example.org" in text
    # In the calendar's zone (the contact's is unknown), in the locale of the page the booking was made on.
    assert "Freitag, 12. März 2027 14:00 – 14:30" in words(html) and "Europe/London (GMT)" in html
    assert "/booking/" not in html and not ics_files(notice)
    assert [value for _tag, _attr, value in html_references(html)] == []


def test_a_german_booking_gets_german_dates_and_a_24_hour_clock(app, smtp_server, calendar, ada):
    smtp_server.configure(app)
    booking_lifecycle(links.issue(calendar, ada), START, MOVED, zone="Europe/Berlin", locale="de_DE")
    drain(app)
    confirmed = next(message for message in smtp_server.messages if message["To"] == "ada@example.com")
    html, text = html_of(confirmed), text_of(confirmed)
    assert '<html lang="de"' in html
    assert "Freitag, 12. März 2027 15:00 – 15:30" in words(html) and "Freitag, 12. März 2027, 15:00 – 15:30" in text
    assert "AM" not in words(html) and "PM" not in words(html)


def test_the_change_deadline_is_stated_in_hours(app, calendar, ada, received):
    booking, _ = received
    booking.status = "confirmed"
    context = {"booking": booking, "calendar": calendar, "event": "confirmed", "manage_url": "u", "subject": "s"}
    for hours, said in ((0, "until the meeting starts."), (1, "up to 1 hour before"), (24, "up to 24 hours before")):
        calendar.change_cutoff_hours = hours
        for template in ("email/booking_invitee.html", "email/booking_invitee.txt"):
            assert said in render_template(template, **context), (hours, template)
