"""POST /api/v1/bookings/<id>/cancel: the organiser's cancel through the API, named after its key."""

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from webapp.booking import history, services
from webapp.booking.models import Booking
from webapp.extensions import db
from webapp.mail.models import OutboxMessage

MONDAY = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def booking(make_calendar, make_link):
    with time_machine.travel(MONDAY, tick=False):
        link, _ = make_link(calendar=make_calendar(timezone="UTC"))
        yield services.book(link, datetime(2027, 3, 2, 10, 0, tzinfo=UTC), services.Invitee("Alex Demo", "", "UTC"))


def test_the_api_cancels_with_a_reason_and_is_named_in_the_history(api, booking):
    with time_machine.travel(MONDAY, tick=False):
        response = api.post(f"/api/v1/bookings/{booking.id}/cancel", json={"reason": "Moved to next week"})
    assert response.status_code == 200, response.text
    assert response.json["status"] == "cancelled" and response.json["id"] == booking.id
    row = db.session.get(Booking, booking.id)
    assert row.cancelled_by == "api" and row.cancel_reason == "Moved to next week"
    change = history.changes_of(booking.id)[0]
    assert (change.kind, change.actor_kind, change.actor_name) == ("cancelled", "api", "API key tests")
    invitee = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "booking_cancelled"))
    assert "Reason:\nMoved to next week" in invitee.text_body and "Cancelled by the organiser" in invitee.text_body


def test_no_body_is_a_cancel_without_a_reason(api, booking):
    with time_machine.travel(MONDAY, tick=False):
        assert api.post(f"/api/v1/bookings/{booking.id}/cancel").status_code == 200
    assert db.session.get(Booking, booking.id).cancel_reason == ""


def test_bad_input_changes_nothing(api, booking):
    with time_machine.travel(MONDAY, tick=False):
        assert api.post(f"/api/v1/bookings/{booking.id}/cancel", json={"reason": 5}).status_code == 422
        assert api.post(f"/api/v1/bookings/{booking.id}/cancel", json={"reason": "x" * 2001}).status_code == 422
        assert api.post(f"/api/v1/bookings/{booking.id}/cancel", json={"why": "x"}).status_code == 422
        assert api.post("/api/v1/bookings/99999/cancel", json={}).status_code == 404
    assert db.session.get(Booking, booking.id).status == "confirmed"
    with time_machine.travel(MONDAY, tick=False):
        assert api.post(f"/api/v1/bookings/{booking.id}/cancel").status_code == 200
        again = api.post(f"/api/v1/bookings/{booking.id}/cancel")
    assert again.status_code == 409 and "already been cancelled" in again.json["error"]


def test_a_key_is_needed(client, booking):
    assert client.post(f"/api/v1/bookings/{booking.id}/cancel").status_code == 401
    assert db.session.get(Booking, booking.id).status == "confirmed"
