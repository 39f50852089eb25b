"""Mail wears the branding: the business name, the logo as an image part of the message (cid:, nothing
fetched), the accent on buttons, "Sent by OneSlot." only while it is on; From is the workflow's sender
name, else the calendar's sender, else the branding's, else MAIL_DEFAULT_SENDER; the .ics ORGANIZER
follows; a line break never reaches a header."""

import io
from datetime import UTC, datetime
from email.utils import parseaddr

import pytest
import time_machine
from PIL import Image

from tests.factories import ALL_WEEK, email_step, enrol_now, link_step, make_workflow
from webapp.booking import links
from webapp.booking.services import Invitee, book
from webapp.branding import services as branding
from webapp.extensions import db
from webapp.mail.outbox import queue_email
from webapp.worker import drain

NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)
START = datetime(2027, 3, 12, 14, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def brand(**settings):
    values = {"business_name": "", "accent": "", "sender_name": "", "sender_email": "", "powered_by": True}
    branding.save(**{**values, **settings})


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 200), (20, 120, 60)).save(out, "PNG")
    return out.getvalue()


def book_one(app, smtp_server, make_calendar, make_contact, **calendar_fields):
    """Book a calendar's link as Ada; the messages aiosmtpd received, {To: message}."""
    smtp_server.configure(app)
    calendar = make_calendar(
        **{"name": "Discovery call", "weekly": ALL_WEEK, "notify_email": "team@example.com", **calendar_fields}
    )
    ada = make_contact(first_name="Ada", email="ada@example.com")
    link = links.issue(calendar, ada)
    db.session.commit()
    book(link, START, Invitee(name="Ada Lovelace", email="ada@example.com", timezone="UTC"))
    drain(app)
    return {message["To"]: message for message in smtp_server.messages}


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def test_invitee_mail_carries_the_name_the_logo_part_and_the_accent(
    app, clock, smtp_server, make_calendar, make_contact
):
    branding.set_logo(png())
    brand(business_name="Acme <Sons> & Co", accent="#ffcc00", powered_by=True)
    mails = book_one(app, smtp_server, make_calendar, make_contact)
    message = mails["ada@example.com"]
    html = html_of(message)
    assert "Acme &lt;Sons&gt; &amp; Co" in html and "Acme <Sons>" not in html
    assert f'src="cid:{branding.LOGO_CID}"' in html
    # multipart/mixed > multipart/alternative > (text/plain, multipart/related > (text/html, image/png))
    related = next(part for part in message.walk() if part.get_content_type() == "multipart/related")
    kinds = [part.get_content_type() for part in related.iter_parts()]
    assert kinds == ["text/html", "image/png"]
    image = list(related.iter_parts())[1]
    assert image["Content-ID"] == f"<{branding.LOGO_CID}>"
    assert Image.open(io.BytesIO(image.get_content())).size == (360, 120)
    # Nothing is fetched: every src is the message's own part.
    assert "http" not in "".join(part.split('"')[0] for part in html.split('src="')[1:])
    # The accent on the buttons, with the ink that reads on it (black on yellow).
    assert "background:#ffcc00;color:#000000;" in html
    assert "Sent by OneSlot." in html


def test_the_footer_and_every_mention_of_oneslot_go_when_turned_off(
    app, clock, smtp_server, make_calendar, make_contact
):
    brand(business_name="Acme", sender_name="Acme Bookings", sender_email="hello@acme.example.com", powered_by=False)
    mails = book_one(app, smtp_server, make_calendar, make_contact)
    html = html_of(mails["ada@example.com"])
    assert "Sent by OneSlot" not in html and "OneSlot" not in html
    assert "Acme" in html


def test_without_branding_mail_looks_as_before(app, clock, smtp_server, make_calendar, make_contact):
    mails = book_one(app, smtp_server, make_calendar, make_contact)
    message = mails["ada@example.com"]
    html = html_of(message)
    assert "Sent by OneSlot." in html and "cid:" not in html
    assert "background:#0b63a8;color:#ffffff;" in html
    assert not any(part.get_content_type() == "multipart/related" for part in message.walk())
    assert message["From"] == "OneSlot <noreply@localhost>"


@pytest.mark.parametrize(
    ("calendar_sender", "brand_sender", "expected"),
    [
        (("", ""), ("", ""), ("OneSlot", "noreply@localhost")),
        (("", ""), ("Acme", "hello@acme.example.com"), ("Acme", "hello@acme.example.com")),
        (("Sales", "sales@acme.example.com"), ("Acme", "hello@acme.example.com"), ("Sales", "sales@acme.example.com")),
        (("Sales", ""), ("Acme", "hello@acme.example.com"), ("Sales", "hello@acme.example.com")),
        (("", "sales@acme.example.com"), ("", ""), ("OneSlot", "sales@acme.example.com")),
    ],
)
def test_booking_mail_is_from_the_calendar_else_the_branding_else_the_default(
    app, clock, smtp_server, make_calendar, make_contact, calendar_sender, brand_sender, expected
):
    brand(sender_name=brand_sender[0], sender_email=brand_sender[1])
    mails = book_one(
        app,
        smtp_server,
        make_calendar,
        make_contact,
        sender_name=calendar_sender[0],
        sender_email=calendar_sender[1],
    )
    for to in ("ada@example.com", "team@example.com"):  # the invitee's and the organisers' mail
        assert parseaddr(mails[to]["From"]) == expected, to
    assert smtp_server.envelopes[0][0] == expected[1]  # the envelope sender too
    ics = next(part for part in mails["ada@example.com"].walk() if part.get_filename() == "invite.ics")
    text = ics.get_content() if isinstance(ics.get_content(), str) else ics.get_content().decode()
    # ORGANIZER: the notify address (a person who reads it), named as the mail's sender.
    assert "mailto:team@example.com" in text and f"CN={expected[0]}" in text.replace("\r\n ", "")


def test_the_ics_organiser_falls_back_on_the_branding_sender(app, clock, smtp_server, make_calendar, make_contact):
    brand(sender_name="Acme", sender_email="hello@acme.example.com")
    mails = book_one(app, smtp_server, make_calendar, make_contact, notify_email="")
    ics = next(part for part in mails["ada@example.com"].walk() if part.get_filename() == "invite.ics")
    text = (ics.get_content() if isinstance(ics.get_content(), str) else ics.get_content().decode()).replace(
        "\r\n ", ""
    )
    assert "ORGANIZER;CN=Acme:mailto:hello@acme.example.com" in text


@pytest.mark.parametrize(
    ("workflow_name", "brand_sender", "expected"),
    [
        ("", ("", ""), ("OneSlot", "noreply@localhost")),
        ("", ("Acme", "hello@acme.example.com"), ("Acme", "hello@acme.example.com")),
        ("Acme Sales Team", ("Acme", "hello@acme.example.com"), ("Acme Sales Team", "hello@acme.example.com")),
        ("Acme Sales Team", ("", ""), ("Acme Sales Team", "noreply@localhost")),
    ],
)
def test_workflow_mail_keeps_its_sender_name_and_takes_the_branding_address(
    app, smtp_server, make_calendar, make_contact, workflow_name, brand_sender, expected
):
    smtp_server.configure(app)
    brand(sender_name=brand_sender[0], sender_email=brand_sender[1])
    calendar = make_calendar(weekly=ALL_WEEK, sender_name="Calendar Sender", sender_email="cal@acme.example.com")
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()], sender_name=workflow_name)
    enrol_now(workflow, make_contact(first_name="Ada", email="ada@example.com"))
    drain(app)
    [sent] = smtp_server.messages
    assert parseaddr(sent["From"]) == expected


def test_a_line_break_never_reaches_a_header(app):
    with pytest.raises(ValueError, match="single line"):
        queue_email(
            "ada@example.com",
            "Hi",
            "workflow",
            {"body": "x", "body_html": "x", "sender_name": ""},
            from_addr="a@b.example\r\nBcc: x@y.example",
        )
    with pytest.raises(ValueError, match="single line"):
        queue_email(
            "ada@example.com",
            "Hi",
            "workflow",
            {"body": "x", "body_html": "x", "sender_name": ""},
            from_name="Acme\nBcc: x@y.example",
        )


def test_a_logo_removed_after_queueing_is_left_out(app, clock, smtp_server, make_calendar, make_contact):
    smtp_server.configure(app)
    branding.set_logo(png())
    queue_email("ada@example.com", "Hi", "workflow", {"body": "x", "body_html": "x", "sender_name": ""})
    db.session.commit()
    branding.remove_logo()
    drain(app)
    [sent] = smtp_server.messages
    assert not any(part.get_content_type().startswith("image/") for part in sent.walk())
