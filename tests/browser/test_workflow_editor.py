"""In a real browser: the seed article's 7 steps from an empty database, the contact books with the
emailed link once; and the steps reordered and deleted with the keyboard alone."""

import re

from playwright.sync_api import expect

from tests.browser.helpers import pick_open_day, tab_to
from webapp import worker
from webapp.extensions import db


def test_seven_steps_then_the_contact_books_once(admin_page, browser, live_server, smtp_server):
    """Issue 7 A: the seed article as one story from an empty database, everything through the browser
    but the worker (a loop `make run` runs in a thread, drained here)."""
    page = admin_page
    smtp_server.configure(live_server.app)  # the worker sends for real, to aiosmtpd

    # 0. A calendar (open around the clock, so any day has slots) and a contact, made in the browser.
    page.get_by_role("button", name="Create your first calendar").click()
    page.get_by_label("Name", exact=True).fill("Onboarding")
    page.get_by_label("Time zone").fill("UTC")
    page.get_by_label("Meeting duration (minutes)").fill("30")
    page.get_by_role("button", name="Create calendar").click()
    expect(page.get_by_text("Calendar “Onboarding” created.")).to_be_visible()
    page.get_by_role("link", name="Contacts").click()
    page.get_by_role("button", name="New contact").first.click()
    page.get_by_label("First name").fill("Grace")
    page.get_by_label("Last name").fill("Hopper")
    page.get_by_label("Email").fill("grace@example.com")
    page.get_by_role("button", name="Add contact").click()
    expect(page.get_by_role("heading", name="Grace Hopper")).to_be_visible()
    contact_page = page.url

    # 1. Create a workflow and define its trigger.
    page.get_by_role("link", name="Workflows").click()
    page.get_by_role("button", name="Create your first workflow").click()
    page.get_by_label("Name").fill("Book-me links")
    page.get_by_role("button", name="Create and open the editor").click()
    page.wait_for_url(re.compile(r"/workflows/\d+$"))
    page.wait_for_load_state()  # htmx is set up
    page.get_by_label("What enrols contacts").select_option(label="Tag added")
    page.get_by_role("combobox", name=re.compile(r"^Tag ")).fill("book-me")
    trigger = page.locator("#trigger")
    expect(trigger).to_have_class("card trigger-card is-dirty")  # unsaved edits are marked
    trigger.get_by_role("button", name="Save trigger").click()
    expect(trigger.locator(".badge-saved")).to_be_visible()

    # 2. Add the action from Appointments, through the searchable picker.
    page.get_by_label("Add a step here (position 1)").click()
    page.get_by_placeholder("Search actions").first.fill("one-time")
    expect(page.get_by_role("button", name="Send Email").first).to_be_hidden()
    page.get_by_role("button", name="Generate One-Time Booking Link").first.click()
    link_card = page.locator(".step-card").first
    expect(link_card.get_by_role("heading")).to_have_text("Generate One-Time Booking Link")
    expect(link_card.get_by_label("Calendar")).to_be_focused()

    # 3. Choose the calendar.
    link_card.get_by_label("Calendar").select_option(label="Onboarding")
    link_card.get_by_role("button", name="Save step").click()
    expect(link_card.locator(".badge-saved")).to_be_visible()

    # 4. Add Send Email after it.
    page.get_by_label("Add a step here (position 2)").click()
    page.locator(".picker-panel:visible").get_by_role("button", name="Send Email").click()
    email_card = page.locator(".step-card").nth(1)
    expect(email_card.get_by_role("heading")).to_have_text("Send Email")
    # The new step's first field has the focus.
    expect(email_card.get_by_role("textbox", name=re.compile(r"^To "))).to_be_focused()

    # 5 and 6. Write the email and insert the link with the custom-value picker.
    email_card.get_by_label("Subject").fill("Your booking link")
    body = email_card.get_by_label("Message")
    body.fill("Hi, pick a time: \n\nSee you soon.")
    body.evaluate("el => el.setSelectionRange(17, 17)")
    email_card.get_by_text("Custom values", exact=True).click()
    email_card.get_by_role("button", name="One-Time Link").click()
    expect(body).to_have_value("Hi, pick a time: {{ steps.booking_link.url }}\n\nSee you soon.")
    email_card.get_by_role("button", name="Save step").click()
    expect(email_card.locator(".badge-saved")).to_be_visible()

    # 7. Publish.
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Published version 1.")).to_be_visible()
    expect(page.locator("#wf-head .badge-published")).to_be_visible()

    # 8. Tag the contact on its page: the worker generates the link and sends the email.
    page.goto(contact_page)
    page.get_by_label("Add tags").fill("book-me")
    page.locator("#tags").get_by_role("button", name="Add").click()
    expect(page.locator("#tags").get_by_role("link", name="book-me")).to_be_visible()
    worker.drain(live_server.app)
    # The link comes from the message aiosmtpd actually received, not from the outbox.
    [sent] = smtp_server.messages
    assert sent["Subject"] == "Your booking link" and sent["To"].endswith("<grace@example.com>")
    text = sent.get_body(("plain",)).get_content()
    [url] = [word for word in text.split() if "/book/" in word]
    url = url.replace("http://127.0.0.1:5000", live_server)

    # 9. Open the link from the mail, pick a day (the second open one, next month's on a month's last day)
    # and a time, book.
    invitee = browser.new_page(timezone_id="UTC")
    invitee.goto(url)
    pick_open_day(invitee)
    invitee.locator(".slot-list label.slot").first.click()
    invitee.get_by_role("button", name="Confirm booking").click()
    expect(invitee.get_by_role("heading", name="You're booked")).to_be_visible()
    stranger = browser.new_page(timezone_id="UTC")  # the invitee's own browser would go back to the booking
    stranger.goto(url)
    expect(stranger.get_by_role("heading", name="This link has already been used")).to_be_visible()


def titles(page):
    return page.locator(".step-card h2").all_text_contents()


def test_reorder_and_delete_steps_with_the_keyboard(admin_page, live_server):
    page = admin_page
    with live_server.app.app_context():
        from webapp.workflows import services

        workflow = services.create_workflow("Keyboard", "manual")
        workflow.steps = [services.new_step("generate_link", "booking_link"), services.new_step("send_email")]
        db.session.commit()
        workflow_id = workflow.id
        db.session.remove()
    page.goto(f"{live_server}/workflows/{workflow_id}")
    expect(page.locator(".step-card h2")).to_have_text(["Generate One-Time Booking Link", "Send Email"])

    tab_to(page, "Move step 1 down")
    page.keyboard.press("Enter")
    expect(page.locator(".step-card h2")).to_have_text(["Send Email", "Generate One-Time Booking Link"])
    # The keyboard stays on the moved card (its "up" button: it is now last).
    expect(page.get_by_label("Move step 2 up")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".step-card h2")).to_have_text(["Generate One-Time Booking Link", "Send Email"])
    expect(page.get_by_label("Move step 1 down")).to_be_focused()

    tab_to(page, "Delete step 2")
    page.keyboard.press("Enter")
    confirm = page.get_by_role("button", name="Yes, delete step 2")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".step-card h2")).to_have_text(["Generate One-Time Booking Link"])
    with live_server.app.app_context():
        from webapp.workflows.models import Workflow

        assert [s["type"] for s in db.session.get(Workflow, workflow_id).steps] == ["generate_link"]
        db.session.remove()
