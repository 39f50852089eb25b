"""In a real browser: add a host, upload their photo, make a round-robin calendar of two hosts."""

import re

from PIL import Image
from playwright.sync_api import expect


def test_add_host_upload_photo_then_round_robin_calendar(admin_page, tmp_path):
    page = admin_page
    photo = tmp_path / "sam.png"
    image = Image.new("RGB", (640, 480), (30, 60, 220))
    image.paste((240, 180, 40), (200, 120, 440, 360))
    image.save(photo)

    page.get_by_role("banner").get_by_role("link", name="Hosts").click()
    expect(page.get_by_role("heading", name="Hosts")).to_be_visible()
    expect(page.locator(".hosts-table")).to_contain_text("you")
    page.get_by_role("button", name="Add host").click()
    page.get_by_label("Name", exact=True).fill("Sam Rivera")
    page.get_by_label("Email").fill("not an email")
    page.get_by_role("button", name="Add host").click()
    expect(page.get_by_text("Enter an email like sam@example.com.")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("Sam Rivera")  # kept
    page.get_by_label("Email").fill("sam@example.com")
    page.get_by_role("button", name="Add host").click()
    expect(page.get_by_text("Host “Sam Rivera” added.")).to_be_visible()
    expect(page.locator(".host-head .avatar-initials")).to_have_text("SR")

    page.get_by_label("Upload a photo").set_input_files(str(photo))
    page.get_by_role("button", name="Upload photo").click()
    expect(page.get_by_text("Photo saved.")).to_be_visible()
    avatar = page.locator(".host-head img.avatar")
    expect(avatar).to_have_attribute("src", re.compile(r"/hosts/\d+/photo/1$"))
    assert avatar.evaluate("img => img.complete && img.naturalWidth") == 256
    page.screenshot(path=str(tmp_path / "host-page.png"), full_page=True)

    page.get_by_role("banner").get_by_role("link", name="Hosts").click()
    expect(page.locator(".hosts-table img.avatar")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "hosts-list.png"))

    page.get_by_role("banner").get_by_role("link", name="Calendars").click()
    page.get_by_role("button", name="Create your first calendar").click()
    page.get_by_label("Name", exact=True).fill("Team intro")
    hosts = page.locator("#hosts")
    hosts.get_by_label("Round robin: one available host per booking").check()
    hosts.get_by_role("checkbox", name=re.compile("Sam Rivera")).check()
    expect(hosts.locator("li").first).to_contain_text("Sam Rivera")  # by name: "S" sorts before "a"
    hosts.get_by_role("button", name="Move Sam Rivera down").click()  # HTMX re-renders the form, ticks kept
    expect(hosts.locator("li").last).to_contain_text("Sam Rivera")
    expect(hosts.get_by_role("checkbox", name=re.compile("Sam Rivera"))).to_be_checked()
    expect(hosts.get_by_label("Round robin: one available host per booking")).to_be_checked()
    hosts.get_by_label("Round-robin priority of Sam Rivera").select_option("1")
    page.screenshot(path=str(tmp_path / "calendar-hosts.png"), full_page=True)
    page.get_by_role("button", name="Create calendar").click()
    expect(page.get_by_text("Calendar “Team intro” created.")).to_be_visible()
    expect(page.locator("#hosts li").last).to_contain_text("Sam Rivera")
    expect(page.locator("#hosts input[name=host_ids]:checked")).to_have_count(2)

    page.get_by_role("banner").get_by_role("link", name="Calendars").click()
    row = page.get_by_role("row", name=re.compile("Team intro"))
    expect(row).to_contain_text("Sam Rivera")
    expect(row).to_contain_text("Round robin")
    page.screenshot(path=str(tmp_path / "calendars-list.png"))
