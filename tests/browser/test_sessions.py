"""Settings in a real browser: where you're signed in, sign out everywhere else, and disabling an admin."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.conftest import PASSWORD


@pytest.fixture
def browser_context_args(browser_context_args):
    """axe is injected into the settings page (the CSP refuses injected scripts)."""
    return {**browser_context_args, "bypass_csp": True}


def sign_in_elsewhere(browser, live_server, email="admin@example.com", password=PASSWORD):
    """A second browser (its own cookies) signed in."""
    page = browser.new_context().new_page()
    page.goto(f"{live_server}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    return page


def is_signed_out(page, live_server) -> bool:
    page.goto(f"{live_server}/calendars/")
    return page.url.startswith(f"{live_server}/login")


def test_sign_out_everywhere_else_from_settings(admin_page, browser, live_server):
    page = admin_page
    other = sign_in_elsewhere(browser, live_server)
    page.goto(f"{live_server}/settings")
    signed_in = page.get_by_role("article").filter(has=page.get_by_role("heading", name="Where you're signed in"))
    expect(signed_in.get_by_role("row")).to_have_count(3)  # the header and two browsers
    expect(signed_in.get_by_text("(this browser)")).to_be_visible()
    assert_accessible(page)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Sign out everywhere else").click()
    expect(page.get_by_text("You are signed out everywhere else.")).to_be_visible()
    expect(signed_in.get_by_role("row")).to_have_count(2)
    assert is_signed_out(other, live_server)
    assert not is_signed_out(page, live_server)


def test_disable_another_admin_after_confirming(admin_page, browser, live_server):
    from webapp.auth.services import create_admin
    from webapp.extensions import db

    with live_server.app.app_context():
        create_admin("grace@example.com", "another good one")
        db.session.remove()
    grace = sign_in_elsewhere(browser, live_server, "grace@example.com", "another good one")
    page = admin_page
    page.goto(f"{live_server}/settings")
    page.get_by_role("row", name=re.compile("grace@example.com")).get_by_role("button", name="Disable…").click()
    expect(page.get_by_role("heading", name="Disable grace@example.com?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Disable grace@example.com").click()
    expect(page.get_by_text("grace@example.com is disabled and signed out.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("grace@example.com"))).to_contain_text("disabled")
    assert is_signed_out(grace, live_server)
