"""In a real browser: "Test with a contact" starts a test run from the editor and shows its steps
completing live (a real worker thread runs it; the mail reaches aiosmtpd, addressed to the admin)."""

import re

from playwright.sync_api import expect

from webapp import worker
from webapp.extensions import db


def setup_workflow(app) -> int:
    with app.app_context():
        from webapp.calendars import services as calendars
        from webapp.contacts.services import create_contact
        from webapp.workflows import services

        calendar = calendars.create_calendar(
            {"name": "Onboarding", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
        )
        create_contact({"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com"})
        workflow = services.create_workflow("Book-me links", "tag_added", {"tag": "book-me"})
        workflow.steps = [
            {"id": "s1", "type": "generate_link", "key": "booking_link", "config": {"calendar_id": calendar.id}},
            {
                "id": "s2",
                "type": "send_email",
                "key": "",
                "config": {"subject": "Your link", "body": "Book: {{ steps.booking_link.url }}"},
            },
        ]
        db.session.commit()
        services.publish(workflow)
        workflow_id = workflow.id
        db.session.remove()
        return workflow_id


def test_a_test_run_from_the_editor_shows_its_steps_live(admin_page, live_server, smtp_server, tmp_path):
    page = admin_page
    app = live_server.app
    app.config.update(WORKFLOW_POLL_SECONDS=0)
    smtp_server.configure(app)
    workflow_id = setup_workflow(app)
    page.goto(f"{live_server}/workflows/{workflow_id}")
    page.wait_for_load_state()
    panel = page.locator("#test-panel")
    expect(panel.get_by_role("heading", name="Test with a contact")).to_be_visible()

    # Refused without a contact: the message sits beside the field.
    panel.get_by_role("button", name="Run test").click()
    expect(panel.get_by_text("Choose a contact")).to_be_visible()

    # Search, pick, run: the run appears in the panel and polls while the worker is not running yet.
    contact = panel.get_by_role("combobox", name=re.compile(r"^Contact"))
    contact.fill("hopp")
    expect(page.locator("#test-contacts option[value='grace@example.com']")).to_have_count(1)
    contact.fill("grace@example.com")
    expect(panel.get_by_label("The published version")).to_be_checked()
    expect(panel.get_by_label("Send emails to the contact")).not_to_be_checked()
    panel.get_by_role("button", name="Run test").click()
    run = panel.locator(".test-run")
    expect(run.locator(".badge-enrolment-active")).to_have_text("running")
    expect(run.locator(".badge-step-done")).to_have_count(0)

    stop, thread = worker.start_thread(app, poll_interval=0.1)
    try:
        expect(run.locator(".badge-step-done")).to_have_count(2, timeout=20_000)  # no reload: HTMX polling
        expect(run.locator(".badge-enrolment-completed")).to_be_visible()
        expect(run).to_contain_text("[Test] Your link")
        expect(run).not_to_have_attribute("hx-trigger", re.compile("every"))  # polling stopped
    finally:
        worker.stop_thread(stop, thread)
    panel.screenshot(path=str(tmp_path / "test-run.png"))  # to look at
    [sent] = smtp_server.messages
    assert sent["To"] == "admin@example.com" and sent["Subject"] == "[Test] Your link"
    assert page.url == f"{live_server}/workflows/{workflow_id}"
