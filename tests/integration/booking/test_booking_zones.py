"""The invitee's zone on the public pages: the one picker (current zones, labelled), what a typed zone
means, and the reschedule page speaking the invitee's zone throughout."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import iso
from webapp.booking.models import Booking, OneTimeLink
from webapp.extensions import db

# A Wednesday in winter (no DST anywhere near) and one in the New York summer.
WINTER = datetime(2027, 1, 13, 8, tzinfo=UTC)
SUMMER = datetime(2027, 7, 14, 8, tzinfo=UTC)


@pytest.fixture
def open_link(make_link, make_calendar, time_machine):
    time_machine.move_to(WINTER, tick=False)
    calendar = make_calendar(name="London call", timezone="Europe/London", weekly={d: [(0, 1440)] for d in range(7)})
    return make_link(calendar=calendar)


def chosen_zone(html: str) -> str:
    return re.search(r'<option value="([^"]+)" selected', html).group(1)


def picker_zone(html: str) -> str:
    return re.search(r'<input type="hidden" name="timezone" value="([^"]+)">', html).group(1)


def test_the_booking_page_offers_current_zones_with_city_country_and_offset(client, open_link):
    _, token = open_link
    page = client.get(f"/book/{token}").text
    assert chosen_zone(page) == "Europe/London"
    assert '<option value="America/New_York" data-abbr="EST EDT">New York — United States (UTC−05:00)</option>' in page
    for junk in ("localtime", "Factory", "Etc/GMT+5", "US/Eastern", "posix/Europe/London", "right/UTC"):
        assert f'value="{junk}"' not in page
    assert "data-zone-picker" in page and "data-detect-zone" in page


@pytest.mark.parametrize("typed", ["New York", "new york", "America/New_York", "US/Eastern", "EST5EDT"])
def test_a_typed_zone_resolves_on_the_booking_page(client, open_link, typed):
    _, token = open_link
    for _ in range(2):  # the live render, then the pre-rendered page
        page = client.get(f"/book/{token}", query_string={"tz": typed}).text
        assert chosen_zone(page) == "America/New_York" and picker_zone(page) == "America/New_York"
        assert page.count(" selected data-abbr") == 1


def test_each_visitor_gets_their_own_zone_from_the_pre_rendered_page(client, open_link):
    _, token = open_link
    for zone in ("Asia/Tokyo", "Europe/Paris", "Asia/Tokyo"):
        page = client.get(f"/book/{token}", query_string={"tz": zone}).text
        assert chosen_zone(page) == zone and picker_zone(page) == zone


@pytest.mark.parametrize("typed", ["Mars/Olympus", "localtime", "<script>"])
def test_a_zone_that_is_none_falls_back_to_the_calendars(client, open_link, typed):
    _, token = open_link
    response = client.get(f"/book/{token}", query_string={"tz": typed})
    assert response.status_code == 200 and picker_zone(response.text) == "Europe/London"
    assert "<script>" not in response.text.split("</head>")[1].replace("<script src", "")


def test_a_booking_posted_with_a_city_keeps_the_zone(client, open_link):
    _, token = open_link
    start = datetime(2027, 1, 14, 15, tzinfo=UTC)
    data = {"start": iso(start), "name": "Ada", "email": "ada@example.com", "timezone": "New York"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    assert db.session.scalars(select(Booking.timezone)).one() == "America/New_York"


@pytest.fixture
def kolkata_booking(client, open_link):
    """Booked at 10:00 UTC on 14 January 2027 by an invitee in India (15:30 IST); returns the manage path."""
    _, token = open_link
    data = {"start": iso(datetime(2027, 1, 14, 10, tzinfo=UTC)), "name": "Ada", "email": "ada@example.com"}
    response = client.post(f"/book/{token}", data={**data, "timezone": "Asia/Kolkata"})
    assert response.status_code == 303
    return response.location


def test_the_reschedule_page_speaks_the_invitees_zone(client, kolkata_booking):
    page = client.get(kolkata_booking + "/reschedule").text
    assert "now on Thursday, January 14, 2027, 3:30 PM" in page  # not 10:00 AM GMT, the calendar's
    assert chosen_zone(page) == "Asia/Kolkata" and picker_zone(page) == "Asia/Kolkata"
    assert "data-zone-chosen" in page  # the browser's zone does not replace the booking's
    assert "data-autosubmit" in page  # a change reloads the whole page, the current time with it


def test_a_zone_picked_on_the_reschedule_page_reads_everywhere_on_it(client, kolkata_booking):
    page = client.get(kolkata_booking + "/reschedule", query_string={"tz": "New York", "date": "2027-01-15"}).text
    assert "now on Thursday, January 14, 2027, 5:00 AM" in page
    assert chosen_zone(page) == "America/New_York" and picker_zone(page) == "America/New_York"
    assert '<label for="slot-1" class="slot">12:00 AM' in page  # the New York day, from its midnight


def test_the_moved_booking_is_confirmed_in_the_zone_it_was_picked_in(client, kolkata_booking):
    data = {"start": iso(datetime(2027, 1, 15, 14, tzinfo=UTC)), "timezone": "Asia/Kolkata"}
    assert client.post(kolkata_booking + "/reschedule", data=data).status_code == 303
    manage = client.get(kolkata_booking).text
    assert "7:30 PM–8:00 PM" in manage and "Kolkata — India" in manage
    data = {"start": iso(datetime(2027, 1, 15, 16, tzinfo=UTC)), "timezone": "Europe/Paris"}
    assert client.post(kolkata_booking + "/reschedule", data=data).status_code == 303
    booking = db.session.scalars(select(Booking)).one()
    db.session.refresh(booking)
    assert booking.timezone == "Europe/Paris"
    manage = client.get(kolkata_booking).text
    assert "5:00 PM–5:30 PM" in manage and "Paris — France" in manage


def test_the_labels_follow_daylight_saving(client, make_link, make_calendar, time_machine):
    time_machine.move_to(SUMMER, tick=False)
    _, token = make_link()
    page = client.get(f"/book/{token}").text
    assert "New York — United States (UTC−04:00)" in page and "London — United Kingdom (UTC+01:00)" in page


def test_an_invitee_page_keeps_its_own_zone_for_a_signed_in_admin(login, admin, make_link):
    admin.timezone = "America/Los_Angeles"
    db.session.commit()
    expired = datetime.now(UTC) + timedelta(seconds=1)
    _, token = make_link(expires_at=expired)
    page = login.get(f"/book/{token}").text  # still open: the zone note of admin pages is not there
    assert "Times in Los Angeles" not in page and "data-zone-picker" in page
    link = db.session.scalars(select(OneTimeLink)).one()
    link.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    db.session.commit()
    gone = login.get(f"/book/{token}")
    assert gone.status_code == 410
    assert "valid until" in gone.text and "Los Angeles" not in gone.text  # the calendar's zone, not the admin's
    assert "data-zone=" not in gone.text
