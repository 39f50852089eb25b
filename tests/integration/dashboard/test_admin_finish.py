"""The admin's finish: times as <time> tags for the viewer's zone, empty states that say what to do next."""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.factories import add_link, workflow_rows
from webapp.booking.models import Booking
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.workflows import services
from webapp.workflows.models import Enrolment

INSTANT = datetime(2026, 12, 1, 15, 5, tzinfo=UTC)
NEXT_YEAR = INSTANT.replace(year=datetime.now(UTC).year + 1)


def time_tag(instant, style="datetime", zone="UTC"):
    """What the server renders for a signed-in admin: the UTC instant, and the same instant as text in
    the admin's zone (UTC until they choose one)."""
    local = instant.astimezone(ZoneInfo(zone))
    text = {
        "datetime": local.strftime("%a %d %b %Y, %H:%M ") + local.tzname(),
        "date": local.strftime("%d %b %Y"),
        "time": local.strftime("%H:%M ") + local.tzname(),
    }[style]
    stamp = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
    title = instant.strftime("%a %d %b %Y, %H:%M UTC")
    return f'<time datetime="{stamp}" data-local="{style}" data-zone="{zone}" title="{title}">{text}</time>'


@pytest.fixture
def history(app, make_calendar, make_contact):
    """One of everything the admin lists show a time for, all at INSTANT (bookings: NEXT_YEAR)."""
    calendar = make_calendar(name="Intro call", timezone="Europe/Paris")
    contact = make_contact(first_name="Ada", created_at=INSTANT)
    workflow, version = workflow_rows("Welcome")
    enrolment = Enrolment(workflow_id=workflow.id, version_id=version.id, contact_id=contact.id, started_at=INSTANT)
    db.session.add(enrolment)
    db.session.flush()
    add_link(calendar, contact, created_at=INSTANT, workflow=workflow, enrolment=enrolment, opened_at=INSTANT)
    booking = Booking(
        calendar_id=calendar.id,
        contact_id=contact.id,
        start_at=NEXT_YEAR,
        end_at=NEXT_YEAR + timedelta(minutes=30),
        name=contact.name,
        email=contact.email,
    )
    message = OutboxMessage(
        to_addr=contact.email, subject="Hello", status="sent", created_at=INSTANT, sent_at=INSTANT, message_id="<a@b>"
    )
    db.session.add_all([booking, message])
    db.session.commit()
    return {"calendar": calendar, "contact": contact, "workflow": workflow, "enrolment": enrolment, "message": message}


@pytest.mark.parametrize("zone", [None, "America/Los_Angeles", "Asia/Kolkata"])
def test_admin_lists_render_times_in_the_admins_zone(login, history, admin, zone):
    admin.timezone = zone
    db.session.commit()
    shown = zone or "UTC"
    pages = {
        "/bookings/": [time_tag(NEXT_YEAR, zone=shown)],
        "/mail/": [time_tag(INSTANT, "date", shown), time_tag(INSTANT, "time", shown)],
        f"/mail/{history['message'].id}": [time_tag(INSTANT, zone=shown)],
        f"/links/calendar/{history['calendar'].id}": [time_tag(INSTANT, zone=shown)],
        f"/workflows/{history['workflow'].id}/enrolments": [time_tag(INSTANT, zone=shown)],
        f"/enrolments/{history['enrolment'].id}": [time_tag(INSTANT, zone=shown)],
        "/contacts/": [time_tag(INSTANT, "date", shown)],
        f"/contacts/{history['contact'].id}": [time_tag(INSTANT, zone=shown)],
    }
    for path, tags in pages.items():
        html = login.get(path).text
        for tag in tags:
            assert tag in html, (path, tag)
        # Each page says which zone its times are in.
        assert ("Times in " if zone else "Times are shown in UTC") in html, path


def test_a_booking_time_is_no_longer_shown_in_the_calendar_zone(login, history):
    # 15:05 UTC is 16:05 in Paris: the server writes UTC, the browser converts (tests/browser/test_admin_finish.py).
    html = login.get("/bookings/").text
    assert "16:05" not in html and "CET" not in html


EMPTY_LISTS = {
    "/calendars/": ("No calendars yet", "/calendars/new"),
    "/contacts/": ("No contacts yet", "/contacts/new"),
    "/workflows/": ("No workflows yet", "/workflows/new"),
    "/bookings/": ("No upcoming bookings", "/calendars/new"),
    "/mail/": ("No mail yet", "/workflows/"),
}


@pytest.mark.parametrize("path", EMPTY_LISTS)
def test_every_empty_list_says_what_to_do_next_with_a_button(login, path):
    heading, target = EMPTY_LISTS[path]
    html = login.get(path).text
    state = html[html.index('<article class="empty-state">') :]
    state = state[: state.index("</article>")]
    assert heading in state
    assert re.search(rf'<a href="{re.escape(target)}"[^>]* role="button"', state), state


def test_empty_bookings_of_a_calendar_lead_to_its_links(login, make_calendar):
    calendar = make_calendar()
    html = login.get(f"/bookings/?calendar_id={calendar.id}&view=past").text
    assert f'<a href="/links/calendar/{calendar.id}" role="button">Generate a one-time link</a>' in html
    assert "Show all bookings" in html


def test_an_unpublished_workflow_without_enrolments_leads_to_its_editor(login):
    workflow = services.create_workflow("Draft one", "manual")
    html = login.get(f"/workflows/{workflow.id}/enrolments").text
    assert "Nobody has entered this workflow yet" in html
    assert f'<a href="/workflows/{workflow.id}" role="button">Open the workflow to publish it</a>' in html


def test_every_admin_page_carries_the_loading_bar_and_the_live_region(login):
    html = login.get("/calendars/").text
    assert '<div class="request-progress" aria-hidden="true"></div>' in html
    assert '<div id="live-status" class="visually-hidden" role="status" aria-live="polite"></div>' in html
