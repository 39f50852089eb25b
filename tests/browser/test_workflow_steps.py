"""In a real browser: the new step types added from the picker, refused with a message on the card,
then saved; the webhook's secret is shown once."""

import re

from playwright.sync_api import expect

from tests.browser.helpers import shot


def add_from_picker(page, position, search, label):
    page.get_by_label(f"Add a step here (position {position})").click()
    panel = page.locator(".picker-panel:visible")
    panel.get_by_placeholder("Search actions").fill(search)
    panel.get_by_role("button", name=label).click()
    card = page.locator(".step-card").nth(position - 1)
    expect(card.get_by_role("heading")).to_have_text(label)
    return card


def create_and_save_trigger(page, name: str, trigger: str) -> None:
    """On the new-workflow page: name it, open the editor, choose the trigger and save it."""
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create and open the editor").click()
    page.wait_for_url(re.compile(r"/workflows/\d+$"))
    page.wait_for_load_state()
    page.get_by_label("What enrols contacts").select_option(label=trigger)
    # Choosing a trigger reloads the card with its options; a Save pressed before that answer lands on the
    # card being replaced and is lost (on a loaded machine the answer took seconds), so wait for it.
    page.wait_for_load_state("networkidle")
    page.locator("#trigger").get_by_role("button", name="Save trigger").click()


def test_add_tag_notification_and_webhook_steps(admin_page, live_server):
    page = admin_page
    page.get_by_role("link", name="Workflows").click()
    page.get_by_role("button", name="Create your first workflow").click()
    create_and_save_trigger(page, "Hand off", "Manual enrolment")
    expect(page.locator("#trigger .badge-saved")).to_be_visible()

    # Contact → Add tag: an empty tag is refused on the card, a typed one is saved lower-case.
    tag = add_from_picker(page, 1, "tag", "Add tag")
    tag.get_by_role("button", name="Save step").click()
    expect(tag.get_by_text("Choose the tag to add.")).to_be_visible()
    expect(tag).to_have_class(re.compile("is-invalid"))
    tag.get_by_role("combobox", name="Tag").fill("Handed Off")
    tag.get_by_role("button", name="Save step").click()
    expect(tag.locator(".badge-saved")).to_be_visible()
    expect(tag.get_by_role("combobox", name="Tag")).to_have_value("handed off")

    # Communication → Internal notification email, with the custom-value picker.
    note = add_from_picker(page, 2, "notification", "Internal notification email")
    note.get_by_label("Subject").fill("New lead: ")
    note.get_by_text("Custom values", exact=True).click()
    note.get_by_role("button", name="Full name").click()
    expect(note.get_by_label("Subject")).to_have_value("New lead: {{ contact.name }}")
    note.get_by_label("Message").fill("Please call {{ contact.email }}.")
    note.get_by_role("button", name="Save step").click()
    expect(note.get_by_text("Choose the admin to notify")).to_be_visible()
    note.get_by_label("Admin to notify").select_option(label="admin@example.com")
    note.get_by_role("button", name="Save step").click()
    expect(note.locator(".badge-saved")).to_be_visible()

    # Integrations → Outgoing webhook: the secret is shown once, bad input is named on the card.
    hook = add_from_picker(page, 3, "webhook", "Outgoing webhook")
    secret = hook.get_by_label("Signing secret")
    expect(secret).to_have_value(re.compile(r"^[0-9a-f]{64}$"))
    value = secret.input_value()
    shot(page, "webhook-added")
    hook.get_by_label("URL").fill("http://169.254.169.254/latest")
    hook.get_by_label("JSON body").fill('{"email": {{ contact.email }}}')
    hook.get_by_role("button", name="Save step").click()
    expect(hook.get_by_text("169.254.169.254 is a link-local address: webhooks cannot reach it.")).to_be_visible()
    expect(hook.get_by_text(re.compile("not valid JSON once values are inserted"))).to_be_visible()
    expect(hook.get_by_label("Signing secret")).to_have_count(0)  # masked from now on
    expect(hook.get_by_text("••••••••" + value[-4:])).to_be_visible()
    shot(page, "webhook-invalid")
    hook.get_by_label("URL").fill("https://crm.example.com/hooks/oneslot")
    hook.get_by_label("JSON body").fill('{"email": "{{ contact.email }}"}')
    hook.get_by_role("button", name="Save step").click()
    expect(hook.locator(".badge-saved")).to_be_visible()

    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Published version 1.")).to_be_visible()
    assert value not in page.content()
    shot(page, "editor-published")


def test_inbound_webhook_url_is_shown_once_then_masked_and_regenerated(admin_page, live_server):
    page = admin_page
    page.goto(f"{live_server}/workflows/new")
    create_and_save_trigger(page, "From the CRM", "Inbound webhook")
    url = page.locator("#trigger").get_by_label("Webhook URL")
    expect(url).to_have_value(re.compile(r"^http://127\.0\.0\.1:5000/hooks/\d+/[A-Za-z0-9_-]{32}$"))
    expect(page.locator("#trigger").get_by_text("copy it now")).to_be_visible()
    first = url.input_value()
    shot(page, "webhook-url-shown-once")

    page.reload()
    expect(page.locator("#trigger").get_by_label("Webhook URL")).to_have_count(0)
    expect(page.locator("#trigger").get_by_text(re.compile(r"/hooks/\d+/••••••••"))).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#trigger").get_by_role("button", name="Regenerate URL").click()
    url = page.locator("#trigger").get_by_label("Webhook URL")
    expect(url).to_have_value(re.compile(r"/hooks/\d+/[A-Za-z0-9_-]{32}$"))
    assert url.input_value() != first
    expect(page.locator("#trigger").get_by_text("The old URL no longer works.")).to_be_visible()
