"""The workflow editor's pages: list, create, the cards (trigger, steps, settings), publish, pause."""

import re

import pytest
from sqlalchemy import func, select

from tests.helpers import reload
from webapp.extensions import db
from webapp.workflows import editing, services
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion

BODY = "Hi {{ contact.first_name }}, book here: {{ steps.booking_link.url }}"


def add(client, workflow, step_type, at=None, headers=None):
    data = {"type": step_type} | ({"at": at} if at is not None else {})
    return client.post(f"/workflows/{workflow.id}/steps", data=data, headers=headers or {})


def link_and_email(client, workflow, calendar, body=BODY):
    add(client, workflow, "generate_link")
    add(client, workflow, "send_email")
    link, email = reload(workflow).steps
    client.post(step_url(workflow, link), data=form(link, calendar_id=calendar.id, key="booking_link"))
    client.post(step_url(workflow, email), data=form(email, subject="Your link", body=body))
    return reload(workflow).steps


def step_url(workflow, step) -> str:
    return f"/workflows/{workflow.id}/steps/{step['id']}"


def form(step, **fields) -> dict:
    return {f"s{step['id']}-{name}": value for name, value in fields.items()}


# --- the list --------------------------------------------------------------------------------------


def test_empty_list_says_what_to_do(login):
    html = login.get("/workflows/").text
    assert "No workflows yet" in html and "Create your first workflow" in html


def test_the_new_workflow_page_has_breadcrumbs_like_its_neighbours(login):
    html = login.get("/workflows/new").text
    assert '<nav aria-label="breadcrumb"><ul><li><a href="/workflows/">Workflows</a></li><li>New workflow</li>' in html


def test_create_rename_duplicate_delete(login, app):
    response = login.post("/workflows/new", data={"name": "Onboarding"})
    assert response.status_code == 303
    created = db.session.scalar(select(Workflow))
    assert response.location == f"/workflows/{created.id}"
    assert login.post("/workflows/new", data={"name": ""}).status_code == 422

    assert login.post(f"/workflows/{created.id}/rename", data={"name": "Welcome"}).status_code == 303
    assert reload(created).name == "Welcome"
    assert "Give the workflow a name." in login.post(f"/workflows/{created.id}/rename", data={"name": " "}).text

    response = login.post(f"/workflows/{created.id}/duplicate")
    copy = db.session.scalar(select(Workflow).where(Workflow.id != created.id))
    assert response.status_code == 303 and copy.name == "Welcome (copy)" and copy.status == "draft"

    listing = login.get("/workflows/").text
    assert "Welcome (copy)" in listing and "Manual" not in listing  # no trigger chosen yet

    page = login.get(f"/workflows/{copy.id}/delete")
    assert "Delete “Welcome (copy)”?" in page.text
    assert login.post(f"/workflows/{copy.id}/delete").status_code == 303
    assert db.session.scalar(select(func.count()).select_from(Workflow)) == 1


def test_list_shows_status_trigger_and_counts(login, workflow, calendar, make_contact):
    link_and_email(login, workflow, calendar)
    services.publish(reload(workflow))
    services.enrol_manually(reload(workflow), [make_contact(), make_contact()])
    enrolment = db.session.scalars(select(Enrolment)).first()
    enrolment.status = "failed"
    db.session.commit()
    html = login.get("/workflows/").text
    row = re.search(r"<tr>\s*<td><a href=\"/workflows/\d+\">Send a link.*?</tr>", html, re.S)[0]
    cells = re.findall(r'<td class="num">\s*(?:<a[^>]*>)?(\d+)', row)
    assert cells == ["2", "1", "0", "1", "0"]  # enrolled, active, completed, failed, booked
    assert "badge-published" in row and "Manual enrolment" in row


def test_booked_counts_enrolments_whose_link_was_used(login, workflow, calendar, make_contact):
    from datetime import timedelta

    from webapp.booking import services as booking_services
    from webapp.booking.models import OneTimeLink
    from webapp.calendars.services import slots
    from webapp.clock import utcnow
    from webapp.worker import drain

    link_and_email(login, workflow, calendar)
    services.publish(reload(workflow))
    services.enrol_manually(reload(workflow), [make_contact(), make_contact()])
    drain(login.application)
    first = db.session.scalars(select(OneTimeLink)).first()
    # Booked through the booking service: the event the workflows list's counts follow.
    today = utcnow().date()
    start = slots(first.calendar, today, today + timedelta(days=7), "UTC")[0].start
    booking_services.book(first, start, booking_services.Invitee("Ada", first.contact.email, "UTC"))
    row = re.search(r"<tr>\s*<td><a href=\"/workflows/\d+\">Send a link.*?</tr>", login.get("/workflows/").text, re.S)[
        0
    ]
    assert re.findall(r'<td class="num">\s*(?:<a[^>]*>)?(\d+)', row)[-1] == "1"


def test_pages_need_a_sign_in(client, workflow):
    for url in ("/workflows/", f"/workflows/{workflow.id}"):
        assert client.get(url).location.startswith("/login")
    assert client.post(f"/workflows/{workflow.id}/publish").location.startswith("/login")


# --- steps -----------------------------------------------------------------------------------------


def test_the_picker_lists_every_step_type_by_category(login, workflow):
    html = login.get(f"/workflows/{workflow.id}").text
    picker = html[html.index('class="add-step"') :]
    assert "<legend>Appointments</legend>" in picker and "<legend>Communication</legend>" in picker
    assert 'value="generate_link"' in picker and "Generate One-Time Booking Link" in picker
    assert 'value="send_email"' in picker and "data-filter-actions" in picker


@pytest.mark.parametrize(
    ("step_type", "label"), [("generate_link", "Generate One-Time Booking Link"), ("send_email", "Send Email")]
)
def test_add_each_step_type(login, workflow, hx, step_type, label):
    response = add(login, workflow, step_type, headers=hx)
    assert response.status_code == 200 and 'id="editor"' in response.text and "<html" not in response.text
    [step] = reload(workflow).steps
    assert step["type"] == step_type and f'id="step-{step["id"]}"' in response.text and label in response.text
    assert add(login, workflow, step_type).status_code == 303  # without JavaScript


def test_add_at_a_position_and_unique_keys(login, workflow):
    add(login, workflow, "generate_link")
    add(login, workflow, "send_email")
    add(login, workflow, "generate_link", at=0)
    steps = reload(workflow).steps
    assert [s["type"] for s in steps] == ["generate_link", "generate_link", "send_email"]
    assert steps[0]["key"] == "booking_link_2" and steps[1]["key"] == "booking_link"


def test_save_a_card_with_a_message_beside_the_field(login, workflow, calendar, hx):
    add(login, workflow, "generate_link")
    [step] = reload(workflow).steps
    response = login.post(step_url(workflow, step), data=form(step, calendar_id="", key="booking_link"), headers=hx)
    assert response.status_code == 422
    assert "Choose the calendar the link books on." in response.text and "is-invalid" in response.text
    assert 'aria-invalid="true"' in response.text and "HX-Trigger" not in response.headers
    response = login.post(
        step_url(workflow, step),
        data=form(
            step, calendar_id=calendar.id, key="booking_link", expires_in="2", expires_unit="hours", existing="revoke"
        ),
        headers=hx,
    )
    assert response.status_code == 200 and "form-saved" in response.headers["HX-Trigger"]
    assert 'hx-swap-oob="true"' in response.text  # the header's status follows
    [saved] = reload(workflow).steps
    assert saved["config"] == {
        "calendar_id": calendar.id,
        "expires_in": 2,
        "expires_unit": "hours",
        "existing": "revoke",
    }
    bad = login.post(step_url(workflow, step), data=form(step, calendar_id=calendar.id, key="b", expires_in="soon"))
    assert bad.status_code == 422 and "whole number of hours or days" in bad.text  # the full page, no JS


def test_an_email_using_an_unknown_or_later_value_is_refused_naming_it(login, workflow, calendar):
    add(login, workflow, "send_email")
    add(login, workflow, "generate_link")
    email, link = reload(workflow).steps
    login.post(step_url(workflow, link), data=form(link, calendar_id=calendar.id, key="booking_link"))
    response = login.post(step_url(workflow, email), data=form(email, subject="Hi", body=BODY))
    assert response.status_code == 422
    assert "{{ steps.booking_link.url }} comes from a step that does not run before this one" in response.text
    response = login.post(step_url(workflow, email), data=form(email, subject="Hi {{ contact.shoe_size }}", body="x"))
    assert "Unknown value {{ contact.shoe_size }}" in response.text
    assert reload(workflow).steps[0]["config"]["subject"] == ""  # nothing saved


def test_the_custom_value_picker_lists_what_earlier_steps_offer(login, workflow, calendar):
    add(login, workflow, "send_email")
    add(login, workflow, "generate_link")
    add(login, workflow, "send_email")
    html = login.get(f"/workflows/{workflow.id}").text
    first, second = html.split('class="cv-picker"')[1:3]
    assert (
        'data-insert="{{ steps.booking_link.url }}"' not in first and 'data-insert="{{ contact.first_name }}"' in first
    )
    assert 'data-insert="{{ steps.booking_link.url }}"' in second and "One-Time Link" in second


def test_move_up_and_down_and_delete(login, workflow, hx):
    add(login, workflow, "generate_link")
    add(login, workflow, "send_email")
    link, email = reload(workflow).steps
    response = login.post(f"{step_url(workflow, email)}/move", data={"direction": "up"}, headers=hx)
    assert response.status_code == 200 and "data-focus-me" in response.text
    assert [s["id"] for s in reload(workflow).steps] == [email["id"], link["id"]]
    assert login.post(f"{step_url(workflow, email)}/move", data={"direction": "down"}).status_code == 303
    assert [s["id"] for s in reload(workflow).steps] == [link["id"], email["id"]]

    confirm = login.get(f"{step_url(workflow, link)}/delete", headers=hx)
    assert "Delete this step?" in confirm.text and "<html" not in confirm.text
    assert "Delete this step?" in login.get(f"{step_url(workflow, link)}/delete").text  # the page, no JS
    assert len(reload(workflow).steps) == 2
    assert login.post(f"{step_url(workflow, link)}/delete", headers=hx).status_code == 200
    assert [s["id"] for s in reload(workflow).steps] == [email["id"]]
    assert login.post(f"/workflows/{workflow.id}/steps/nope/delete").status_code == 404


def test_live_preview_renders_a_contacts_values_escaped(login, workflow, calendar, make_contact, hx):
    _link, email = link_and_email(login, workflow, calendar)
    contact = make_contact(first_name="<b>Ada</b>")
    response = login.get(
        f"{step_url(workflow, email)}/preview",
        query_string={"contact_id": contact.id, **form(email, subject="For {{ contact.first_name }}", body=BODY)},
        headers=hx,
    )
    assert response.status_code == 200
    assert "For &lt;b&gt;Ada&lt;/b&gt;" in response.text and "<b>Ada</b>" not in response.text
    assert "http://127.0.0.1:5000/book/" in response.text
    unknown = login.get(
        f"{step_url(workflow, email)}/preview",
        query_string={"contact_id": contact.id, **form(email, subject="x", body="{{ steps.nope.url }}")},
        headers=hx,
    )
    assert "Unknown value {{ steps.nope.url }}" in unknown.text


# --- trigger and settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "stored"),
    [
        ({"trigger_type": "contact_created"}, {}),
        ({"trigger_type": "tag_added", "tag": " Book-Me "}, {"tag": "book-me"}),
        ({"trigger_type": "webhook"}, {}),
        (
            {"trigger_type": "booking_event", "events": ["made", "no_show"], "calendar_id": ""},
            {"events": ["made", "no_show"], "calendar_id": None},
        ),
        ({"trigger_type": "manual"}, {}),
    ],
)
def test_trigger_of_each_type(login, workflow, hx, data, stored):
    response = login.post(f"/workflows/{workflow.id}/trigger", data=data, headers=hx)
    assert response.status_code == 200 and "form-saved" in response.headers["HX-Trigger"]
    saved = reload(workflow)
    assert saved.trigger_type == data["trigger_type"] and saved.trigger_config == stored


def test_trigger_problems_and_switching(login, workflow, calendar, hx):
    response = login.post(
        f"/workflows/{workflow.id}/trigger", data={"trigger_type": "tag_added", "tag": ""}, headers=hx
    )
    assert response.status_code == 422 and "Choose the tag that enrols contacts." in response.text
    response = login.post(
        f"/workflows/{workflow.id}/trigger", data={"trigger_type": "booking_event", "action": "switch"}, headers=hx
    )
    assert "Booking events" in response.text and "Any calendar" in response.text and "Intro call" in response.text
    assert reload(workflow).trigger_type == "manual"  # switching only shows the fields
    response = login.post(
        f"/workflows/{workflow.id}/trigger",
        data={"trigger_type": "booking_event", "calendar_id": calendar.id},
        headers=hx,
    )
    assert response.status_code == 422 and "Choose at least one booking event" in response.text


def test_webhook_url_shown_once_when_made_then_masked_and_regenerated(login, client, workflow, hx):
    response = login.post(f"/workflows/{workflow.id}/trigger", data={"trigger_type": "webhook"}, headers=hx)
    match = re.search(rf'value="(http://127\.0\.0\.1:5000/hooks/{workflow.id}/([^"]+))"', response.text)
    assert match and "copy it now" in response.text and "data-copy=" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    url, secret = match.groups()
    assert reload(workflow).webhook_digest and secret not in reload(workflow).webhook_digest
    html = login.get(f"/workflows/{workflow.id}").text  # afterwards: masked, with a way to make a new one
    assert secret not in html and f"/hooks/{workflow.id}/••••••••" in html and "Regenerate URL" in html
    # Saving the trigger again keeps the URL (it is not shown, nor changed).
    again = login.post(f"/workflows/{workflow.id}/trigger", data={"trigger_type": "webhook"}, headers=hx)
    assert "copy it now" not in again.text and reload(workflow).webhook_digest == services.secret_digest(secret)

    response = login.post(f"/workflows/{workflow.id}/webhook-secret", headers=hx)
    new = re.search(rf'/hooks/{workflow.id}/([^"]+)"', response.text)[1]
    assert new != secret and secret not in response.text and "The old URL no longer works." in response.text
    assert response.headers["Cache-Control"] == "no-store"
    published = reload(workflow)
    published.steps = [{"id": "t1", "type": "add_tag", "key": "", "config": {"tag": "lead"}}]
    db.session.commit()
    services.publish(published)
    assert client.post(f"/hooks/{workflow.id}/{secret}", json={"email": "a@example.com"}).status_code == 404
    assert client.post(f"/hooks/{workflow.id}/{new}", json={"email": "a@example.com"}).status_code == 202


def test_webhook_url_is_shown_once_without_javascript_too(login, workflow):
    response = login.post(f"/workflows/{workflow.id}/trigger", data={"trigger_type": "webhook"})
    # Not a redirect: carrying the secret to a GET would put it in the session cookie.
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert re.search(rf'value="http://127\.0\.0\.1:5000/hooks/{workflow.id}/[^"•]+"', response.text)
    assert "Trigger saved. Copy the webhook URL now" in response.text
    response = login.post(f"/workflows/{workflow.id}/webhook-secret")
    assert response.status_code == 200 and "New webhook URL made: copy it now." in response.text
    assert "copy it now" not in login.get(f"/workflows/{workflow.id}").text


def test_a_copied_workflow_gets_no_url_until_one_is_made(login, workflow, hx):
    login.post(f"/workflows/{workflow.id}/trigger", data={"trigger_type": "webhook"})
    copy_ = editing.duplicate(reload(workflow))
    html = login.get(f"/workflows/{copy_.id}").text
    assert copy_.webhook_digest is None and "has no webhook URL yet" in html and "Make the webhook URL" in html
    response = login.post(f"/workflows/{copy_.id}/webhook-secret", headers=hx)
    assert re.search(rf'value="http://127\.0\.0\.1:5000/hooks/{copy_.id}/[^"•]+"', response.text)


def test_settings(login, workflow, hx):
    response = login.post(
        f"/workflows/{workflow.id}/settings", data={"allow_reentry": "y", "sender_name": " Acme "}, headers=hx
    )
    assert response.status_code == 200
    saved = reload(workflow)
    assert saved.allow_reentry is True and saved.sender_name == "Acme"
    login.post(f"/workflows/{workflow.id}/settings", data={"sender_name": "Acme"})
    assert reload(workflow).allow_reentry is False


# --- publish, pause, resume -----------------------------------------------------------------------


def test_publish_with_problems_shows_them_on_their_cards(login, workflow, hx):
    add(login, workflow, "generate_link")
    add(login, workflow, "send_email")
    link, email = reload(workflow).steps
    response = login.post(f"/workflows/{workflow.id}/publish", headers=hx)
    assert response.status_code == 422 and "Not published: 3 problems to fix" in response.text
    html = response.text
    link_card = html[html.index(f'id="step-{link["id"]}"') : html.index(f'id="step-{email["id"]}"')]
    email_card = html[html.index(f'id="step-{email["id"]}"') :]
    assert "Choose the calendar the link books on." in link_card and "is-invalid" in link_card
    assert "The email needs a subject." in email_card and "The email needs a message." in email_card
    assert db.session.scalar(select(func.count()).select_from(WorkflowVersion)) == 0


def test_publish_edit_republish_pause_resume(login, workflow, calendar, hx):
    link, email = link_and_email(login, workflow, calendar)
    response = login.post(f"/workflows/{workflow.id}/publish", headers=hx)
    assert response.status_code == 200 and "Published version 1" in response.text
    assert reload(workflow).status == "published" and "unpublished changes" not in response.text
    login.post(step_url(workflow, email), data=form(email, subject="New subject", body=BODY))
    assert "unpublished changes" in login.get(f"/workflows/{workflow.id}").text
    assert login.post(f"/workflows/{workflow.id}/publish").status_code == 303
    saved = reload(workflow)
    assert (
        saved.published_version.number == 2 and saved.published_version.steps[1]["config"]["subject"] == "New subject"
    )
    assert "Pause" in login.get(f"/workflows/{workflow.id}").text

    assert login.post(f"/workflows/{workflow.id}/pause", headers=hx).status_code == 200
    assert reload(workflow).status == "paused"
    assert login.post(f"/workflows/{workflow.id}/pause").status_code == 409
    assert login.post(f"/workflows/{workflow.id}/resume").status_code == 303
    assert reload(workflow).status == "published"


def test_editor_page_has_no_inline_script_and_loads_its_js(login, workflow, calendar):
    link_and_email(login, workflow, calendar)
    html = login.get(f"/workflows/{workflow.id}").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html) and 'style="' not in html and "hx-on" not in html
    assert "js/workflows.js" in html and 'href="/workflows/"' in html
