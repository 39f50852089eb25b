"""In a real browser: a workflow from a template, its export downloaded, a bad file uploaded and its
problems listed, the good file imported (with CSRF on, as users run it)."""

import json

from tests.browser.helpers import shot
from webapp.calendars import services as calendars
from webapp.extensions import db


def test_template_export_and_import_in_the_browser(admin_page, tmp_path):
    page, base = admin_page, admin_page.base_url
    with base.app.app_context():
        calendars.create_calendar({"name": "Sales call", "slug": "sales-call", "timezone": "UTC", "duration": 30})
        # Two calendars: with only one, the template would take it without asking.
        calendars.create_calendar({"name": "Onboarding", "slug": "onboarding", "timezone": "UTC", "duration": 30})
        db.session.remove()
    page.goto(f"{base}/workflows/")
    page.get_by_role("button", name="From a template", exact=True).click()
    card = page.locator("#template-1-send-a-booking-link")
    card.get_by_role("button", name="Use this template").click()
    assert card.get_by_text("Choose the calendar the links book on.").is_visible()  # 422, nothing created
    shot(page, "templates-error")
    card = page.locator("#template-1-send-a-booking-link")
    card.get_by_label("Calendar").select_option(label="Sales call")
    card.get_by_role("button", name="Use this template").click()
    page.wait_for_url(f"{base}/workflows/*")
    assert page.get_by_text("Created “Send a one-time booking link” from the template").is_visible()

    page.get_by_role("button", name="More").click()
    with page.expect_download() as info:
        page.get_by_role("link", name="Export (.json)").click()
    download = info.value
    assert download.suggested_filename == "send-a-one-time-booking-link.workflow.json"
    good = tmp_path / download.suggested_filename
    download.save_as(good)
    data = json.loads(good.read_text())
    assert data["steps"][0]["config"]["calendar"] == "sales-call"

    data["steps"][0]["config"]["calendar"] = "support-call"
    data["steps"][1]["config"]["subject"] = ""
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(data))
    page.goto(f"{base}/workflows/")
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_label("Workflow file (.json)").set_input_files(str(bad))
    page.get_by_role("button", name="Import as a draft").click()
    alert = page.get_by_role("alert")
    assert "broken.json was not imported: 2 problems to fix" in alert.inner_text()
    assert "Step 1 (Generate One-Time Booking Link): calendar “support-call” does not exist." in alert.inner_text()
    shot(page, "import-errors")

    page.get_by_label("Workflow file (.json)").set_input_files(str(good))
    page.get_by_role("button", name="Import as a draft").click()
    page.wait_for_url(f"{base}/workflows/*")
    assert page.get_by_text(f"from {good.name} as a draft").is_visible()
    page.goto(f"{base}/workflows/")
    assert page.get_by_role("link", name="Send a one-time booking link").count() == 2
    shot(page, "list")
    page.goto(f"{base}/workflows/templates")
    shot(page, "templates")
