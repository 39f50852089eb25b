"""Issue 6, "done when": templates (b) and (c) created and published in the browser, then lived through
with the clock moved (time-machine), not by sleeping.

(b) a contact who does not book gets the nudge; one who books gets the reminder 24 h before the
    meeting and no nudge.
(c) a cancelled booking made with a one-time link brings a new link that works, the old one stays used.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from playwright.sync_api import expect
from sqlalchemy import func, select

from tests.browser.helpers import pick_first_time
from webapp.booking import services as booking
from webapp.booking.models import Booking, OneTimeLink
from webapp.booking.services import Invitee
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.mail.sender import build_message
from webapp.worker import drain
from webapp.workflows.models import Enrolment

pytestmark = pytest.mark.browser
# A Monday well inside the calendar's booking window; the browser's own clock does not matter here.
START = datetime(2026, 12, 7, 14, 0, tzinfo=UTC)


def use_template(page, slug: str, name: str) -> str:
    """Create a workflow from a template in the browser, publish it; returns the editor's URL."""
    base = page.base_url
    page.goto(f"{base}/workflows/templates")
    card = page.locator(f"#template-{slug}")
    card.get_by_label("Calendar").select_option(label="Discovery call")
    card.get_by_role("button", name="Use this template").click()
    page.wait_for_url(f"{base}/workflows/*")
    assert page.get_by_role("heading", name=name).first.is_visible()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Published version 1.")).to_be_visible()
    expect(page.locator("#wf-head .badge-published")).to_be_visible()
    return page.url


def workflow_mail(app) -> dict[str, list[str]]:
    """Subjects of the workflow emails, per recipient address."""
    with app.app_context():
        result: dict[str, list[str]] = {}
        query = select(OutboxMessage).where(OutboxMessage.kind == "workflow").order_by(OutboxMessage.id)
        for message in db.session.scalars(query):
            result.setdefault(message.to_addr.split("<")[-1].rstrip(">"), []).append(message.subject)
        db.session.remove()
        return result


def run_worker(app) -> None:
    with app.app_context():
        drain(app)
        db.session.remove()


@pytest.fixture
def clock():
    """The clock at START from before the admin signs in: a session signed later than the moved clock
    reads as signed in the future, and is refused (so travelling back to START after today failed)."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_template_b_nudges_who_does_not_book_and_reminds_who_does(clock, admin_page, new_york_calendar):
    page, app = admin_page, admin_page.base_url.app
    editor = use_template(page, "2-link-nudge-and-reminder", "Link, nudge and reminder")
    with app.app_context():
        for email in ("booker@example.com", "waverer@example.com"):
            contact = contacts.create_contact({"email": email, "first_name": email.split("@")[0].title()})
            contacts.add_tags(contact, ["book-me"])
        db.session.commit()
        db.session.remove()
    run_worker(app)
    assert workflow_mail(app) == {
        "booker@example.com": ["Your personal booking link, Booker"],
        "waverer@example.com": ["Your personal booking link, Waverer"],
    }

    # Booker books a meeting four days out, a few hours later.
    clock.shift(timedelta(hours=3))
    meeting = datetime(2026, 12, 11, 15, 0, tzinfo=UTC)  # 10:00 in New York
    with app.app_context():
        link = db.session.scalars(
            select(OneTimeLink).join(OneTimeLink.contact).where(OneTimeLink.contact.has(email="booker@example.com"))
        ).one()
        booking.book(link, meeting, Invitee(name="Booker", email="booker@example.com", timezone="UTC"))
        db.session.commit()
        db.session.remove()
    run_worker(app)

    clock.move_to(START + timedelta(days=2, minutes=1))  # the 2-day wait is over
    run_worker(app)
    mail = workflow_mail(app)
    assert mail["waverer@example.com"] == ["Your personal booking link, Waverer", "Still keen to talk, Waverer?"]
    assert mail["booker@example.com"] == ["Your personal booking link, Booker"]  # no nudge, no reminder yet

    clock.move_to(meeting - timedelta(hours=24, minutes=1))
    run_worker(app)
    assert workflow_mail(app)["booker@example.com"] == ["Your personal booking link, Booker"]
    clock.move_to(meeting - timedelta(hours=24))
    run_worker(app)
    assert workflow_mail(app)["booker@example.com"] == [
        "Your personal booking link, Booker",
        "See you tomorrow, Booker",
    ]
    with app.app_context():
        assert {e.status for e in db.session.scalars(select(Enrolment))} == {"completed"}
        db.session.remove()

    # The history shows the branch each contact took.
    page.goto(f"{editor}/enrolments")
    page.get_by_role("link", name="Details of Booker").first.click()
    assert page.get_by_text("took the “yes” branch").is_visible()
    assert page.get_by_text("See you tomorrow, Booker").is_visible()


def test_template_c_offers_a_new_working_link_after_a_cancellation(admin_page, new_york_calendar):
    page, app = admin_page, admin_page.base_url.app
    use_template(page, "3-fresh-link-after-cancellation", "Offer a fresh link after a cancellation")
    with app.app_context():
        from webapp.calendars.models import Calendar

        calendar = db.session.get(Calendar, new_york_calendar)
        contact = contacts.create_contact({"email": "grace@example.com", "first_name": "Grace"})
        from webapp.booking import links

        old = links.issue(calendar, contact)
        db.session.commit()
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=3)
        start = start.replace(hour=15)  # 10:00 in New York, inside its 09:00–17:00 hours
        made = booking.book(old, start, Invitee(name="Grace", email="grace@example.com", timezone="UTC"))
        db.session.commit()
        old_id = old.id
        booking.cancel(made, "Something came up")
        db.session.commit()
        db.session.remove()
    run_worker(app)
    with app.app_context():
        [message] = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "workflow")).all()
        assert message.subject == "Sorry we missed you — book again, Grace"
        url = next(word for word in build_message(message).body.split() if "/book/" in word)
        old_url = links.url(db.session.get(OneTimeLink, old_id))
        db.session.remove()
    assert url != old_url
    # The emails carry BASE_URL (the default, port 5000); the live server listens elsewhere.
    url, old_url = (page.base_url + "/book/" + u.rsplit("/", 1)[1] for u in (url, old_url))
    page.goto(old_url)
    expect(page.get_by_role("heading", name="This link has already been used")).to_be_visible()
    page.goto(url)  # the new link books (the form is filled in from the contact)
    pick_first_time(page)
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking).where(Booking.status == "confirmed")) == 1
        db.session.remove()
    page.goto(old_url)
    expect(page.get_by_role("heading", name="This link has already been used")).to_be_visible()
