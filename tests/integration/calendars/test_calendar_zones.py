"""The calendar form's time zone: the one picker, a typed city or an old alias saved as the current zone."""

import pytest
from sqlalchemy import select

from tests.helpers import calendar_form
from webapp.calendars.models import Calendar
from webapp.extensions import db


@pytest.mark.parametrize(
    "typed", ["America/New_York", "New York", "new york", "New York — United States (UTC−05:00)", "US/Eastern"]
)
def test_a_typed_city_label_or_alias_is_saved_as_the_zone(login, typed):
    response = login.post("/calendars/new", data=calendar_form(timezone=typed))
    assert response.status_code == 303
    assert db.session.scalars(select(Calendar.timezone)).one() == "America/New_York"


@pytest.mark.parametrize("typed", ["", "Mars/Olympus_Mons", "localtime", "Factory", "Etc/GMT+5"])
def test_what_is_no_zone_is_refused_and_nothing_saved(login, typed):
    response = login.post("/calendars/new", data=calendar_form(timezone=typed))
    assert response.status_code == 422
    assert "Choose a time zone." in response.text if not typed else "is not a time zone we know" in response.text
    assert db.session.scalars(select(Calendar)).all() == []


def test_a_legacy_alias_shows_as_its_zone_and_is_saved_as_it(login, make_calendar):
    calendar = make_calendar(timezone="US/Pacific")
    page = login.get(f"/calendars/{calendar.id}").text
    assert '<option value="America/Los_Angeles" selected' in page
    assert "Times in Los Angeles — United States, the calendar’s zone" in page
    response = login.post(
        f"/calendars/{calendar.id}", data=calendar_form(slug=calendar.slug, timezone="America/Los_Angeles")
    )
    assert response.status_code in (200, 303)
    db.session.refresh(calendar)
    assert calendar.timezone == "America/Los_Angeles"


def test_a_calendars_bare_offset_zone_still_shows_until_changed(login, make_calendar):
    calendar = make_calendar(timezone="Etc/GMT+5")
    page = login.get(f"/calendars/{calendar.id}").text
    assert '<option value="Etc/GMT+5" selected>Etc/GMT+5 (UTC−05:00)</option>' in page
