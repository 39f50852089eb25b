"""In a real browser: the booking page of a single-host calendar shows whom the meeting is with, by name
and photo. The photo's route belongs to the hosts' admin pages (another part of the work); until it
is here, the browser is given the photo at that URL by page.route (the one stand-in of this test)."""

import struct
import zlib

from playwright.sync_api import expect

from tests.browser.helpers import issue_link, shot
from webapp.extensions import db


def png(size: int = 96) -> bytes:
    """A small real PNG: a teal square with a lighter disc (what an uploaded photo is served as)."""
    rows = b""
    for y in range(size):
        row = b"\x00"
        for x in range(size):
            inside = (x - size / 2) ** 2 + (y - size / 2.6) ** 2 < (size / 4) ** 2
            row += bytes((180, 220, 215) if inside else (20, 110, 105))
        rows += row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_single_host_calendar_shows_name_and_photo(browser, live_server, new_york_calendar):
    from webapp.calendars import services
    from webapp.calendars.models import Calendar
    from webapp.hosts.services import create_host

    with live_server.app.app_context():
        host = create_host("Sam Rivera", "sam@example.com", "America/New_York")
        host.photo_version = 2
        services.set_hosts(db.session.get(Calendar, new_york_calendar), [host.id], assignment="single")
        db.session.commit()
        host_id = host.id
        db.session.remove()
    url = issue_link(live_server, new_york_calendar)

    page = browser.new_page(locale="en-US", viewport={"width": 900, "height": 900})
    served = []

    def photo(route):
        served.append(route.request.url)
        route.fulfill(status=200, content_type="image/png", body=png())

    page.route(f"**/hosts/{host_id}/photo/2", photo)
    page.goto(url)
    hosts = page.get_by_test_id("hosts")
    expect(hosts).to_contain_text("With Sam Rivera")
    image = hosts.locator("img.host-photo")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert served == [f"{live_server}/hosts/{host_id}/photo/2"]
    box = image.bounding_box()
    assert box and round(box["width"]) == round(box["height"]) >= 40  # a square (round) face, not squashed
    shot(page, "booking-page-single-host")

    # Another look, without a photo: the initials in a circle.
    with live_server.app.app_context():
        from webapp.hosts.models import Host

        db.session.get(Host, host_id).photo_version = 0
        db.session.commit()
        db.session.remove()
    page.reload()
    expect(page.get_by_test_id("hosts").locator(".host-initials")).to_have_text("SR")
    shot(page, "booking-page-single-host-initials")


def test_feed_section_creates_replaces_and_turns_off(admin_page, live_server):
    from urllib.request import urlopen

    from webapp.hosts.models import Host

    with live_server.app.app_context():
        host_id = db.session.scalar(db.select(Host.id).where(Host.email_key == "admin@example.com"))
        db.session.remove()
    page = admin_page
    page.goto(f"{live_server}/hosts/{host_id}/feed")
    page.get_by_role("button", name="Create feed link").click()
    address = page.get_by_label("Feed address")
    expect(address).to_be_visible()
    first = address.input_value()
    assert first.endswith(".ics") and "/feeds/hosts/" in first
    local = live_server + "/feeds/" + first.split("/feeds/", 1)[1]
    with urlopen(local) as response:  # the live server on loopback
        assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    shot(page, "host-feed-created")

    page.get_by_role("button", name="Replace link").click()
    expect(page.get_by_label("Feed address")).not_to_have_value(first)
    page.get_by_role("button", name="Turn off").click()
    expect(page.get_by_text("The feed is off; its link no longer works.")).to_be_visible()
    expect(page.get_by_role("button", name="Create feed link")).to_be_visible()
    shot(page, "host-feed-off")
