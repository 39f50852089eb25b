"""In a real browser: a workflow with an if/else built card by card (nested cards in its branches),
published and run for a contact who books; what was typed in a card survives adding a step; a step
inside a branch added, reordered and deleted with the keyboard alone; axe on an editor with branches."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.axe import assert_accessible
from tests.browser.helpers import setup_calendar_and_contact, tab_to
from tests.factories import make_workflow
from webapp import worker
from webapp.extensions import db


def card(page, number: str):
    """The step card numbered "3" or "3.yes.1"."""
    return page.locator(f'.step-card[data-number="{number}"]')


def add(page, where: str, label: str):
    """Open the "+" named `where` and pick the step type `label`."""
    page.get_by_label(where, exact=True).click()
    page.locator(".picker-panel:visible").get_by_role("button", name=label, exact=True).click()


def save(step):
    step.get_by_role("button", name="Save step").click()
    expect(step.locator(".badge-saved")).to_be_visible()


def saved_draft(app, steps) -> int:
    """The id of a new draft workflow "Branches" with these steps, made on the live server's database."""
    with app.app_context():
        workflow_id = make_workflow(steps=steps, publish=False, name="Branches").id
        db.session.remove()
    return workflow_id


def test_build_a_branching_workflow_publish_it_and_follow_a_contact_who_books(
    admin_page, browser, live_server, smtp_server
):
    page = admin_page
    smtp_server.configure(live_server.app)
    setup_calendar_and_contact(live_server.app)
    workflow_id = saved_draft(live_server.app, [])
    page.goto(f"{live_server}/workflows/{workflow_id}")

    add(page, "Add a step here (position 1)", "Generate One-Time Booking Link")
    card(page, "1").get_by_label("Calendar").select_option(label="Onboarding")
    save(card(page, "1"))

    add(page, "Add a step here (position 2)", "Wait")
    wait = card(page, "2")
    expect(wait.locator("select[name$='-mode']")).to_be_focused()  # a new step's first field has the keyboard
    expect(wait.get_by_label("At most (days)")).to_be_hidden()  # only the chosen kind's fields show
    wait.locator("select[name$='-mode']").select_option(label="Until the link is booked (or at most some days)")
    expect(wait.get_by_label("How long")).to_be_hidden()
    wait.get_by_label("Link step").select_option("booking_link")
    wait.get_by_label("At most (days)").fill("2")
    save(wait)
    expect(wait.locator(".step-summary")).to_have_text("Wait until “booking_link” is booked, at most 2 days")

    add(page, "Add a step here (position 3)", "If/else")
    fork = card(page, "3")
    fork.get_by_label("Link step").select_option("booking_link")
    save(fork)
    expect(fork.locator(".step-summary")).to_have_text("If the link from “booking_link” was booked")

    add(page, "Add a step to “If yes” of step 3 (position 1)", "Wait")
    reminder = card(page, "3.yes.1")
    reminder.locator("select[name$='-mode']").select_option("before_booking")
    reminder.get_by_label("How long").fill("24")
    reminder.get_by_label("Unit").select_option("hours")
    reminder.get_by_label("Link step").select_option("booking_link")
    save(reminder)

    add(page, "Add a step to “If yes” of step 3 (position 2)", "Send Email")
    email = card(page, "3.yes.2")
    email.get_by_label("Subject").fill("See you soon")
    email.get_by_label("Message").fill("Your meeting is in a day.")
    save(email)

    add(page, "Add a step to “Else” of step 3 (position 1)", "Send Email")
    nudge = card(page, "3.no.1")
    nudge.get_by_label("Subject").fill("Still time to book")
    nudge.get_by_label("Message").fill("Pick a time: {{ steps.booking_link.url }}")
    save(nudge)

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Published version 1.")).to_be_visible()
    with live_server.app.app_context():
        from webapp.workflows.models import Workflow

        steps = db.session.get(Workflow, workflow_id).published_version.steps
        assert [s["type"] for s in steps] == ["generate_link", "wait", "if_else"]
        assert [s["type"] for s in steps[2]["branches"]["yes"]] == ["wait", "send_email"]
        assert [s["type"] for s in steps[2]["branches"]["no"]] == ["send_email"]
        db.session.remove()

    # Grace is enrolled: the link is made and the workflow waits for her to book.
    with live_server.app.app_context():
        from webapp.contacts.models import Contact
        from webapp.workflows import services
        from webapp.workflows.models import Workflow

        services.enrol_manually(db.session.get(Workflow, workflow_id), [db.session.scalar(select(Contact))])
        db.session.remove()
    worker.drain(live_server.app)
    page.goto(f"{live_server}/workflows/{workflow_id}/enrolments")
    page.get_by_role("link", name=re.compile("Details")).click()
    expect(page.locator(".timeline-step").nth(1)).to_contain_text("waiting")
    url = page.locator("input[id^=link-url-]").input_value().replace("http://127.0.0.1:5000", live_server)

    invitee = browser.new_page(timezone_id="UTC")
    invitee.goto(url)
    invitee.locator(".slot-list label.slot").first.click()
    invitee.get_by_role("button", name="Confirm booking").click()
    expect(invitee.get_by_role("heading", name="You're booked")).to_be_visible()
    worker.drain(live_server.app)

    # The history: the wait ended with the booking, the if/else took "yes", the nudge was never sent.
    page.reload()
    timeline = page.locator(".timeline-step")
    expect(timeline.nth(1)).to_contain_text("done")
    expect(timeline.nth(2)).to_contain_text("took the “yes” branch")
    expect(timeline.filter(has=page.locator(".badge-branch", has_text="If yes"))).to_have_count(2)
    expect(timeline.filter(has=page.locator(".badge-branch", has_text="Else"))).to_contain_text("skipped")
    assert "Still time to book" not in [m["Subject"] for m in smtp_server.messages]


def test_what_was_typed_in_a_card_survives_adding_a_step(admin_page, live_server):
    page = admin_page
    from webapp.workflows.services import new_step

    workflow_id = saved_draft(live_server.app, [new_step("send_email"), new_step("add_tag")])
    page.goto(f"{live_server}/workflows/{workflow_id}")
    email = card(page, "1")
    email.get_by_label("Subject").fill("Typed but not saved")
    card(page, "2").get_by_label("Tag").fill("vip")
    expect(email).to_have_class(re.compile("is-dirty"))

    add(page, "Add a step here (position 3)", "Wait")
    expect(card(page, "3").locator("select[name$='-mode']")).to_be_focused()
    expect(card(page, "1").get_by_label("Subject")).to_have_value("Typed but not saved")
    expect(card(page, "2").get_by_label("Tag")).to_have_value("vip")
    expect(card(page, "1")).to_have_class(re.compile("is-dirty"))  # still marked unsaved

    card(page, "3").get_by_label("Move step 3 up").click()  # a move keeps them too
    expect(card(page, "2").locator("h2")).to_have_text("Wait")
    expect(card(page, "1").get_by_label("Subject")).to_have_value("Typed but not saved")
    expect(card(page, "3").get_by_label("Tag")).to_have_value("vip")
    with live_server.app.app_context():
        from webapp.workflows.models import Workflow

        assert db.session.get(Workflow, workflow_id).steps[0]["config"]["subject"] == ""  # nothing was saved
        db.session.remove()


def test_add_reorder_and_delete_inside_a_branch_with_the_keyboard(admin_page, live_server):
    page = admin_page
    from webapp.workflows.services import new_step

    with live_server.app.app_context():  # a new link step looks for the only calendar
        steps = [new_step("generate_link", "booking_link"), {**new_step("if_else"), "branches": {"yes": [], "no": []}}]
    workflow_id = saved_draft(live_server.app, steps)
    page.goto(f"{live_server}/workflows/{workflow_id}")

    for position, (search, title) in enumerate([("send", "Send Email"), ("tag add", "Add tag")], 1):
        tab_to(page, f"Add a step to “If yes” of step 2 (position {position})", limit=400)
        page.keyboard.press("Enter")  # opens the picker, its search box has the keyboard
        expect(page.locator(".add-step[open] [data-filter-actions]")).to_be_focused()
        page.keyboard.type(search)
        page.keyboard.press("Enter")  # picks the first match
        expect(card(page, f"2.yes.{position}").locator("h2")).to_have_text(title)
        expect(card(page, f"2.yes.{position}").locator("input:not([type=hidden])").first).to_be_focused()

    tab_to(page, "Move step 2.yes.1 down", limit=400)
    page.keyboard.press("Enter")
    expect(page.locator(".branch-yes .step-card h2")).to_have_text(["Add tag", "Send Email"])
    expect(page.get_by_label("Move step 2.yes.2 up")).to_be_focused()  # the moved card, now last

    tab_to(page, "Delete step 2.yes.1", limit=400)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Yes, delete step 2.yes.1")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".branch-yes .step-card h2")).to_have_text(["Send Email"])
    with live_server.app.app_context():
        from webapp.workflows.models import Workflow

        [_link, saved] = db.session.get(Workflow, workflow_id).steps
        assert [s["type"] for s in saved["branches"]["yes"]] == ["send_email"]
        db.session.remove()


def test_the_editor_with_branches_has_no_serious_accessibility_violation(browser, live_server):
    from webapp.workflows.services import new_step

    with live_server.app.app_context():  # a new link step looks for the only calendar
        fork = {
            **new_step("if_else"),
            "branches": {"yes": [new_step("wait"), new_step("send_email")], "no": [new_step("goal")]},
        }
        link_step = new_step("generate_link", "booking_link")
    workflow_id = saved_draft(live_server.app, [link_step, fork])
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(f"{live_server}/login")
    from tests.conftest import PASSWORD

    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server}/")
    page.goto(f"{live_server}/workflows/{workflow_id}")
    expect(card(page, "2.no.1")).to_be_visible()
    assert_accessible(page)
    page.screenshot(path="/tmp/editor-branches.png", full_page=True)
    context.close()
