"""In a real browser: a calendar's links page a page at a time inside its HTMX panel, and the contact box's
suggestions following what is typed."""

import os

from playwright.sync_api import expect

from webapp.extensions import db

SHOTS = os.environ.get("SCREENSHOT_DIR", "/tmp")


def test_the_links_panel_pages_in_place_and_suggests_contacts(admin_page, live_server):
    page = admin_page
    live_server.app.config["PAGE_SIZE"] = 4
    with live_server.app.app_context():
        from webapp.booking import links
        from webapp.calendars import services
        from webapp.contacts.services import create_contact

        calendar = services.create_calendar(
            {"name": "Onboarding", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
        )
        people = [
            create_contact({"first_name": name, "last_name": "Tester", "email": f"{name.lower()}@example.com"})
            for name in ("Ada", "Grace", "Hedy", "Joan", "Katherine", "Margaret", "Radia", "Barbara", "Frances")
        ]
        for person in people:
            links.issue(calendar, person)
        db.session.commit()
        calendar_id = calendar.id
        db.session.remove()

    page.goto(f"{live_server}/links/calendar/{calendar_id}")
    rows = page.locator(".links-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first).to_contain_text("Frances")
    page.evaluate("window.stillHere = true")  # gone if the pager loaded a whole page instead of the panel
    page.get_by_role("link", name="Older →").click()
    expect(rows.first).to_contain_text("Katherine")
    assert page.evaluate("window.stillHere") is True
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ada")
    page.get_by_role("link", name="← Newer").click()
    expect(rows.first).to_contain_text("Katherine")

    box = page.get_by_label("Contact's email")
    box.press_sequentially("marg")
    options = page.locator("#contact-emails option")
    expect(options).to_have_count(1)
    assert options.first.get_attribute("value") == "margaret@example.com"
    page.screenshot(path=f"{SHOTS}/links-panel-paged.png", full_page=True)
