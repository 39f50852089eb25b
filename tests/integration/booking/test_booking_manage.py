"""After booking: the confirmation page, .ics, cancel and reschedule by manage link, and the admin side."""

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import iso, tomorrow_at
from webapp.booking.models import Booking, OneTimeLink
from webapp.extensions import db
from webapp.mail.models import OutboxMessage


def booked(client, make_link, start=None, calendar=None):
    """Book with a fresh link; returns (booking, manage path, link token)."""
    link, token = make_link(calendar=calendar) if calendar else make_link()
    response = client.post(
        f"/book/{token}",
        data={"start": iso(start or tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"},
    )
    assert response.status_code == 303, response.text
    return db.session.scalars(select(Booking).order_by(Booking.id.desc())).first(), response.location, token


def test_confirmation_page_in_the_invitees_zone(client, make_link):
    link, token = make_link()
    response = client.post(
        f"/book/{token}",
        data={"start": iso(tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "Asia/Kolkata"},
        headers={"Accept-Language": "en-GB"},  # a 24-hour clock
    )
    page = client.get(response.location, headers={"Accept-Language": "en-GB"})
    assert page.status_code == 200
    assert "15:30–16:00" in page.text and "Asia/Kolkata" in page.text  # 10:00 UTC
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"


def test_manage_token_is_separate_and_not_stored(client, make_link):
    booking, path, token = booked(client, make_link)
    manage_token = path.rsplit("/", 1)[1]
    assert manage_token != token and manage_token not in (booking.manage_salt, booking.manage_digest)
    assert client.get("/booking/not-a-token").status_code == 404


def test_ics_download(client, make_link):
    booking, path, _ = booked(client, make_link)
    response = client.get(path + "/invite.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    body = response.data.decode()
    assert "BEGIN:VEVENT" in body and f"DTSTART:{booking.start_at.strftime('%Y%m%dT%H%M%SZ')}" in body


def test_google_calendar_link(client, make_link):
    _, path, _ = booked(client, make_link)
    page = client.get(path).text
    start = tomorrow_at(10).strftime("%Y%m%dT%H%M%SZ")
    assert "https://calendar.google.com/calendar/render?action=TEMPLATE" in page and start in page


def test_cancel_frees_the_seat_and_the_link_stays_used(client, make_link, make_calendar, admin, app):
    calendar = make_calendar(timezone="UTC", weekly={d: [(0, 1440)] for d in range(7)})
    booking, path, token = booked(client, make_link, calendar=calendar)
    response = client.post(path + "/cancel", data={"reason": "Something came up"})
    assert response.status_code == 303
    db.session.refresh(booking)
    assert booking.status == "cancelled" and booking.cancel_reason == "Something came up"
    assert "Booking cancelled" in client.get(path).text
    assert app.test_client().get(f"/book/{token}").status_code == 410  # the one-time link is not revived
    _, other = make_link(calendar=calendar)
    again = client.post(
        f"/book/{other}", data={"start": iso(tomorrow_at(10)), "name": "B", "email": "b@example.com", "timezone": "UTC"}
    )
    assert again.status_code == 303  # the seat is free again
    kinds = db.session.scalars(select(OutboxMessage.kind).where(OutboxMessage.booking_id == booking.id)).all()
    assert "booking_cancelled" in kinds and "admin_cancelled" in kinds


def test_reschedule_moves_the_booking_and_never_revives_the_link(client, make_link, app):
    booking, path, token = booked(client, make_link)
    page = client.get(path + "/reschedule")
    assert page.status_code == 200 and "Pick another time" in page.text
    response = client.post(path + "/reschedule", data={"start": iso(tomorrow_at(14)), "timezone": "UTC"})
    assert response.status_code == 303
    db.session.refresh(booking)
    assert booking.start_at == tomorrow_at(14) and booking.rescheduled_at is not None
    link = db.session.scalars(select(OneTimeLink)).one()
    assert link.status == "used" and link.booking_id == booking.id
    assert app.test_client().get(f"/book/{token}").status_code == 410
    assert "booking_rescheduled" in db.session.scalars(select(OutboxMessage.kind)).all()


def test_reschedule_to_its_own_slot_neighbour_ignores_itself(client, make_link, make_calendar):
    # A 60-minute meeting moved 30 minutes later overlaps its old self: that must not block it.
    calendar = make_calendar(timezone="UTC", duration=60, slot_interval=30, weekly={d: [(0, 1440)] for d in range(7)})
    booking, path, _ = booked(client, make_link, calendar=calendar)
    assert client.post(path + "/reschedule", data={"start": iso(tomorrow_at(10, 30))}).status_code == 303


def test_reschedule_to_a_taken_slot_is_409(client, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", weekly={d: [(0, 1440)] for d in range(7)})
    booked(client, make_link, start=tomorrow_at(14), calendar=calendar)
    booking, path, _ = booked(client, make_link, start=tomorrow_at(10), calendar=calendar)
    response = client.post(path + "/reschedule", data={"start": iso(tomorrow_at(14))})
    assert response.status_code == 409 and "just taken" in response.text
    db.session.refresh(booking)
    assert booking.start_at == tomorrow_at(10)


def test_change_cutoff_explains_why_nothing_can_change(client, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", weekly={d: [(0, 1440)] for d in range(7)}, change_cutoff_hours=48)
    booking, path, _ = booked(client, make_link, calendar=calendar)
    page = client.get(path).text
    assert "Changes are possible until 48 hours before the meeting." in page
    assert "Pick another time" not in page
    assert client.post(path + "/cancel", data={}).status_code == 303
    db.session.refresh(booking)
    assert booking.status == "confirmed"
    assert client.get(path + "/reschedule").status_code == 303


def test_admin_generates_a_link_from_the_calendar_page(login, make_calendar, make_contact, hx):
    calendar = make_calendar()
    contact = make_contact(email="grace@example.com")
    page = login.get(f"/links/calendar/{calendar.id}").text
    assert "Generate one-time link" in page and "No one-time links yet" in page
    response = login.post(
        "/links/new",
        data={
            "calendar_id": calendar.id,
            "contact_email": "GRACE@example.com",
            "expires_in_hours": "72",
            "origin": "calendar",
        },
        headers=hx,
    )
    assert response.status_code == 200
    link = db.session.scalars(select(OneTimeLink)).one()
    assert link.contact_id == contact.id and link.source == "admin"
    assert link.expires_at is not None
    assert 'id="new-link-url"' in response.text and "/book/" in response.text and "Copy link" in response.text


def test_admin_generates_a_link_from_the_contact_page_without_js(login, make_calendar, make_contact):
    calendar = make_calendar(name="Demo call")
    contact = make_contact()
    response = login.post(
        "/links/new",
        data={"calendar_id": calendar.id, "contact_id": contact.id, "expires_in_hours": "0", "origin": "contact"},
    )
    assert response.status_code == 303
    page = login.get(response.location).text
    assert "Demo call" in page and 'id="new-link-url"' in page


def test_unknown_contact_email_is_explained(login, make_calendar):
    calendar = make_calendar()
    response = login.post("/links/new", data={"calendar_id": calendar.id, "contact_email": "nobody@example.com"})
    assert response.status_code == 422
    assert "No contact has this email." in response.text
    assert db.session.scalar(select(OneTimeLink.id)) is None


def test_links_list_shows_status_and_revoke(login, make_link, client):
    link, token = make_link()
    page = login.get(f"/links/calendar/{link.calendar_id}").text
    assert "badge-link-active" in page and "Revoke" in page
    assert login.post(f"/links/{link.id}/revoke").status_code == 303
    db.session.refresh(link)
    assert link.status == "revoked"
    assert "badge-link-revoked" in login.get(f"/links/calendar/{link.calendar_id}").text


def test_admin_bookings_list_cancel_and_attendance(login, make_link, client):
    booking, _, _ = booked(client, make_link)
    page = login.get("/bookings/").text
    assert "Ada" in page and "upcoming" in page
    past, _, _ = booked(client, make_link, start=tomorrow_at(12))
    past.start_at -= timedelta(days=3)
    past.end_at -= timedelta(days=3)
    db.session.commit()
    assert "Ada" in login.get("/bookings/?view=past").text
    login.post(f"/bookings/{past.id}/attendance", data={"attendance": "no_show"})
    db.session.refresh(past)
    assert past.attendance == "no_show" and past.display_status == "no-show"
    login.post(f"/bookings/{booking.id}/attendance", data={"attendance": "showed"})
    db.session.refresh(booking)
    assert booking.attendance is None  # not before the meeting
    login.post(f"/bookings/{booking.id}/cancel")
    db.session.refresh(booking)
    assert booking.status == "cancelled" and booking.cancelled_by == "admin"
    assert "Ada" in login.get(f"/bookings/?view=cancelled&calendar_id={booking.calendar_id}").text
