"""Branding in Chromium: the admin sets a name, an accent and a logo on Settings → Branding; the
booking page then shows them (the logo loaded from its public URL, the accent through the theme
stylesheet under the CSP, readable text on it) with no accessibility finding. With SCREENSHOTS_DIR
set, both pages are saved to look at."""

import io

from PIL import Image
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.helpers import shot


def logo_png() -> bytes:
    image = Image.new("RGB", (640, 160), (255, 255, 255))
    for x in range(40, 200):
        for y in range(30, 130):
            image.putpixel((x, y), (230, 120, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_a_branded_booking_page(admin_page, link_url, tmp_path, browser):
    page = admin_page
    logo = tmp_path / "logo.png"
    logo.write_bytes(logo_png())
    page.goto(f"{page.base_url}/settings/branding")
    page.get_by_label("Business name").fill("Acme <Studio> & Co")
    page.get_by_label("Accent colour").fill("#e67800")
    page.get_by_label("Sender name").fill("Acme Bookings")
    page.get_by_label("Sender address").fill("bookings@acme.example.com")
    page.get_by_role("button", name="Save branding").click()
    expect(page.get_by_text("Branding saved.")).to_be_visible()
    expect(page.locator("#from-line")).to_contain_text("Acme Bookings <bookings@acme.example.com>")
    page.locator("input[type=file]").set_input_files(str(logo))
    page.get_by_role("button", name="Upload logo").click()
    expect(page.get_by_text("Logo saved.")).to_be_visible()
    expect(page.get_by_role("img", name="Your logo")).to_be_visible()
    shot(page, "branding-settings")
    settings_url = page.url

    page.goto(link_url)
    header = page.locator(".public-brand")
    expect(header).to_contain_text("Acme <Studio> & Co")  # the name as text, never markup
    image = header.locator("img")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.complete && img.naturalWidth") == 400  # served and decoded
    accent = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--pico-primary-background')")
    assert accent.strip() == "#e67800"
    # Text on the accent: black reads better than white on this orange (WCAG contrast).
    ink = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--pico-primary-inverse')")
    assert ink.strip() == "#000000"
    bar = page.locator(".public-top").evaluate("el => getComputedStyle(el).backgroundColor")
    assert bar == "rgb(230, 120, 0)"
    shot(page, "branding-booking-page")

    # axe is injected as a script, which the CSP refuses: another browser, without it, checks both pages.
    checker = browser.new_context(bypass_csp=True, storage_state=page.context.storage_state())
    try:
        other = checker.new_page()
        for url in (settings_url, link_url):
            other.goto(url)
            assert_accessible(other)
    finally:
        checker.close()
