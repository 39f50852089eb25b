"""An admin's own time zone: proposed from the browser at sign-in, changed in Settings, and every admin
page showing times in it and saying which."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.auth.models import User
from webapp.booking.models import Booking
from webapp.extensions import db


def admin_zone() -> str | None:
    return db.session.scalars(select(User.timezone)).one()


def sign_in(client, admin, **fields):
    return client.post("/login", data={"email": admin.email, "password": PASSWORD, **fields})


def test_a_new_admin_has_no_zone_and_pages_say_utc(login):
    assert admin_zone() is None
    page = login.get("/bookings/").text
    assert "Times are shown in UTC: you have not chosen a time zone." in page
    assert 'href="/settings#timezone"' in page and "data-browser-zone" in page


def test_the_browsers_zone_is_saved_at_first_sign_in_with_a_notice(client, admin):
    response = sign_in(client, admin, timezone="Europe/Paris")
    assert response.status_code == 303 and admin_zone() == "Europe/Paris"
    page = client.get(response.location).text
    assert "Times are shown in Paris — France (UTC+0" in page and "Change it in Settings" in page
    assert "Times in Paris — France" in client.get("/bookings/").text


def test_an_older_browser_name_is_saved_as_the_current_zone(client, admin):
    sign_in(client, admin, timezone="Asia/Calcutta")  # what Chromium still reports for India
    assert admin_zone() == "Asia/Kolkata"


@pytest.mark.parametrize("browser_zone", ["", "Mars/Olympus", "Factory", "Etc/GMT+5"])
def test_a_browser_zone_we_do_not_know_leaves_utc(client, admin, browser_zone):
    assert sign_in(client, admin, timezone=browser_zone).status_code == 303
    assert admin_zone() is None


def test_a_chosen_zone_is_not_replaced_at_the_next_sign_in(client, admin):
    admin.timezone = "America/Los_Angeles"
    db.session.commit()
    sign_in(client, admin, timezone="Europe/Paris")
    assert admin_zone() == "America/Los_Angeles"


@pytest.mark.parametrize(
    "typed", ["America/New_York", "New York", "New York — United States (UTC−05:00)", "US/Eastern"]
)
def test_settings_take_the_picker_value_a_city_or_an_alias(login, typed):
    response = login.post("/settings/timezone", data={"timezone": typed})
    assert response.status_code == 303 and admin_zone() == "America/New_York"
    page = login.get(response.location).text
    assert "Times are shown in New York — United States" in page
    assert '<option value="America/New_York" selected' in page


@pytest.mark.parametrize("typed", ["", "Mars/Olympus", "localtime"])
def test_a_bad_zone_in_settings_says_so_and_changes_nothing(login, admin, typed):
    admin.timezone = "Europe/Berlin"
    db.session.commit()
    response = login.post("/settings/timezone", data={"timezone": typed})
    assert response.status_code == 422
    assert ("is not a time zone we know" if typed else "Choose a time zone.") in response.text
    assert admin_zone() == "Europe/Berlin"


def test_the_banner_saves_the_browsers_zone_and_returns_to_the_page(login):
    response = login.post(
        "/settings/timezone", data={"timezone": "Asia/Tokyo", "proposed": "1", "next": "/contacts/?q=ada"}
    )
    assert response.status_code == 303 and response.location == "/contacts/?q=ada"
    assert admin_zone() == "Asia/Tokyo"


def test_the_banner_never_sends_the_admin_elsewhere(login):
    response = login.post(
        "/settings/timezone", data={"timezone": "Asia/Tokyo", "proposed": "1", "next": "https://evil.example/"}
    )
    assert response.location == "/"


def test_a_refused_banner_zone_says_utc_and_changes_nothing(login):
    response = login.post("/settings/timezone", data={"timezone": "Mars/Olympus", "proposed": "1", "next": "/mail/"})
    assert response.status_code == 303 and response.location == "/mail/" and admin_zone() is None
    assert "Times are shown in UTC" in login.get("/mail/").text


@pytest.fixture
def london_bookings(make_calendar):
    """A London calendar's two bookings at 09:00 London time: before the US clocks go forward
    (14 March 2027) and after it, before the UK's (28 March 2027)."""
    calendar = make_calendar(name="London call", timezone="Europe/London")
    starts = [datetime(2027, 3, 10, 9, tzinfo=UTC), datetime(2027, 3, 20, 9, tzinfo=UTC)]
    for start in starts:
        db.session.add(
            Booking(
                calendar_id=calendar.id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                name="Ada",
                email="ada@example.com",
                timezone="Europe/London",
            )
        )
    db.session.commit()
    return starts


def test_an_admin_in_los_angeles_sees_a_london_calendars_bookings_in_pacific_time(
    client, admin, london_bookings, time_machine
):
    time_machine.move_to(datetime(2027, 3, 1, 12, tzinfo=UTC))
    admin.timezone = "America/Los_Angeles"
    db.session.commit()
    sign_in(client, admin)
    page = client.get("/bookings/").text
    assert "Times in Los Angeles — United States (UTC−08:00)" in page
    assert ">Wed 10 Mar 2027, 01:00 PST</time>" in page  # 09:00 GMT, before the US change
    assert ">Sat 20 Mar 2027, 02:00 PDT</time>" in page  # 09:00 GMT, after it: 7 hours apart
    assert "09:00 UTC</time>" not in page  # (the hover title still gives UTC)


def test_the_same_bookings_for_an_admin_in_utc(client, admin, london_bookings, time_machine):
    time_machine.move_to(datetime(2027, 3, 1, 12, tzinfo=UTC))
    sign_in(client, admin)
    page = client.get("/bookings/").text
    assert ">Wed 10 Mar 2027, 09:00 UTC</time>" in page and ">Sat 20 Mar 2027, 09:00 UTC</time>" in page
