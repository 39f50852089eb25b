"""In a real browser in Paris: the admin's zone comes from the browser at sign-in (or one click on the
banner), and the zone picker finds a zone by city, country or abbreviation."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.extensions import db


@pytest.fixture
def browser_context_args(browser_context_args):
    return {**browser_context_args, "timezone_id": "Europe/Paris", "locale": "en-GB"}


def admin_zone(live_server):
    from webapp.auth.models import User

    with live_server.app.app_context():
        zone = db.session.scalars(select(User.timezone)).one()
        db.session.remove()
    return zone


def test_signing_in_from_paris_gives_the_admin_the_paris_zone(page, live_server):
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    expect(page.locator(".flash")).to_contain_text("Times are shown in Paris — France (UTC+0")
    expect(page.locator(".flash").get_by_role("link", name="Change it in Settings")).to_be_visible()
    expect(page.get_by_test_id("zone-note")).to_contain_text("Times in Paris — France")
    assert admin_zone(live_server) == "Europe/Paris"


def test_an_admin_without_a_zone_takes_the_browsers_in_one_click(admin_page, live_server):
    page = admin_page
    from webapp.auth.models import User

    with live_server.app.app_context():  # signed in before, from a browser whose zone was not read
        db.session.execute(db.update(User).values(timezone=None))
        db.session.commit()
        db.session.remove()
    page.goto(f"{live_server}/contacts/")
    note = page.get_by_test_id("zone-note")
    expect(note).to_contain_text("Times are shown in UTC")
    note.get_by_role("button", name="Use Europe/Paris").click()
    page.wait_for_url(f"{live_server}/contacts/")
    expect(page.get_by_test_id("zone-note")).to_contain_text("Times in Paris — France")
    assert admin_zone(live_server) == "Europe/Paris"


@pytest.mark.parametrize(
    ("query", "zone"),
    [("New York", "America/New_York"), ("germany", "Europe/Berlin"), ("EST", None), ("kolkata", "Asia/Kolkata")],
)
def test_the_zone_picker_searches_by_city_country_and_abbreviation(admin_page, live_server, query, zone):
    page = admin_page
    page.goto(f"{live_server}/calendars/new")
    search = page.get_by_role("searchbox", name="Search zones by city, country or abbreviation")
    search.fill(query)
    select = page.locator("select[data-zone-picker]")
    visible = select.locator("option:not([hidden])")
    if zone:
        expect(select).to_have_value(zone)
    else:  # EST: the zones that use that abbreviation, not the cities whose names hold the letters
        texts = visible.all_inner_texts()
        assert any(text.startswith("New York — United States") for text in texts), texts
        assert not any(text.startswith(("Budapest", "Bucharest", "Tallinn")) for text in texts), texts
        abbreviations = [visible.nth(i).get_attribute("data-abbr") for i in range(visible.count())]
        assert all("EST" in value.split() for value in abbreviations), abbreviations
    assert visible.count() < 60
    search.fill("")
    assert visible.count() > 300
