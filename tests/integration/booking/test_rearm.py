"""Re-arm: after a cancellation, or a no-show, the same one-time link may book again (per calendar, per link)."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from tests.conftest import iso, tomorrow_at
from tests.helpers import calendar_form
from webapp.booking import links, services
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.mail import outbox
from webapp.mail.models import OutboxMessage

NOW = datetime(2027, 3, 10, 8, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def open_calendar(make_calendar):
    return make_calendar(weekly={d: [(0, 1440)] for d in range(7)})


def book(client, token, hour=10, start=None):
    data = {"start": iso(start or tomorrow_at(hour)), "name": "Ada", "email": "", "timezone": "UTC"}
    response = client.post(f"/book/{token}", data=data)
    assert response.status_code == 303, response.text
    db.session.expire_all()
    return db.session.scalars(select(Booking).order_by(Booking.id.desc())).first(), response.location


def link_state(link) -> OneTimeLink:
    db.session.expire_all()
    return db.session.get_one(OneTimeLink, link.id)


def test_off_by_default_the_link_stays_used_and_the_invitee_is_told_whom_to_contact(
    app, client, make_link, open_calendar
):
    link, token = make_link(calendar=open_calendar)
    assert (link.rearm_on_cancel, link.rearm_on_no_show) == (False, False)
    booking, path = book(client, token)
    client.post(path + "/cancel", data={})
    assert app.test_client().get(f"/book/{token}").status_code == 410  # another browser: the link is used
    page = client.get(path).text
    assert 'data-testid="no-rebook"' in page and "Pick a new time" not in page
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "booking_cancelled")).one()
    assert "Please get in touch with" in mail.text_body and "Book a new time" not in mail.text_body


def test_after_a_cancellation_the_same_link_books_again(app, client, make_link, open_calendar, smtp_server):
    smtp_server.configure(app)
    link, token = make_link(calendar=open_calendar, rearm_on_cancel=True)
    first, path = book(client, token)
    assert first.link_id == link.id
    client.post(path + "/cancel", data={"reason": "Clash"})
    assert link_state(link).status == "opened" and link_state(link).booking_id == first.id
    page = client.get(path).text
    assert re.search(rf'href="[^"]*/book/{re.escape(token)}"[^>]*>Pick a new time', page)
    # The cancellation mail offers the link itself, through its own marker (resolved only at sending).
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "booking_cancelled")).one()
    assert [links.PURPOSE, link.id] in mail.secret_links
    assert token not in mail.text_body and "Book a new time:" in mail.text_body
    while outbox.send_due(10):
        pass
    [sent] = [m for m in smtp_server.messages if m["To"] == first.email and "Cancelled" in m["Subject"]]
    assert f"Book a new time: {links.url(link)}" in sent.get_body(("plain",)).get_content()
    assert client.get(f"/book/{token}").status_code == 200
    second, _ = book(client, token, hour=11)
    assert second.id != first.id and second.link_id == link.id and first.link_id == link.id
    assert link_state(link).booking_id == second.id and link_state(link).status == "used"
    assert db.session.get(Booking, first.id).status == "cancelled"  # the old booking keeps its record
    # Cancelled again: the link comes back again; the first booking no longer offers it (not its link's latest).
    client.post(path + "/cancel", data={})  # already cancelled: nothing changes
    assert link_state(link).status == "used"
    assert services.rebook_url(db.session.get(Booking, first.id)) is None


@pytest.mark.parametrize("who", ["admin", "api"])
def test_every_cancel_re_arms(client, make_link, open_calendar, who):
    link, token = make_link(calendar=open_calendar, rearm_on_cancel=True)
    booking, _ = book(client, token)
    services.cancel(booking, "", by=who)
    assert link_state(link).bookable


def test_a_no_show_re_arms_and_correcting_it_undoes_that(client, make_link, open_calendar, clock):
    link, token = make_link(calendar=open_calendar, rearm_on_no_show=True)
    booking, path = book(client, token)
    clock.shift(timedelta(days=2))
    services.set_attendance(booking, "no_show")
    assert link_state(link).bookable
    services.set_attendance(db.session.get(Booking, booking.id), "showed")  # it was a mistake
    assert link_state(link).status == "used" and link_state(link).used_at == booking.created_at
    services.set_attendance(db.session.get(Booking, booking.id), "no_show")
    services.set_attendance(db.session.get(Booking, booking.id), None)  # cleared: no longer a no-show
    assert link_state(link).status == "used"
    # A no-show re-arm, then a new booking: correcting the old attendance leaves the new booking's link alone.
    services.set_attendance(db.session.get(Booking, booking.id), "no_show")
    second, _ = book(client, token, start=datetime(2027, 3, 15, 10, 0, tzinfo=UTC))
    assert second.link_id == link.id
    services.set_attendance(db.session.get(Booking, booking.id), "showed")
    assert link_state(link).booking_id == second.id and link_state(link).status == "used"


def test_a_cancellation_does_not_re_arm_a_no_show_link_and_vice_versa(client, make_link, open_calendar, clock):
    link, token = make_link(calendar=open_calendar, rearm_on_no_show=True)
    booking, _ = book(client, token)
    services.cancel(booking, "", by="admin")
    assert link_state(link).status == "used"
    other, token = make_link(calendar=open_calendar, rearm_on_cancel=True)
    booking, _ = book(client, token, hour=13)
    clock.shift(timedelta(days=2))
    services.set_attendance(booking, "no_show")
    assert link_state(other).status == "used"


def test_an_expired_link_stays_expired(client, make_link, open_calendar, clock):
    link, token = make_link(calendar=open_calendar, rearm_on_cancel=True, expires_at=NOW + timedelta(hours=1))
    booking, path = book(client, token)
    clock.shift(timedelta(hours=2))
    services.cancel(db.session.get(Booking, booking.id), "", by="admin")
    assert link_state(link).status == "used"
    assert 'data-testid="no-rebook"' in client.get(path).text


def test_a_revoked_link_is_not_re_armed(client, make_link, open_calendar, clock):
    link, token = make_link(calendar=open_calendar, rearm_on_cancel=True, rearm_on_no_show=True)
    booking, _ = book(client, token)
    db.session.execute(update(OneTimeLink).where(OneTimeLink.id == link.id).values(revoked_at=NOW))
    db.session.commit()
    services.cancel(db.session.get(Booking, booking.id), "", by="admin")
    assert link_state(link).status == "revoked" and link_state(link).used_at is not None
    # Re-armed by a no-show, then withdrawn by the admin: correcting the attendance leaves it withdrawn.
    link, token = make_link(calendar=open_calendar, rearm_on_no_show=True)
    booking, _ = book(client, token, hour=14)
    clock.shift(timedelta(days=2))
    services.set_attendance(booking, "no_show")
    assert links.revoke(link_state(link))
    services.set_attendance(db.session.get(Booking, booking.id), "showed")
    assert link_state(link).status == "revoked"


def test_the_link_keeps_the_choice_it_was_issued_with(make_link, open_calendar):
    open_calendar.rearm_on_cancel = True
    db.session.commit()
    inherits, _ = make_link(calendar=open_calendar)
    overridden, _ = make_link(calendar=open_calendar, rearm_on_cancel=False, rearm_on_no_show=True)
    open_calendar.rearm_on_cancel = False  # a later edit of the calendar changes no link already made
    db.session.commit()
    assert (link_state(inherits).rearm_on_cancel, link_state(inherits).rearm_on_no_show) == (True, False)
    assert (link_state(overridden).rearm_on_cancel, link_state(overridden).rearm_on_no_show) == (False, True)


def test_the_calendar_editor_saves_both_settings_off_by_default(login):
    page = login.get("/calendars/new").text
    assert "After a cancellation, the same link may book again" in page
    assert "After a no-show, the same link may book again" in page
    login.post("/calendars/new", data=calendar_form(name="Default"))
    calendar = db.session.scalars(select(Calendar)).one()
    assert (calendar.rearm_on_cancel, calendar.rearm_on_no_show) == (False, False)
    data = calendar_form(name="Default", slug=calendar.slug, rearm_on_cancel="y", rearm_on_no_show="y")
    assert login.post(f"/calendars/{calendar.id}", data=data).status_code == 303
    db.session.refresh(calendar)
    assert (calendar.rearm_on_cancel, calendar.rearm_on_no_show) == (True, True)
    for name in ("rearm_on_cancel", "rearm_on_no_show"):
        checkbox = re.search(rf'<input[^>]* name="{name}"[^>]*>', login.get(f"/calendars/{calendar.id}").text)
        assert "checked" in checkbox[0]


def test_the_admin_is_told_when_their_change_re_armed_the_link(login, client, make_link, open_calendar, clock):
    link, token = make_link(calendar=open_calendar, rearm_on_cancel=True)
    booking, _ = book(client, token)
    page = login.post(f"/bookings/{booking.id}/cancel", data={}, follow_redirects=True).text
    assert "Their booking link can book again." in page
    plain, token = make_link(calendar=open_calendar)
    booking, _ = book(client, token, hour=15)
    clock.shift(timedelta(days=2))
    page = login.post(f"/bookings/{booking.id}/attendance", data={"attendance": "no_show"}, follow_redirects=True).text
    assert "marked no-show." in page and "can book again" not in page
