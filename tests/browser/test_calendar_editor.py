"""In a real browser: create a calendar, edit its availability inline with HTMX, watch the preview change."""

from datetime import UTC, datetime

import pytest
import time_machine
from playwright.sync_api import expect


@pytest.fixture
def five_past_nine():
    """A Wednesday at 09:05 UTC, ticking from there (the live server runs in this process, so it travels
    too): the preview's counts are compared across steps, and no slot starts or passes its notice for
    55 minutes, however slowly a loaded machine runs the test."""
    with time_machine.travel(datetime(2027, 3, 10, 9, 5, tzinfo=UTC), tick=True):
        yield


# Riyadh keeps UTC+3 all year: at 09:05 UTC it is 12:05 there, so today's slots are never all in the past.
NOON_ZONE = "Asia/Riyadh"


def test_create_calendar_then_edit_rows_inline_and_see_preview_change(five_past_nine, admin_page):
    page = admin_page
    page.get_by_role("button", name="Create your first calendar").click()
    page.get_by_label("Name", exact=True).fill("Discovery call")
    page.get_by_role("searchbox", name="Search zones by city, country or abbreviation").fill(
        "riyadh"
    )  # the picker's search box
    expect(page.get_by_label("Time zone")).to_have_value(NOON_ZONE)
    page.get_by_label("Meeting duration (minutes)").fill("60")
    page.get_by_role("button", name="Create calendar").click()
    expect(page.get_by_text("Calendar “Discovery call” created.")).to_be_visible()

    preview = page.locator("#preview")
    chips = preview.locator(".slot-chips li")
    expect(preview).to_contain_text("Open slots, next 7 days")
    before = chips.count()

    # Add Saturday hours inline: the row appears without a page load.
    page.evaluate("window.__marker = 'same page'")
    saturday = page.locator("#day-sat")
    expect(saturday).to_contain_text("Unavailable")
    saturday.get_by_role("button", name="Add hours on Saturday").click()
    expect(saturday.locator(".range-row")).to_have_count(1)
    saturday.get_by_label("Saturday from").fill("00:00")
    saturday.get_by_label("Saturday until").fill("00:00")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Changes saved. The preview is updated.")).to_be_visible()
    expect(chips).not_to_have_count(before)
    after_add = chips.count()
    assert after_add > before

    # Remove it again: the preview goes back to what it was.
    page.locator("#day-sat").get_by_role("button", name="Remove Saturday 00:00–00:00").click()
    expect(page.locator("#day-sat .range-row")).to_have_count(0)
    page.get_by_role("button", name="Save changes").click()
    expect(chips).to_have_count(before)
    assert page.evaluate("window.__marker") == "same page"

    # Overlapping hours are refused beside the day, and nothing is lost.
    monday = page.locator("#day-mon")
    monday.get_by_role("button", name="Add hours on Monday").click()
    expect(monday.locator(".range-row")).to_have_count(2)
    monday.get_by_label("Monday from").nth(1).fill("16:00")
    monday.get_by_label("Monday until").nth(1).fill("18:00")
    page.get_by_role("button", name="Save changes").click()
    expect(monday.locator(".field-error")).to_contain_text("overlaps")
    expect(monday.get_by_label("Monday from").nth(1)).to_have_value("16:00")
