"""The admin's booking page: who and when, the history of every change with who made it, every mail about
it; the admin's move (with or without the calendar's limits) and cancel (with a reason, maybe a fresh link)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD, iso, statements_run
from tests.factories import enrol_now, send_link_workflow
from tests.helpers import runs
from webapp.auth import services as admins
from webapp.booking import history, links, services
from webapp.booking.history import Actor
from webapp.booking.models import Booking, BookingChange, OneTimeLink
from webapp.extensions import db
from webapp.mail import sender
from webapp.mail.models import OutboxMessage

# Monday 1 March 2027, 08:00 UTC: the calendars below are open Monday to Friday, 09:00 to 17:00 UTC.
MONDAY = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
TUESDAY_10 = datetime(2027, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def sam(clock, admin):
    """The signed-in admin, named Sam Rivera."""
    admins.rename(admin, "Sam Rivera")
    return admin


@pytest.fixture
def signed_in(sam, client):
    response = client.post("/login", data={"email": sam.email, "password": PASSWORD})
    assert response.status_code == 303
    return client


@pytest.fixture
def booking(clock, make_calendar, make_link):
    calendar = make_calendar(name="Intro call", timezone="UTC", min_notice=60, window_days=30, max_per_day=3)
    link, _ = make_link(calendar=calendar)
    return services.book(link, TUESDAY_10, services.Invitee("Alex Demo", "", "Europe/Paris", notes="About the plan"))


def changes(booking_id) -> list[BookingChange]:
    return list(reversed(history.changes_of(booking_id)))


def mails(booking_id, kind) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.booking_id == booking_id, OutboxMessage.kind == kind)
    return list(db.session.scalars(query.order_by(OutboxMessage.id)))


# --- history, written by the services --------------------------------------------------------------


def test_every_service_writes_its_change_with_who_made_it(sam, booking):
    services.resend_confirmation(booking)
    services.reschedule(booking, TUESDAY_10 + timedelta(hours=1), by=Actor.admin(sam))
    services.cancel(booking, "Double-booked", by=Actor.admin(sam))
    rows = changes(booking.id)
    assert [(c.kind, c.actor_kind, c.actor_name) for c in rows] == [
        ("booked", "invitee", "Alex Demo"),
        ("resent", "invitee", "Alex Demo"),
        ("moved", "admin", "Sam Rivera"),
        ("cancelled", "admin", "Sam Rivera"),
    ]
    assert rows[0].details["to"] == TUESDAY_10.isoformat()
    assert rows[2].details == {"from": TUESDAY_10.isoformat(), "to": (TUESDAY_10 + timedelta(hours=1)).isoformat()}
    assert rows[2].actor_user_id == sam.id and rows[3].details == {"reason": "Double-booked"}
    assert db.session.get(Booking, booking.id).cancelled_by == "admin"


def test_attendance_is_recorded_once_per_change(clock, sam, booking):
    clock.move_to(TUESDAY_10 + timedelta(hours=1))
    services.set_attendance(booking, "no_show", by=Actor.admin(sam))
    services.set_attendance(booking, "no_show", by=Actor.admin(sam))  # unchanged: nothing new
    services.set_attendance(booking, None)
    assert [(c.kind, c.details, c.actor_kind) for c in changes(booking.id)[1:]] == [
        ("attendance", {"attendance": "no_show"}, "admin"),
        ("attendance", {"attendance": "cleared"}, "system"),
    ]


def test_a_refused_change_writes_no_history(sam, booking):
    services.cancel(booking, by=Actor.admin(sam))
    with pytest.raises(services.ChangeNotAllowed):
        services.reschedule(booking, TUESDAY_10 + timedelta(hours=1), by=Actor.admin(sam))
    with pytest.raises(services.ChangeNotAllowed):
        services.cancel(booking, by=Actor.admin(sam))
    assert [c.kind for c in changes(booking.id)] == ["booked", "cancelled"]


# --- mails say who acted ---------------------------------------------------------------------------


def test_the_invitee_reads_who_cancelled_and_why_the_acting_admin_reads_you(sam, booking):
    other = admins.create_admin("jo@example.com", PASSWORD)
    services.cancel(booking, "The room is flooded", by=Actor.admin(sam))
    invitee = mails(booking.id, "booking_cancelled")[0]
    assert "Cancelled by Sam Rivera (organiser) on" in invitee.text_body
    assert "Reason:\nThe room is flooded" in invitee.text_body and "The room is flooded" in invitee.html_body
    notices = {m.to_addr: m for m in mails(booking.id, "admin_cancelled")}
    assert "was cancelled by you." in notices[sam.email].text_body
    assert "was cancelled by Sam Rivera (organiser)." in notices[other.email].text_body
    assert "Alex Demo <" in notices[other.email].text_body


def test_an_invitee_cancel_is_named_as_theirs(admin, booking):
    services.cancel(booking, "Ill")
    assert "was cancelled by Alex Demo (invitee)." in mails(booking.id, "admin_cancelled")[0].text_body
    assert "You cancelled this booking on" in mails(booking.id, "booking_cancelled")[0].text_body


def test_the_invitee_reads_who_moved_their_booking(sam, booking):
    services.reschedule(booking, TUESDAY_10 + timedelta(hours=2), by=Actor.admin(sam))
    moved = mails(booking.id, "booking_rescheduled")[0]
    assert (
        "Moved by Sam Rivera (organiser)." in moved.text_body and "Moved by Sam Rivera (organiser)." in moved.html_body
    )
    assert "was moved to" in mails(booking.id, "admin_rescheduled")[0].text_body


def test_an_api_key_is_named_to_admins_and_is_the_organiser_to_the_invitee(admin, booking):
    class Key:
        id, name = 7, "Zapier"

    services.cancel(booking, by=Actor.api_key(Key()))
    change = changes(booking.id)[-1]
    assert (change.actor_kind, change.actor_name, change.actor_key_id) == ("api", "API key Zapier", 7)
    assert "cancelled by API key Zapier" in mails(booking.id, "admin_cancelled")[0].text_body
    assert "Cancelled by the organiser on" in mails(booking.id, "booking_cancelled")[0].text_body


def test_a_fresh_link_is_issued_and_resolved_only_when_the_mail_is_sent(sam, booking):
    fresh = services.cancel(booking, "", by=Actor.admin(sam), fresh_link=True)
    assert fresh is not None and fresh.bookable
    old = db.session.scalar(select(OneTimeLink).where(OneTimeLink.booking_id == booking.id))
    assert (fresh.contact_id, fresh.calendar_id) == (old.contact_id, old.calendar_id) and fresh.id != old.id
    invitee = mails(booking.id, "booking_cancelled")[0]
    assert ["book", fresh.id] in invitee.secret_links
    url = links.url(fresh)
    assert url not in invitee.text_body  # a marker until it is sent
    assert url in sender.build_message(invitee).as_string()
    # The organisers' copies never carry the invitee's link.
    assert all(
        m.secret_links == [] or ["book", fresh.id] not in m.secret_links for m in mails(booking.id, "admin_cancelled")
    )
    assert changes(booking.id)[-1].details == {"fresh_link_id": fresh.id}


def test_no_fresh_link_without_a_contact_and_nothing_changes(sam, booking):
    booking.contact_id = None
    db.session.commit()
    with pytest.raises(services.BookingError, match="no contact on file"):
        services.cancel(booking, "", by=Actor.admin(sam), fresh_link=True)
    assert db.session.get(Booking, booking.id).status == "confirmed"
    assert [c.kind for c in changes(booking.id)] == ["booked"]


# --- the booking page ------------------------------------------------------------------------------


def test_the_booking_page_shows_who_when_link_history_and_mail(signed_in, booking):
    page = signed_in.get(f"/bookings/{booking.id}")
    assert page.status_code == 200
    text = page.text
    assert "Alex Demo" in text and f"/contacts/{booking.contact_id}" in text
    assert "Tue 02 Mar 2027, 11:00 CET" in text and "Europe/Paris" in text  # the invitee's zone
    assert "About the plan" in text and "badge-link-used" in text
    assert "Booked" in text and "Alex Demo (invitee)" in text
    for message in mails(booking.id, "booking_confirmed") + mails(booking.id, "admin_confirmed"):
        assert f"/mail/{message.id}" in text
    assert f'action="/bookings/{booking.id}/cancel"' in text and f"/bookings/{booking.id}/move" in text


def test_the_page_says_what_a_cancel_does_to_the_link_and_what_a_resend_sent(signed_in, booking):
    assert "The one-time link they booked with stays used." in signed_in.get(f"/bookings/{booking.id}").text
    link = db.session.get(OneTimeLink, booking.link_id)
    link.rearm_on_cancel = True
    db.session.commit()
    assert "The one-time link they booked with can book again" in signed_in.get(f"/bookings/{booking.id}").text
    services.resend_confirmation(booking)
    services.cancel(booking, "")
    services.resend_confirmation(db.session.get(Booking, booking.id))
    text = signed_in.get(f"/bookings/{booking.id}").text
    assert "Confirmation emailed again" in text and "Cancellation emailed again" in text


def test_the_page_names_the_workflow_and_enrolment_that_made_the_link(signed_in, make_calendar, make_contact):
    from webapp.workflows import engine

    workflow = send_link_workflow(make_calendar(timezone="UTC"), "manual", {})
    enrolment = enrol_now(workflow, make_contact())
    while engine.run_due(10):
        pass
    link = db.session.get(OneTimeLink, runs(enrolment)["s-link"].output["link_id"])
    booking = services.book(link, TUESDAY_10, services.Invitee("Ada", "", "UTC"))
    page = signed_in.get(f"/bookings/{booking.id}").text
    assert f"/workflows/{workflow.id}" in page and workflow.name in page and f"/enrolments/{enrolment.id}" in page
    timeline = signed_in.get(f"/enrolments/{enrolment.id}").text
    assert f'href="/bookings/{booking.id}"' in timeline


def test_the_pages_cost_does_not_grow_with_its_history_and_mail(signed_in, booking):
    def page_statements() -> int:
        with statements_run() as statements:
            assert signed_in.get(f"/bookings/{booking.id}").status_code == 200
        return len(statements)

    before = page_statements()
    for _ in range(5):
        services.resend_confirmation(booking)  # a change and a mail each
    assert len(history.changes_of(booking.id)) == 6 and page_statements() == before


def test_lists_link_to_the_booking_page(signed_in, booking):
    assert f'href="/bookings/{booking.id}"' in signed_in.get("/bookings/").text
    assert f'href="/bookings/{booking.id}"' in signed_in.get(f"/contacts/{booking.contact_id}").text
    assert f'href="/bookings/{booking.id}"' in signed_in.get(f"/links/calendar/{booking.calendar_id}").text


def test_an_unknown_booking_is_404(signed_in, booking):
    for path in ("/bookings/999999", "/bookings/99999999999999", "/bookings/999999/move"):
        assert signed_in.get(path).status_code == 404
    assert signed_in.post("/bookings/999999/cancel", data={"reason": "x"}).status_code == 404


def test_the_page_needs_a_signed_in_admin(client, booking):
    response = client.get(f"/bookings/{booking.id}")
    assert response.status_code in (302, 303) and "/login" in response.location


def test_cancel_from_the_page_with_a_reason_and_a_fresh_link(signed_in, sam, booking):
    response = signed_in.post(f"/bookings/{booking.id}/cancel", data={"reason": "Sorry, <b>ill</b>", "fresh_link": "y"})
    assert response.status_code == 303 and response.location == f"/bookings/{booking.id}"
    row = db.session.get(Booking, booking.id)
    assert row.status == "cancelled" and row.cancel_reason == "Sorry, <b>ill</b>"
    page = signed_in.get(response.location).text
    assert "with a fresh link to book again" in page
    assert "Sorry, &lt;b&gt;ill&lt;/b&gt;" in page and "<b>ill</b>" not in page  # typed text is data
    assert "<td>you</td>" in page and "a fresh link was sent" in page
    assert "&lt;b&gt;ill" in mails(booking.id, "booking_cancelled")[0].html_body


def test_a_reason_too_long_is_refused_and_kept(signed_in, booking):
    reason = "x" * 2001
    response = signed_in.post(f"/bookings/{booking.id}/cancel", data={"reason": reason})
    assert response.status_code == 422
    assert "at most 2000 characters" in response.text and reason in response.text
    assert db.session.get(Booking, booking.id).status == "confirmed"
    assert mails(booking.id, "booking_cancelled") == []


def test_cancel_from_the_list_still_works_and_comes_back(signed_in, booking):
    response = signed_in.post(f"/bookings/{booking.id}/cancel", data={"next": "/bookings/?view=all"})
    assert response.status_code == 303 and response.location == "/bookings/?view=all"
    assert db.session.get(Booking, booking.id).status == "cancelled"


def test_a_cancelled_booking_offers_no_cancel_or_move(signed_in, booking):
    services.cancel(booking, "Ill")
    page = signed_in.get(f"/bookings/{booking.id}").text
    assert f'action="/bookings/{booking.id}/cancel"' not in page and "Move…" not in page
    assert "Ill" in page


def test_a_booking_without_a_contact_offers_no_fresh_link(signed_in, booking):
    contact_id, booking.contact_id = booking.contact_id, None  # the contact was deleted since
    db.session.commit()
    page = signed_in.get(f"/bookings/{booking.id}").text
    assert "Cancel booking" in page and 'name="fresh_link"' not in page and f"/contacts/{contact_id}" not in page


def test_a_past_booking_offers_attendance_not_a_move(clock, signed_in, booking):
    clock.move_to(TUESDAY_10 + timedelta(hours=2))
    page = signed_in.get(f"/bookings/{booking.id}").text
    assert "No-show" in page and "Move…" not in page and "Cancel booking" not in page
    response = signed_in.post(
        f"/bookings/{booking.id}/attendance", data={"attendance": "showed", "next": f"/bookings/{booking.id}"}
    )
    assert response.location == f"/bookings/{booking.id}"
    assert "Marked showed" in signed_in.get(response.location).text


# --- the admin's move ------------------------------------------------------------------------------


def test_move_page_is_the_pickers_in_the_admins_zone(signed_in, booking, hx):
    page = signed_in.get(f"/bookings/{booking.id}/move")
    assert page.status_code == 200 and 'name="start"' in page.text and "Ignore the calendar" in page.text
    fragment = signed_in.get(f"/bookings/{booking.id}/move?date=2027-03-03&tz=UTC", headers=hx)
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="picker"' in fragment.text
    assert iso(datetime(2027, 3, 3, 9, 0, tzinfo=UTC)) in fragment.text


def test_move_to_an_open_time(signed_in, booking):
    target = datetime(2027, 3, 3, 14, 0, tzinfo=UTC)
    response = signed_in.post(f"/bookings/{booking.id}/move", data={"start": iso(target), "timezone": "UTC"})
    assert response.status_code == 303 and response.location == f"/bookings/{booking.id}"
    assert db.session.get(Booking, booking.id).start_at == target
    page = signed_in.get(response.location).text
    assert "has moved" in page and "Moved" in page and "<td>you</td>" in page


def test_limits_apply_unless_the_admin_sets_them_aside(signed_in, booking):
    saturday_night = datetime(2027, 3, 6, 21, 30, tzinfo=UTC)  # outside the working hours, on a weekend
    refused = signed_in.post(f"/bookings/{booking.id}/move", data={"start": iso(saturday_night), "timezone": "UTC"})
    assert refused.status_code == 409 and "no longer available" in refused.text
    assert db.session.get(Booking, booking.id).start_at == TUESDAY_10
    picker = signed_in.get(f"/bookings/{booking.id}/move/any?date=2027-03-06&tz=UTC").text
    assert iso(saturday_night) in picker
    moved = signed_in.post(f"/bookings/{booking.id}/move/any", data={"start": iso(saturday_night), "timezone": "UTC"})
    assert moved.status_code == 303
    assert db.session.get(Booking, booking.id).start_at == saturday_night
    assert changes(booking.id)[-1].details["ignored_limits"] is True
    assert "(calendar's limits ignored)" in signed_in.get(f"/bookings/{booking.id}").text


def test_minimum_notice_and_window_are_set_aside_but_not_the_past(signed_in, booking):
    soon = datetime(2027, 3, 1, 8, 30, tzinfo=UTC)  # within the hour's notice, before opening time
    far = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)  # past the 30-day window
    past = datetime(2027, 3, 1, 7, 0, tzinfo=UTC)
    assert signed_in.post(f"/bookings/{booking.id}/move", data={"start": iso(far)}).status_code == 409
    assert signed_in.post(f"/bookings/{booking.id}/move/any", data={"start": iso(past)}).status_code == 409
    assert signed_in.post(f"/bookings/{booking.id}/move/any", data={"start": iso(far)}).status_code == 303
    assert signed_in.post(f"/bookings/{booking.id}/move/any", data={"start": iso(soon)}).status_code == 303
    assert db.session.get(Booking, booking.id).start_at == soon


def test_other_bookings_still_refuse_an_overlap_even_with_limits_set_aside(signed_in, booking, make_link):
    other_link, _ = make_link(calendar=booking.calendar)
    taken = datetime(2027, 3, 4, 10, 0, tzinfo=UTC)
    services.book(other_link, taken, services.Invitee("Bo", "", "UTC"))
    picker = signed_in.get(f"/bookings/{booking.id}/move/any?date=2027-03-04&tz=UTC").text
    assert iso(taken) not in picker
    response = signed_in.post(f"/bookings/{booking.id}/move/any", data={"start": iso(taken)})
    assert response.status_code == 409 and "Please pick another" in response.text
    assert db.session.get(Booking, booking.id).start_at == TUESDAY_10


def test_a_slot_taken_meanwhile_is_409_and_nothing_moves(signed_in, booking, make_link):
    target = datetime(2027, 3, 3, 15, 0, tzinfo=UTC)
    assert iso(target) in signed_in.get(f"/bookings/{booking.id}/move?date=2027-03-03&tz=UTC").text
    other_link, _ = make_link(calendar=booking.calendar)
    services.book(other_link, target, services.Invitee("Bo", "", "UTC"))  # someone else was quicker
    response = signed_in.post(f"/bookings/{booking.id}/move", data={"start": iso(target), "timezone": "UTC"})
    assert response.status_code == 409 and 'role="alert"' in response.text
    assert db.session.get(Booking, booking.id).start_at == TUESDAY_10
    assert [c.kind for c in changes(booking.id)] == ["booked"]


def test_a_cancelled_or_past_booking_cannot_be_moved(clock, signed_in, booking):
    services.cancel(booking, "")
    for path in (f"/bookings/{booking.id}/move", f"/bookings/{booking.id}/move/any"):
        response = signed_in.post(path, data={"start": iso(datetime(2027, 3, 3, 9, 0, tzinfo=UTC))})
        assert response.status_code == 303 and response.location == f"/bookings/{booking.id}"
        assert "cannot be moved" in signed_in.get(response.location).text
    assert db.session.get(Booking, booking.id).start_at == TUESDAY_10


def test_the_admin_is_not_held_to_the_change_cutoff(clock, signed_in, booking):
    booking.calendar.change_cutoff_hours = 48
    db.session.commit()
    assert services.why_unchangeable(booking) is not None  # the invitee could not move it any more
    target = datetime(2027, 3, 3, 9, 0, tzinfo=UTC)
    assert signed_in.post(f"/bookings/{booking.id}/move", data={"start": iso(target)}).status_code == 303
    assert db.session.get(Booking, booking.id).start_at == target


def test_moving_to_the_same_time_changes_nothing(signed_in, booking):
    response = signed_in.post(f"/bookings/{booking.id}/move", data={"start": iso(TUESDAY_10)})
    assert response.status_code == 303
    assert "already at that time" in signed_in.get(response.location).text
    assert [c.kind for c in changes(booking.id)] == ["booked"] and mails(booking.id, "booking_rescheduled") == []


def test_a_bad_start_is_422(signed_in, booking):
    for start in ("", "tomorrow", "9999-99-99"):
        response = signed_in.post(f"/bookings/{booking.id}/move", data={"start": start})
        assert response.status_code == 422
    assert db.session.get(Booking, booking.id).start_at == TUESDAY_10


# --- the admin's name ------------------------------------------------------------------------------


def test_a_new_admin_is_named_after_their_email(app):
    assert admins.create_admin("sam.rivera@example.com", PASSWORD).name == "sam.rivera"


def test_the_admin_names_themself_in_settings(signed_in, sam):
    assert 'value="Sam Rivera"' in signed_in.get("/settings").text
    response = signed_in.post("/settings/name", data={"me-name": "  Samantha   Rivera "})
    assert response.status_code == 303
    db.session.refresh(sam)
    assert sam.name == "Samantha Rivera"
    for bad, message in (("", "Give the name"), ("x" * 101, "at most 100"), ("Sam\nRivera", "")):
        refused = signed_in.post("/settings/name", data={"me-name": bad})
        assert refused.status_code == 422 and message in refused.text
    db.session.refresh(sam)
    assert sam.name == "Samantha Rivera"
