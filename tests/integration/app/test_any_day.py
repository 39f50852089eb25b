"""The date-sensitive pages and rules on each of tests.conftest.PINNED_DAYS (the 1st, a 31st, both DST
changes in London and New York, 29 February, 31 December, a Friday and a Saturday night): booking
pages, availability, waits and the dashboard must hold on every day, not just on the day CI runs.

Each expectation is worked out here from the pinned instant with zoneinfo, not read from the app."""

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import iso
from tests.factories import (
    ALL_WEEK,
    add_link,
    book_link,
    email_step,
    enrol_now,
    link_step,
    make_workflow,
    wait_step,
    workflow_rows,
)
from tests.helpers import issued_link, post_booking, reload, subjects
from webapp.booking.models import Booking
from webapp.calendars import services
from webapp.clock import utcnow
from webapp.dashboard import queries as dashboard
from webapp.extensions import db
from webapp.worker import drain

pytestmark = pytest.mark.usefixtures("pinned_day")  # first, so every row is written on the pinned day

NEW_YORK, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
WEEKDAYS_9_TO_5 = {d: [(9 * 60, 17 * 60)] for d in range(5)}
OPEN_DAY = re.compile(r'<a id="day-([\d-]+)"[^>]*class="day open[^"]*"[^>]*aria-label="([^"]*)">(\d+)</a>', re.S)
CLOSED_DAY = re.compile(r'<span aria-hidden="true">(\d+)</span><span class="visually-hidden">([^<]*)</span>')


def weekday_slots(zone: ZoneInfo, first: date, last: date) -> list[datetime]:
    """Every 30-minute start of a Mon–Fri 09:00–17:00 calendar in `zone` on first..last, from now on."""
    now = utcnow()
    starts = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            nine = datetime.combine(day, time(9), zone).astimezone(UTC)
            starts += [s for s in (nine + timedelta(minutes=30 * n) for n in range(16)) if s >= now]
        day += timedelta(days=1)
    return starts


def hourly_slots(zone: ZoneInfo, day: date) -> list[datetime]:
    """Every hourly start of an all-day calendar in `zone` on `day` (23 or 25 hours on a DST change), from now on."""
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    hours = int((end - start).total_seconds() // 3600)
    return [s for s in (start + timedelta(hours=n) for n in range(hours)) if s >= utcnow()]


def month_after(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def open_days(html: str) -> dict[date, str]:
    """The month grid's open days and their accessible names, checked against the number each cell shows."""
    days = {}
    for iso_day, label, shown in OPEN_DAY.findall(html):
        day = date.fromisoformat(iso_day)
        assert shown == str(day.day)
        # The name starts as the cell reads: weekday, then the same number ("Monday 1 February", never "01").
        assert label.startswith(f"{day:%A} {shown} {day:%B}, "), (label, shown)
        days[day] = label
    for shown, label in CLOSED_DAY.findall(html):
        assert re.fullmatch(rf"[A-Z][a-z]+day {shown} [A-Z][a-z]+, nothing open", label), (label, shown)
    return days


def radio_values(html: str) -> list[str]:
    return re.findall(r'type="radio" name="start" value="([^"]+)"', html)


def previous_month(html: str) -> str | None:
    """The month the "Previous month" link leads to ('2027-12'), or None without one."""
    found = re.search(r'<a href="[^"]*\?month=(\d{4}-\d{2})&tz=[^"]*"[^>]*aria-label="Previous month"', html, re.S)
    return found[1] if found else None


def test_booking_pages_month_slots_navigation_booking_and_reschedule(client, make_calendar, make_link):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB"  # "Monday 1 February", a 24-hour clock
    calendar = make_calendar(name="Weekdays", timezone="America/New_York", weekly=WEEKDAYS_9_TO_5)
    _, token = make_link(calendar=calendar)
    for viewer in (NEW_YORK, LONDON):
        today = utcnow().astimezone(viewer).date()
        ahead = weekday_slots(NEW_YORK, today - timedelta(days=1), today + timedelta(days=9))
        # The first open slot: today's, else the next weekday's (Friday evening and Saturday jump to Monday).
        first = ahead[0]
        first_day = first.astimezone(viewer).date()
        month = first_day.replace(day=1)
        html = client.get(f"/book/{token}?tz={viewer.key}").text
        assert f'<h2 id="month-title">{month:%B %Y}</h2>' in html
        days = open_days(html)
        # Open: the days of that month, from today, with a New York weekday slot still ahead.
        expected = weekday_slots(NEW_YORK, month - timedelta(days=1), month_after(month))
        assert sorted(days) == sorted(
            {s.astimezone(viewer).date() for s in expected if s.astimezone(viewer).date().month == month.month}
        )
        assert min(days) == first_day and 'aria-current="date"' in html
        assert radio_values(html) == [iso(s) for s in expected if s.astimezone(viewer).date() == first_day]

        # Next month (December's is January of the next year), and back.
        following = month_after(month)
        html = client.get(f"/book/{token}?month={following:%Y-%m}&tz={viewer.key}").text
        assert f'<h2 id="month-title">{following:%B %Y}</h2>' in html
        assert len(open_days(html)) >= 20 and all(d.weekday() < 5 for d in open_days(html))
        assert previous_month(html) == f"{month:%Y-%m}"
        assert min(open_days(client.get(f"/book/{token}?month={month:%Y-%m}&tz={viewer.key}").text)) == first_day

        # A chosen day: the open day after the first (perhaps in the next month), with all of its times.
        later_day = next(s.astimezone(viewer).date() for s in ahead if s.astimezone(viewer).date() > first_day)
        fragment = client.get(f"/book/{token}?date={later_day}&tz={viewer.key}", headers={"HX-Request": "true"}).text
        assert radio_values(fragment) == [iso(s) for s in ahead if s.astimezone(viewer).date() == later_day]
        assert (
            f'id="day-{later_day}" href' in fragment
            and f"<h2>{later_day:%A} {later_day.day} {later_day:%B}</h2>" in fragment
        )

    # The very first slot books (it may start this very minute); the confirmation page shows it.
    assert post_booking(client, token, first, name="Ada", timezone="UTC").status_code == 303
    assert db.session.scalars(select(Booking)).one().start_at == first
    # Another link books the next slot, then moves it to the one after.
    _, other = make_link(calendar=calendar)
    response = post_booking(client, other, ahead[1], name="Ada", timezone="UTC")
    assert response.status_code == 303, response.text
    booking = db.session.scalars(select(Booking).where(Booking.start_at == ahead[1])).one()
    manage = client.get(response.location).text
    start, end = ahead[1], ahead[1] + timedelta(minutes=30)
    assert f"{start:%A}, {start.day} {start:%B %Y}" in manage and f"{start:%H:%M}–{end:%H:%M}" in manage
    page = client.get(response.location + "/reschedule?tz=America/New_York").text
    assert f'<h2 id="month-title">{start.astimezone(NEW_YORK):%B %Y}</h2>' in page
    assert iso(start) in radio_values(page) and iso(first) not in radio_values(page)  # its own time, not a taken one
    moved = client.post(response.location + "/reschedule", data={"start": iso(ahead[2]), "timezone": "UTC"})
    assert moved.status_code == 303
    db.session.refresh(booking)
    assert booking.start_at == ahead[2] and booking.rescheduled_at == utcnow()


def test_availability_has_every_real_hour_of_today_and_the_week(client, make_calendar, make_link):
    """All-day calendars in London and New York: 23 hourly slots on a spring-forward day, 25 on a fall-back."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB"  # a 24-hour clock
    for zone in (LONDON, NEW_YORK):
        calendar = make_calendar(name=zone.key, timezone=zone.key, duration=60, weekly=ALL_WEEK)
        today = utcnow().astimezone(zone).date()
        week = [today + timedelta(days=n) for n in range(7)]
        assert [(day, [s.start for s in slots]) for day, slots in services.preview(calendar)] == [
            (day, hourly_slots(zone, day)) for day in week
        ]
        _, token = make_link(calendar=calendar)
        for day in week[:2]:
            html = client.get(f"/book/{token}?date={day}&tz={zone.key}").text
            assert radio_values(html) == [iso(s) for s in hourly_slots(zone, day)]
            labels = re.findall(r'class="slot">(\d\d:\d\d)<', html)
            assert labels == [f"{s.astimezone(zone):%H:%M}" for s in hourly_slots(zone, day)]


def test_waits_for_a_while_until_a_date_and_until_a_day_before_the_booking(
    app, pinned_day, fast_retries, make_calendar, make_contact
):
    calendar = make_calendar(timezone="America/New_York", weekly=ALL_WEEK)
    here = utcnow().astimezone(NEW_YORK)
    # "1 day" is the same wall-clock time tomorrow in New York: 23 or 25 hours across a DST change.
    day_later = datetime.combine(here.date() + timedelta(days=1), here.time(), NEW_YORK).astimezone(UTC)
    # "Until" a London date and time, three days on.
    until = datetime.combine(utcnow().astimezone(LONDON).date() + timedelta(days=3), time(9), LONDON)
    workflow = make_workflow(
        steps=[
            link_step(calendar),
            email_step("e1", "Your link"),
            wait_step("w1", mode="duration", amount=1, unit="days"),
            email_step("e2", "A day later"),
            wait_step("w2", mode="until", at=f"{until:%Y-%m-%dT%H:%M}", timezone="Europe/London"),
            email_step("e3", "On the date"),
            wait_step("w3", mode="before_booking", amount=1, unit="days", link_step="booking_link"),
            email_step("e4", "Your meeting is tomorrow"),
        ]
    )
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert subjects() == ["Your link"] and reload(enrolment).run_at == day_later
    pinned_day.move_to(day_later - timedelta(minutes=1))
    drain(app)
    assert subjects() == ["Your link"]
    pinned_day.move_to(day_later)
    drain(app)
    assert subjects()[-1] == "A day later" and reload(enrolment).run_at == until.astimezone(UTC)

    # A meeting two days after that date, at 10:00 in New York; the reminder goes a wall-clock day before.
    meeting = datetime.combine(until.astimezone(NEW_YORK).date() + timedelta(days=2), time(10), NEW_YORK)
    book_link(issued_link(enrolment), meeting.astimezone(UTC))
    db.session.commit()
    drain(app)
    assert subjects()[-1] == "A day later"
    pinned_day.move_to(until)
    drain(app)
    reminder = datetime.combine(meeting.date() - timedelta(days=1), time(10), NEW_YORK).astimezone(UTC)
    assert subjects()[-1] == "On the date" and reload(enrolment).run_at == reminder
    pinned_day.move_to(reminder)
    drain(app)
    assert subjects()[-1] == "Your meeting is tomorrow" and reload(enrolment).status == "completed"


def test_the_dashboard_counts_links_of_the_last_thirty_days(login, make_calendar, make_contact):
    now = utcnow()
    # The window is whole UTC hours (the counts are kept per hour): it opens on the hour, 30 days ago.
    since = (now - timedelta(days=30)).replace(minute=0, second=0, microsecond=0)
    calendar, contact = make_calendar(), make_contact()
    workflow, _ = workflow_rows("Welcome")
    for created_at in (since - timedelta(seconds=1), since, now):
        add_link(calendar, contact, created_at=created_at, workflow=workflow)
    db.session.commit()
    assert dashboard.build().total.sent == 2  # the one made a second before the window is left out
    html = login.get("/").text
    assert f'<time datetime="{since:%Y-%m-%dT%H:%M:%SZ}" data-local="date"' in html
    assert f"{since:%d %b %Y}</time>" in html
