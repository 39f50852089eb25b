"""Text people type can never name a secret link: every mail holds no link but the recipient's own.

Stored mail keeps secret links as markers; a marker resolves only if the message's own code put it
there (recorded with the message, carrying its random nonce). Hostile text (an invitee's name and
notes, a cancel reason, a contact's fields set through the API, a CSV import or the inbound webhook,
a calendar's texts, an admin's email body) is sent exactly as typed.
"""

import re

import pytest
from sqlalchemy import select

from tests.conftest import iso, tomorrow_at
from webapp.booking import links
from webapp.booking import services as bookings
from webapp.booking.models import Booking
from webapp.contacts import importer
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.mail.outbox import queue_email
from webapp.worker import drain
from webapp.workflows import demo


def hostile(*ids: int) -> str:
    """Every spelling of a marker for the given ids, old and new (with a made-up nonce)."""
    parts = []
    for n in ids:
        for purpose in ("book", "manage"):
            parts += [f"⟦{purpose}:{n}⟧", f"⟦{purpose}:{n}:{'0' * 32}⟧", f"⟦{purpose}:{n}:{'ab' * 16}⟧"]
    return "X " + " ".join(parts)


SECRET_URL = re.compile(r"https?://[^\s<>\"'()]+/(?:book|booking)/[A-Za-z0-9_-]{20,}")


def secret_urls(message) -> set[str]:
    """Every working-looking secret URL anywhere in a received email (text, HTML, attachments)."""
    found = set()
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        found |= set(SECRET_URL.findall(part.get_content() if part.get_content_maintype() == "text" else ""))
    return found


@pytest.fixture
def mail(app, smtp_server):
    smtp_server.configure(app)
    app.config.update(WORKFLOW_POLL_SECONDS=0)
    return smtp_server


@pytest.fixture
def victims(make_link, client):
    """Someone else's booking (with its manage link) and someone else's unused link: ids 1 and 2."""
    link, token = make_link()
    response = client.post(
        f"/book/{token}",
        data={"start": iso(tomorrow_at(9)), "name": "Victim", "email": link.contact.email, "timezone": "UTC"},
    )
    assert response.status_code == 303
    unused, _ = make_link()
    booking = db.session.scalar(select(Booking))
    return {"booking": booking, "link": unused, "ids": (booking.id, link.id, unused.id)}


def sent_to(mail, address: str) -> list:
    return [m for m in mail.messages if address in m["To"]]


def own_urls(address: str) -> set[str]:
    """The secret URLs that are the recipient's own: their links and their bookings' manage links."""
    own = set()
    for link in db.session.scalars(select(links.OneTimeLink)):
        if link.contact and link.contact.email == address:
            own.add(links.url(link))
    for booking in db.session.scalars(select(Booking).where(Booking.email == address)):
        own.add(bookings.manage_url(booking))
    return own


def test_an_invitees_name_notes_and_cancel_reason_reveal_no_other_link(app, client, make_link, victims, mail):
    text = hostile(*victims["ids"], 3, 4)
    link, token = make_link()
    email = link.contact.email
    response = client.post(
        f"/book/{token}",
        data={"start": iso(tomorrow_at(11)), "name": text[:150], "email": email, "notes": text, "timezone": "UTC"},
    )
    assert response.status_code == 303, response.text
    manage_path = response.location
    assert client.post(manage_path + "/cancel", data={"reason": (text * 10)[:2000]}).status_code == 303
    drain(app)
    received = sent_to(mail, email)
    assert len(received) == 2  # confirmed, cancelled
    mine = own_urls(email)
    for message in received:
        assert secret_urls(message) <= mine, message["Subject"]
    body = received[0].get_body(("plain",)).get_content()
    assert "⟦manage:1⟧" in body  # sent as the invitee typed it
    # The organiser's notifications carry the same hostile text and no secret link at all.
    for message in mail.messages:
        if email not in message["To"]:
            assert secret_urls(message) <= own_urls(message["To"]), message["Subject"]


def test_a_contacts_fields_reveal_no_other_link_api_and_csv(app, client, victims, mail):
    from webapp.api import keys

    demo.seed()
    _, key = keys.create_key("tests")
    text = f"⟦book:2⟧ ⟦manage:1⟧ ⟦book:1⟧ ⟦book:2:{'0' * 32}⟧"  # fits a 100-character name
    response = client.post(
        "/api/v1/contacts",
        headers={"Authorization": f"Bearer {key}"},
        json={"email": "api@example.com", "first_name": text, "last_name": text, "tags": ["book-me"]},
    )
    assert response.status_code == 201, response.text
    csv = f'email,first_name,tags\ncsv@example.com,"{text}",book-me\n'.encode()
    assert importer.import_csv(csv).counts["imported"] == 1
    drain(app)
    for address in ("api@example.com", "csv@example.com"):
        [message] = sent_to(mail, address)
        urls = secret_urls(message)
        assert len(urls) == 1 and urls <= own_urls(address), urls
        assert "⟦book:2⟧" in message.get_body(("plain",)).get_content()


def test_a_contact_made_by_the_inbound_webhook_gets_no_other_link(app, client, victims, mail):
    from webapp.workflows import services as workflows

    demo.seed()  # tag book-me → Generate link + Send Email greeting {{ contact.first_name }}
    hook = workflows.create_workflow("From the website", "webhook", None)
    hook.steps = [{"id": "t1", "type": "add_tag", "key": "", "config": {"tag": "web"}}]
    db.session.commit()
    workflows.publish(hook)
    secret = workflows.regenerate_secret(hook)
    text = f"⟦book:2⟧ ⟦manage:1⟧ ⟦book:1⟧ ⟦book:2:{'0' * 32}⟧"
    response = client.post(
        f"/hooks/{hook.id}/{secret}",
        json={"email": "hook@example.com", "first_name": text, "last_name": text, "tags": ["book-me"]},
    )
    assert response.status_code == 202, response.text
    drain(app)
    [message] = sent_to(mail, "hook@example.com")
    urls = secret_urls(message)
    assert len(urls) == 1 and urls <= own_urls("hook@example.com"), urls
    assert "⟦book:2⟧" in message.get_body(("plain",)).get_content()


def test_calendar_texts_and_an_admins_email_body_reveal_no_link(app, client, login, victims, mail, make_calendar):
    from webapp.calendars import services as calendars

    calendar = victims["booking"].calendar
    text = hostile(*victims["ids"])[:480]  # within the calendar fields' limits
    calendars.update_calendar(calendar, {"description": text, "confirmation_message": text, "location": text})
    report = demo.seed()
    workflow = report.workflow
    version = workflow.published_version
    for step in version.steps:
        if step["type"] == "send_email":
            step["config"] = {**step["config"], "body": step["config"]["body"] + "\n" + text}
    db.session.commit()
    link, token = links.issue(calendar, None), None
    db.session.commit()
    token = links.url(link).rsplit("/", 1)[1]
    response = client.post(
        f"/book/{token}",
        data={"start": iso(tomorrow_at(12)), "name": "Eve", "email": "eve@example.com", "timezone": "UTC"},
    )
    assert response.status_code == 303
    from webapp.contacts import services as contacts

    contact = contacts.create_contact({"first_name": "Mallory", "email": "mallory@example.com"})
    contacts.add_tags(contact, ["book-me"])
    db.session.commit()
    drain(app)
    for address in ("eve@example.com", "mallory@example.com"):
        received = sent_to(mail, address)
        assert received, address
        for message in received:
            assert secret_urls(message) <= own_urls(address), (address, message["Subject"])


def test_a_queued_mail_whose_link_was_deleted_says_so_and_no_id_is_reused(app, make_link, mail):
    from webapp.tokens import LinkRef

    link, _ = make_link()
    ref = LinkRef(links.PURPOSE, link.id)
    queue_email(link.contact.email, "Your link", "workflow", {"body": ref, "body_html": ref, "sender_name": ""})
    db.session.commit()  # queued; then the link is deleted before the worker sends it
    gone_id = link.id
    db.session.delete(link)
    db.session.commit()
    newer, _ = make_link()
    assert newer.id > gone_id  # never the deleted link's id again
    drain(app)
    [sent] = mail.messages
    body = sent.get_body(("plain",)).get_content()
    assert links.GONE in body and not secret_urls(sent)


def test_the_stored_copy_shows_own_links_redacted_and_typed_markers_as_typed(app, client, make_link, login):
    link, token = make_link()
    text = "Ada ⟦manage:1⟧"
    client.post(
        f"/book/{token}",
        data={"start": iso(tomorrow_at(11)), "name": text, "email": link.contact.email, "timezone": "UTC"},
    )
    message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "booking_confirmed"))
    page = login.get(f"/mail/{message.id}").text
    assert "/booking/••••••••" in page and "⟦manage:1⟧" in page


def test_a_message_records_only_the_links_it_shows(app, client, make_link, admin):
    """The organiser's notification is rendered with the booking's context but shows no manage link:
    it records none, so it could reveal none."""
    link, token = make_link()
    client.post(
        f"/book/{token}",
        data={"start": iso(tomorrow_at(11)), "name": "Ada", "email": link.contact.email, "timezone": "UTC"},
    )
    booking = db.session.scalar(select(Booking))
    recorded = {m.kind: m.secret_links for m in db.session.scalars(select(OutboxMessage))}
    assert recorded == {"booking_confirmed": [["manage", booking.id]], "admin_confirmed": []}
