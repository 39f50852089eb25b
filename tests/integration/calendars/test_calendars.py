"""Calendar pages: create, validate, edit rows inline, preview, deactivate, delete or archive."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.helpers import calendar_form
from webapp.booking.models import Booking
from webapp.calendars import services
from webapp.calendars.models import Calendar
from webapp.extensions import db


def only_calendar():
    return db.session.scalars(select(Calendar)).one()


def test_empty_list_says_what_to_do(login):
    page = login.get("/calendars/").text
    assert "No calendars yet" in page and "Create your first calendar" in page


def test_new_calendar_page_starts_with_weekday_hours(login):
    page = login.get("/calendars/new").text
    assert page.count('value="09:00"') == 5 and page.count('value="17:00"') == 5


def test_create_calendar(login):
    response = login.post(
        "/calendars/new", data=calendar_form(description="Let's talk", location="https://meet.example/abc")
    )
    calendar = only_calendar()
    assert response.status_code == 303 and response.location == f"/calendars/{calendar.id}"
    assert calendar.slug == "intro-call" and calendar.timezone == "Europe/London"
    assert [(r.weekday, r.start_minute, r.end_minute) for r in calendar.ranges] == [(0, 540, 720), (0, 780, 1020)]
    assert calendar.location == "https://meet.example/abc"
    page = login.get(response.location).text
    assert "Calendar “Intro call” created." in page
    assert "Open slots, next 7 days" in page


def test_create_through_htmx_navigates_with_hx_redirect(login, hx):
    response = login.post("/calendars/new", data=calendar_form(), headers=hx)
    assert response.headers["HX-Redirect"] == f"/calendars/{only_calendar().id}"


def test_end_before_start_is_refused_beside_the_day(login):
    response = login.post("/calendars/new", data=calendar_form(**{"mon-1-start": "17:00", "mon-1-end": "13:00"}))
    assert response.status_code == 422
    assert "Some settings need your attention" in response.text
    assert "17:00" in response.text  # what the admin typed is kept
    assert db.session.scalar(select(Calendar.id)) is None


def test_overlapping_ranges_are_refused(login):
    response = login.post("/calendars/new", data=calendar_form(**{"mon-1-start": "11:00", "mon-1-end": "14:00"}))
    assert response.status_code == 422
    assert "overlaps" in response.text
    assert db.session.scalar(select(Calendar.id)) is None


def test_bad_time_text_is_refused(login):
    response = login.post("/calendars/new", data=calendar_form(**{"mon-0-start": "9am"}))
    assert response.status_code == 422
    assert "Use a time like 09:30." in response.text


def test_durations_must_be_positive(login):
    response = login.post("/calendars/new", data=calendar_form(duration="0", slot_interval="-5", seats="0"))
    assert response.status_code == 422
    assert response.text.count("Between 5 and 1440 minutes.") == 2
    assert "Enter at least 1 seat." in response.text or "Between 1 and 1000." in response.text


def test_unknown_time_zone_is_refused(login):
    response = login.post("/calendars/new", data=calendar_form(timezone="Mars/Olympus_Mons"))
    assert response.status_code == 422
    assert "“Mars/Olympus_Mons” is not a time zone we know" in response.text
    # What was typed stays in the picker, to be corrected.
    assert '<option value="Mars/Olympus_Mons" selected>' in response.text


def test_time_zone_picker_lists_current_zones_with_their_place(login):
    page = login.get("/calendars/new").text
    assert (
        "data-zone-picker" in page
        and '<option value="America/New_York" data-abbr="EST EDT">New York — United States' in page
    )
    assert 'value="Factory"' not in page and 'value="Etc/GMT+5"' not in page


def test_duplicate_slug_is_refused(login, make_calendar):
    make_calendar(name="Other", slug="intro")
    response = login.post("/calendars/new", data=calendar_form(slug="intro"))
    assert response.status_code == 422
    assert "Another calendar already uses this slug." in response.text


def test_slug_from_name_is_made_unique(login, make_calendar):
    make_calendar(name="Intro call")
    login.post("/calendars/new", data=calendar_form())
    slugs = db.session.scalars(select(Calendar.slug).order_by(Calendar.id)).all()
    assert slugs == ["intro-call", "intro-call-2"]


def test_a_slug_cleared_on_edit_is_made_from_the_name_again(login, make_calendar):
    make_calendar(name="Other", slug="sales-call")
    calendar = make_calendar(name="Intro call", slug="custom")
    response = login.post(f"/calendars/{calendar.id}", data=calendar_form(name="Sales call", slug=""))
    assert response.status_code in (302, 303)  # not a 500: the empty slug never reaches the database
    db.session.expire_all()
    assert db.session.get(Calendar, calendar.id).slug == "sales-call-2"
    response = login.post(f"/calendars/{calendar.id}", data=calendar_form(name="Sales call", slug=""))
    db.session.expire_all()
    assert db.session.get(Calendar, calendar.id).slug == "sales-call-2"  # its own slug is not "taken"


def test_add_range_row_inline_with_htmx_keeps_typed_values(login, hx):
    response = login.post("/calendars/new", data=calendar_form(name="Typed name", action="add-mon"), headers=hx)
    assert response.status_code == 200
    html = response.text
    assert html.lstrip().startswith("<form") and "<html" not in html
    assert 'value="Typed name"' in html
    assert 'name="mon-2-start"' in html and 'value="17:00"' in html  # new row starts where the last ended
    assert db.session.scalar(select(Calendar.id)) is None  # nothing saved


def test_remove_range_row_inline(login, hx):
    response = login.post("/calendars/new", data=calendar_form(action="remove-mon-0"), headers=hx)
    assert 'name="mon-0-start"' not in response.text and 'name="mon-1-start"' in response.text


def test_row_buttons_work_without_javascript(login):
    response = login.post("/calendars/new", data=calendar_form(action="add-sat"))
    assert response.status_code == 200 and "<html" in response.text
    assert 'name="sat-0-start"' in response.text


def test_edit_saves_and_triggers_preview_refresh(login, hx, make_calendar):
    calendar = make_calendar(name="Demo", timezone="UTC")
    response = login.post(
        f"/calendars/{calendar.id}",
        data=calendar_form(name="Renamed", slug=calendar.slug, timezone="America/New_York"),
        headers=hx,
    )
    assert response.status_code == 200
    assert "calendar-saved" in response.headers["HX-Trigger"]
    assert "Changes saved" in response.text
    db.session.refresh(calendar)
    assert calendar.name == "Renamed" and calendar.timezone == "America/New_York"
    assert len(calendar.ranges) == 2


def test_edit_page_shows_saved_rows_once(login, make_calendar):
    calendar = make_calendar(weekly={0: [(540, 600)], 2: [(600, 660), (700, 760)]})
    services.update_calendar(calendar, {}, overrides=[(date(2030, 1, 1), None, None)])
    page = login.get(f"/calendars/{calendar.id}").text
    assert page.count('name="mon-') == 2 and page.count('name="wed-') == 4
    assert page.count('name="date_overrides-0-day"') == 1 and 'value="2030-01-01"' in page


def test_edit_invalid_keeps_old_settings(login, make_calendar, hx):
    calendar = make_calendar(name="Keep me")
    response = login.post(f"/calendars/{calendar.id}", data=calendar_form(name="", slug=calendar.slug), headers=hx)
    assert response.status_code == 422
    assert "Give the calendar a name." in response.text
    db.session.refresh(calendar)
    assert calendar.name == "Keep me"


def test_date_overrides_saved(login, make_calendar):
    calendar = make_calendar()
    data = calendar_form(slug=calendar.slug)
    data.update(
        {
            "date_overrides-0-day": "2030-12-25",
            "date_overrides-0-closed": "y",
            "date_overrides-1-day": "2030-12-24",
            "date_overrides-1-start": "10:00",
            "date_overrides-1-end": "12:00",
        }
    )
    assert login.post(f"/calendars/{calendar.id}", data=data).status_code == 303
    db.session.refresh(calendar)
    rules = calendar.rules()
    assert rules.overrides == {date(2030, 12, 24): [(600, 720)], date(2030, 12, 25): []}


def test_override_needs_hours_or_closed(login, make_calendar):
    calendar = make_calendar()
    data = calendar_form(slug=calendar.slug, **{"date_overrides-0-day": "2030-12-24"})
    response = login.post(f"/calendars/{calendar.id}", data=data)
    assert response.status_code == 422
    assert "Enter the hours, or tick Closed all day." in response.text


def test_preview_lists_next_seven_days_in_calendar_zone(app, make_calendar):
    calendar = make_calendar(timezone="America/New_York", duration=60, weekly={0: [(9 * 60, 12 * 60)]})
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday
    days = services.preview(calendar, now=now)
    assert [d for d, _ in days] == [date(2026, 11, 27) + timedelta(days=i) for i in range(7)]
    monday = dict(days)[date(2026, 11, 30)]
    assert [s.start for s in monday] == [datetime(2026, 11, 30, h, tzinfo=UTC) for h in (14, 15, 16)]
    assert all(not slots for d, slots in days if d != date(2026, 11, 30))


def test_preview_leaves_out_booked_slots(app, make_calendar):
    calendar = make_calendar(timezone="UTC", duration=60, weekly={0: [(9 * 60, 12 * 60)]})
    start = datetime(2026, 11, 30, 10, tzinfo=UTC)
    db.session.add(
        Booking(calendar=calendar, start_at=start, end_at=start + timedelta(hours=1), name="A", email="a@x.io")
    )
    db.session.commit()
    monday = dict(services.preview(calendar, now=datetime(2026, 11, 27, tzinfo=UTC)))[date(2026, 11, 30)]
    assert [s.start.hour for s in monday] == [9, 11]


@pytest.fixture
def noon():
    """Noon, from before signing in: after 23:30 UTC today's last half hour has gone, and the preview
    rightly says "No open slots"; a session signed in today would have expired on the pinned day."""
    with time_machine.travel(datetime(2027, 2, 1, 12, 0, tzinfo=UTC), tick=False):
        yield


def test_preview_fragment(noon, login, make_calendar, hx):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    response = login.get(f"/calendars/{calendar.id}/preview", headers=hx)
    assert "<html" not in response.text and "Open slots, next 7 days" in response.text
    assert response.headers["Vary"] == "Cookie, HX-Request" or "HX-Request" in response.headers["Vary"]
    assert "No open slots" not in response.text


def test_deactivate_and_activate(login, make_calendar):
    calendar = make_calendar()
    assert login.post(f"/calendars/{calendar.id}/active", data={"active": "0"}).status_code == 303
    db.session.refresh(calendar)
    assert calendar.status == "inactive"
    login.post(f"/calendars/{calendar.id}/active", data={"active": "1"})
    db.session.refresh(calendar)
    assert calendar.status == "active"


def test_delete_asks_first_then_deletes(login, make_calendar):
    calendar = make_calendar(name="Gone soon")
    page = login.get(f"/calendars/{calendar.id}/delete").text
    assert "Delete “Gone soon”?" in page and "cannot be undone" in page
    response = login.post(f"/calendars/{calendar.id}/delete")
    assert response.status_code == 303
    assert "“Gone soon” was deleted." in login.get(response.location).text
    assert db.session.scalar(select(Calendar.id)) is None


def test_calendar_with_bookings_is_archived_not_deleted(login, make_calendar):
    calendar = make_calendar(name="Busy")
    start = datetime(2030, 1, 7, 10, tzinfo=UTC)
    db.session.add(
        Booking(calendar=calendar, start_at=start, end_at=start + timedelta(minutes=30), name="A", email="a@x.io")
    )
    db.session.commit()
    assert "It will be <strong>archived</strong>" in login.get(f"/calendars/{calendar.id}/delete").text
    response = login.post(f"/calendars/{calendar.id}/delete")
    page = login.get(response.location).text
    assert "has bookings, so it was archived instead of deleted" in page
    db.session.expire_all()
    calendar = only_calendar()
    assert calendar.status == "archived" and calendar.archived_at is not None
    assert db.session.scalar(select(Booking.id)) is not None


def test_unknown_calendar_is_404(login):
    assert login.get("/calendars/999").status_code == 404
