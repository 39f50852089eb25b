"""Contact-bound links: a link made for a contact books with the contact's email, whatever the page posts,
unless its calendar allows another one (then the contact is told); resends go to the address on file."""

import re

import pytest
from sqlalchemy import select

from tests.conftest import tomorrow_at
from tests.helpers import calendar_form, post_booking
from webapp.booking.models import Booking
from webapp.calendars.models import Calendar
from webapp.contacts.services import delete_contact
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain

ATTACKER = "attacker@evil.example"


@pytest.fixture
def grace(make_contact):
    return make_contact(first_name="Grace", last_name="Hopper", email="grace@example.com")


@pytest.fixture
def open_calendar(make_calendar):
    return make_calendar(name="Intro call", weekly={d: [(0, 1440)] for d in range(7)})


def book(client, token, **fields):
    """Book tomorrow at 10 as Grace Hopper, posting no email unless `fields` name one."""
    invitee = {"name": "Grace Hopper", "email": None, "timezone": "UTC"} | fields
    return post_booking(client, token, tomorrow_at(10), **invitee)


def outbox() -> list[tuple[str, str]]:
    return [(m.to_addr, m.kind) for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def allow_other_email(calendar) -> None:
    calendar.allow_other_email = True
    db.session.commit()


def test_a_contacts_link_books_with_the_contacts_email_whatever_the_post_carries(
    app, client, make_link, grace, open_calendar, admin, smtp_server
):
    smtp_server.configure(app)
    _, token = make_link(calendar=open_calendar, contact=grace)
    response = book(client, token, email=ATTACKER, name="Mallory")
    assert response.status_code == 303, response.text
    booking = db.session.scalars(select(Booking)).one()
    assert (booking.email, booking.name, booking.contact_id) == ("grace@example.com", "Mallory", grace.id)
    assert outbox() == [("grace@example.com", "booking_confirmed"), (admin.email, "admin_confirmed")]
    drain(app)
    recipients = sorted(address for _sender, rcpts in smtp_server.envelopes for address in rcpts)
    assert recipients == sorted(["grace@example.com", admin.email])
    assert not any(ATTACKER in message.as_string() for message in smtp_server.messages)


def test_a_post_without_any_email_books_with_the_contacts(client, make_link, grace, open_calendar):
    _, token = make_link(calendar=open_calendar, contact=grace)
    assert book(client, token).status_code == 303
    assert db.session.scalars(select(Booking.email)).one() == "grace@example.com"


def test_the_page_shows_the_name_but_never_the_full_email(client, make_link, make_contact, open_calendar):
    nameless = make_contact(first_name="", last_name="", email="nameless@example.com")
    _, token = make_link(calendar=open_calendar, contact=nameless)
    for _ in range(2):  # live, then from the cached page
        page = client.get(f"/book/{token}").text
        assert "nameless@example.com" not in page  # not even as the name (Contact.name falls back to it)
        assert 'value=""' in re.search(r'<input[^>]* name="name"[^>]*>', page)[0]
        assert "<strong>n***@e***.com</strong>" in page and 'name="email"' not in page


def test_a_wrong_email_in_the_post_is_not_even_checked_on_a_bound_link(client, make_link, grace, open_calendar):
    _, token = make_link(calendar=open_calendar, contact=grace)
    assert book(client, token, email="not an email\r\nBcc: x@evil.example").status_code == 303
    assert db.session.scalars(select(Booking.email)).one() == "grace@example.com"


def test_another_email_when_the_calendar_allows_it_and_the_contact_is_told(
    app, client, make_link, grace, open_calendar, admin, smtp_server
):
    smtp_server.configure(app)
    allow_other_email(open_calendar)
    _, token = make_link(calendar=open_calendar, contact=grace)
    page = client.get(f"/book/{token}").text
    assert 'name="email"' in page and "Email (optional)" in page and "g***@e***.com" in page
    assert "grace@example.com" not in page
    assert book(client, token, email="colleague@example.org", name="Linus").status_code == 303
    booking = db.session.scalars(select(Booking)).one()
    assert booking.email == "colleague@example.org" and booking.contact_id == grace.id
    assert outbox() == [
        ("colleague@example.org", "booking_confirmed"),
        (admin.email, "admin_confirmed"),
        ("grace@example.com", "booking_link_used"),
    ]
    drain(app)
    [notice] = [m for m in smtp_server.messages if m["To"] == "grace@example.com"]
    assert notice["Subject"].startswith("Your booking link was used: Intro call on ")
    text = notice.get_body(("plain",)).get_content()
    html = notice.get_body(("html",)).get_content()
    assert "Hello Grace," in text and "colleague@example.org" in text and "colleague@example.org" in html
    # The notice is not a confirmation: no way to change or cancel someone else's booking from it.
    assert "/booking/" not in text and "/booking/" not in html and not list(notice.iter_attachments())
    [confirmation] = [m for m in smtp_server.messages if m["To"] == "colleague@example.org"]
    assert "Hello Linus," in confirmation.get_body(("plain",)).get_content()


@pytest.mark.parametrize("typed", ["", "  ", "GRACE@example.com "])
def test_allowed_but_the_contacts_own_address_tells_no_one(client, make_link, grace, open_calendar, admin, typed):
    allow_other_email(open_calendar)
    _, token = make_link(calendar=open_calendar, contact=grace)
    assert book(client, token, email=typed).status_code == 303
    assert db.session.scalars(select(Booking.email)).one().lower() == "grace@example.com"
    assert [kind for _to, kind in outbox()] == ["booking_confirmed", "admin_confirmed"]


def test_allowed_but_invalid_email_is_refused_and_the_link_stays_usable(client, make_link, grace, open_calendar):
    allow_other_email(open_calendar)
    link, token = make_link(calendar=open_calendar, contact=grace)
    response = book(client, token, email="colleague@")
    assert response.status_code == 422 and "Enter a valid email address" in response.text
    db.session.refresh(link)
    assert link.bookable and outbox() == []


def test_the_cached_page_follows_the_calendar_setting(client, make_link, grace, open_calendar):
    _, token = make_link(calendar=open_calendar, contact=grace)
    client.get(f"/book/{token}")
    assert 'name="email"' not in client.get(f"/book/{token}").text  # cached, bound
    allow_other_email(open_calendar)
    assert 'name="email"' in client.get(f"/book/{token}").text
    open_calendar.allow_other_email = False
    db.session.commit()
    assert 'name="email"' not in client.get(f"/book/{token}").text


def test_a_link_whose_contact_was_deleted_asks_for_an_email(client, make_link, grace, open_calendar):
    link, token = make_link(calendar=open_calendar, contact=grace)
    delete_contact(grace)
    db.session.refresh(link)
    assert link.contact is None
    page = client.get(f"/book/{token}").text
    assert 'name="email"' in page and "g***@" not in page
    response = book(client, token)
    assert response.status_code == 422 and "We need your email to send the confirmation." in response.text
    assert book(client, token, email="walk-in@example.com").status_code == 303
    assert db.session.scalars(select(Booking.email)).one() == "walk-in@example.com"


def test_resend_goes_to_the_booking_address_never_a_typed_one(
    app, client, make_link, grace, open_calendar, smtp_server
):
    smtp_server.configure(app)
    _, token = make_link(calendar=open_calendar, contact=grace)
    book(client, token, email=ATTACKER)
    drain(app)
    smtp_server.messages.clear()
    smtp_server.envelopes.clear()
    response = client.post(f"/book/{token}/resend", data={"email": ATTACKER, "to": ATTACKER})
    assert response.status_code == 200 and "g***@e***.com" in response.text
    drain(app)
    assert smtp_server.envelopes == [("noreply@localhost", ["grace@example.com"])]
    assert smtp_server.messages[0]["Subject"].startswith("Your booking: Intro call on ")


def test_resend_of_a_booking_made_with_another_allowed_email_goes_to_that_email(
    client, make_link, grace, open_calendar
):
    allow_other_email(open_calendar)
    _, token = make_link(calendar=open_calendar, contact=grace)
    book(client, token, email="colleague@example.org")
    client.post(f"/book/{token}/resend", data={"email": ATTACKER})
    assert outbox()[-1] == ("colleague@example.org", "booking_resent")


def test_the_name_is_text_in_the_confirmation_never_markup(
    app, client, make_link, grace, open_calendar, admin, smtp_server
):
    smtp_server.configure(app)
    _, token = make_link(calendar=open_calendar, contact=grace)
    name = '<a href="https://evil.example/login">Your account is locked</a> & <b>co</b>'
    assert book(client, token, name=name).status_code == 303
    drain(app)
    for message in smtp_server.messages:
        html = message.get_body(("html",)).get_content()
        assert '<a href="https://evil.example' not in html and "<b>co</b>" not in html
    [confirmation] = [m for m in smtp_server.messages if m["To"] == "grace@example.com"]
    assert f"Hello {name}," in confirmation.get_body(("plain",)).get_content()  # text/plain: shown as typed
    [notification] = [m for m in smtp_server.messages if m["To"] != "grace@example.com"]
    assert "&lt;a href=&#34;https://evil.example/login&#34;&gt;" in notification.get_body(("html",)).get_content()


def test_the_calendar_editor_saves_the_setting_off_by_default(login, make_calendar):
    assert login.get("/calendars/new").text.count('name="allow_other_email"') == 1
    assert "Invitees may book with another email" in login.get("/calendars/new").text
    login.post("/calendars/new", data=calendar_form(name="Default"))
    assert db.session.scalars(select(Calendar)).one().allow_other_email is False
    calendar = db.session.scalars(select(Calendar)).one()
    data = calendar_form(name="Default", slug=calendar.slug, allow_other_email="y")
    assert login.post(f"/calendars/{calendar.id}", data=data).status_code == 303
    db.session.refresh(calendar)
    assert calendar.allow_other_email is True
    checkbox = re.search(r'<input[^>]* name="allow_other_email"[^>]*>', login.get(f"/calendars/{calendar.id}").text)
    assert "checked" in checkbox[0]


def test_the_api_reads_and_writes_the_setting(api):
    created = api.post("/api/v1/calendars", {"name": "Open", "allow_other_email": True}).json
    assert created["allow_other_email"] is True
    assert db.session.get(Calendar, created["id"]).allow_other_email is True
    assert api.post("/api/v1/calendars", {"name": "Closed"}).json["allow_other_email"] is False
    response = api.post("/api/v1/calendars", {"name": "Bad", "allow_other_email": "yes"})
    assert response.status_code == 422 and response.json["fields"] == {"allow_other_email": "Must be true or false."}
