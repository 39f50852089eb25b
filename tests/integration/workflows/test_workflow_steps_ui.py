"""The editor with the new step types: each added from the picker, saved, and refused with a message
on its card for bad input; the webhook's secret is shown once."""

import re

import pytest
from sqlalchemy import select

from tests.helpers import reload
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.workflows import services
from webapp.workflows.actions import webhook
from webapp.workflows.models import Workflow


def add(client, workflow, step_type, headers=None):
    return client.post(f"/workflows/{workflow.id}/steps", data={"type": step_type}, headers=headers or {})


def save(client, workflow, step, headers=None, **fields):
    data = {f"s{step['id']}-{name}": value for name, value in fields.items()}
    return client.post(f"/workflows/{workflow.id}/steps/{step['id']}", data=data, headers=headers or {})


def card(html: str, step) -> str:
    """The HTML of one step card."""
    start = html.index(f'id="step-{step["id"]}"')
    return html[start : html.index("</article>", start)]


def test_the_picker_groups_every_category_in_order(login, workflow):
    html = login.get(f"/workflows/{workflow.id}").text
    picker = html[html.index('class="add-step"') : html.index("</details>", html.index('class="add-step"'))]
    legends = re.findall(r"<legend>(.*?)</legend>", picker)
    assert legends[:4] == ["Appointments", "Communication", "Contact", "Integrations"]
    for value, label in [
        ("notify_email", "Internal notification email"),
        ("add_tag", "Add tag"),
        ("remove_tag", "Remove tag"),
        ("webhook", "Outgoing webhook"),
    ]:
        assert f'value="{value}"' in picker and label in picker


@pytest.mark.parametrize(
    ("step_type", "label"),
    [
        ("add_tag", "Add tag"),
        ("remove_tag", "Remove tag"),
        ("notify_email", "Internal notification email"),
        ("webhook", "Outgoing webhook"),
    ],
)
def test_add_each_new_step_type(login, workflow, hx, step_type, label):
    response = add(login, workflow, step_type, headers=hx)
    assert response.status_code == 200 and "<html" not in response.text
    [step] = reload(workflow).steps
    assert step["type"] == step_type
    html = card(response.text, step)
    assert f'<h2 id="step-{step["id"]}-title">{label}</h2>' in html and "Save step" in html
    assert add(login, workflow, step_type).status_code == 303  # without JavaScript


def test_tag_cards_pick_existing_tags_save_normalised_and_refuse_an_empty_tag(login, workflow, hx, make_contact):
    contacts.add_tags(make_contact(), ["newsletter", "vip"])
    db.session.commit()
    add(login, workflow, "add_tag")
    add(login, workflow, "remove_tag")
    adder, remover = reload(workflow).steps
    html = card(login.get(f"/workflows/{workflow.id}").text, adder)
    assert f'list="s{adder["id"]}-tag-options"' in html and f'<datalist id="s{adder["id"]}-tag-options">' in html
    assert '<option value="newsletter">' in html and '<option value="vip">' in html
    response = save(login, workflow, adder, hx, tag="   ")
    assert response.status_code == 422 and "Choose the tag to add." in response.text
    assert "is-invalid" in response.text and 'aria-invalid="true"' in response.text
    assert save(login, workflow, remover, hx, tag="x" * 70).status_code == 422
    assert save(login, workflow, adder, hx, tag="  Hot  Lead ").status_code == 200
    assert save(login, workflow, remover, hx, tag="VIP").status_code == 200
    adder, remover = reload(workflow).steps
    assert adder["config"] == {"tag": "hot lead"} and remover["config"] == {"tag": "vip"}


def test_notification_card_admin_or_address_and_messages(login, workflow, admin, hx):
    add(login, workflow, "notify_email")
    [step] = reload(workflow).steps
    html = card(login.get(f"/workflows/{workflow.id}").text, step)
    assert f'<option value="{admin.id}">admin@example.com</option>' in html
    assert 'class="cv-picker"' in html and "preview-form" in html  # the same custom values and preview as Send Email
    response = save(login, workflow, step, hx, admin_id="", to="", subject="", body="Hi")
    assert response.status_code == 422
    assert "Choose the admin to notify" in response.text and "The email needs a subject." in response.text
    assert re.search(r">\s*Hi</textarea>", response.text)  # what was typed stays
    response = save(login, workflow, step, hx, admin_id="", to="not-an-address", subject="New lead", body="Hi")
    assert "is not a valid email address" in response.text
    response = save(login, workflow, step, hx, admin_id=admin.id, subject="New: {{ contact.name }}", body="Hi")
    assert response.status_code == 200
    [saved] = reload(workflow).steps
    assert saved["config"] == {"admin_id": admin.id, "to": "", "subject": "New: {{ contact.name }}", "body": "Hi"}


def test_notification_preview_for_a_contact(login, workflow, make_contact):
    add(login, workflow, "notify_email")
    [step] = reload(workflow).steps
    contact = make_contact(first_name="Ada", last_name="Lovelace")
    query = {"contact_id": contact.id, f"s{step['id']}-subject": "Lead {{ contact.name }}", f"s{step['id']}-body": "b"}
    html = login.get(f"/workflows/{workflow.id}/steps/{step['id']}/preview", query_string=query).text
    assert "Lead Ada Lovelace" in html


def shown_secret(html: str, step) -> str:
    """The signing secret in the "copy it now" panel of a step's card."""
    return re.search(rf'id="secret-{step["id"]}" value="([0-9a-f]{{64}})"', html)[1]


def test_webhook_card_messages_and_secret_shown_once(login, workflow, hx):
    response = add(login, workflow, "webhook", headers=hx)
    [step] = reload(workflow).steps
    secret = shown_secret(response.text, step)
    assert "copy it now" in response.text and "will not be shown again" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert secret not in step["config"]["secret"]  # stored sealed
    page = login.get(f"/workflows/{workflow.id}").text
    assert secret not in page and f"••••••••{secret[-4:]}" in page  # masked afterwards
    assert step["config"]["secret"] not in page  # nor the sealed form

    response = save(login, workflow, step, hx, url="http://169.254.169.254/latest", body='{"name": {{ contact.name }}}')
    assert response.status_code == 422
    assert "169.254.169.254 is a link-local address" in response.text
    assert "not valid JSON once values are inserted" in response.text and "is-invalid" in response.text
    assert secret not in response.text
    assert reload(workflow).steps[0]["config"]["url"] == ""  # nothing saved

    body = '{"email": "{{ contact.email }}"}'
    response = save(login, workflow, step, hx, url="https://hooks.example.com/in", body=body)
    assert response.status_code == 200 and secret not in response.text
    [saved] = reload(workflow).steps
    assert saved["config"] == {"url": "https://hooks.example.com/in", "body": body, "secret": step["config"]["secret"]}

    # A new secret: shown once, the card keeps its unsaved edits, the old secret is gone.
    data = {f"s{step['id']}-url": "https://typed.example.com/", f"s{step['id']}-body": "{}"}
    response = login.post(f"/workflows/{workflow.id}/steps/{step['id']}/secret", data=data, headers=hx)
    new = shown_secret(response.text, step)
    assert response.status_code == 200 and new != secret
    assert webhook.reveal(reload(workflow).steps[0]["config"]) == new
    assert 'value="https://typed.example.com/"' in response.text
    assert reload(workflow).steps[0]["config"]["url"] == "https://hooks.example.com/in"  # the edits are not saved
    assert new not in login.get(f"/workflows/{workflow.id}").text


def test_regenerating_the_secret_works_without_javascript(login, workflow):
    add(login, workflow, "webhook")
    [step] = reload(workflow).steps
    first = shown_secret(login.get(f"/workflows/{workflow.id}").text, step)  # shown after the redirect
    response = login.post(f"/workflows/{workflow.id}/steps/{step['id']}/secret")
    assert response.status_code == 303
    new = shown_secret(login.get(response.location).text, step)
    assert new != first and webhook.reveal(reload(workflow).steps[0]["config"]) == new


def test_regenerating_the_secret_of_a_step_inside_a_branch(login, workflow, hx):
    add(login, workflow, "if_else")
    [branching] = reload(workflow).steps
    data = {"type": "webhook", "parent": branching["id"], "branch": "no"}
    added = login.post(f"/workflows/{workflow.id}/steps", data=data, headers=hx)
    [step] = reload(workflow).steps[0]["branches"]["no"]
    first = shown_secret(added.text, step)
    assert webhook.reveal(step["config"]) == first
    response = login.post(f"/workflows/{workflow.id}/steps/{step['id']}/secret", headers=hx)
    assert response.status_code == 200
    new = shown_secret(response.text, step)
    [saved] = reload(workflow).steps[0]["branches"]["no"]
    assert new != first and webhook.reveal(saved["config"]) == new
    assert {k: v for k, v in saved.items() if k != "config"} == {k: v for k, v in step.items() if k != "config"}
    assert reload(workflow).steps[0]["branches"]["yes"] == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address: webhooks cannot reach it."),
        ("http://[::1]/hook", "::1 is a loopback address"),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://0x7f.1/", "127.0.0.1 is a loopback address"),
        (
            "http://[::ffff:127.0.0.1]:5000/",
            "::ffff:7f00:1 is the IPv4-mapped spelling of 127.0.0.1, a loopback address",
        ),
        ("http://192.168.1.20/", "192.168.1.20 is a private address"),
    ],
)
def test_a_webhook_to_an_internal_address_is_refused_on_its_card(login, workflow, hx, url, message):
    add(login, workflow, "webhook")
    [step] = reload(workflow).steps
    response = save(login, workflow, step, hx, url=url, body="{}")
    assert response.status_code == 422 and message in response.text
    assert "OUTBOUND_ALLOWED_NETWORKS" in response.text
    assert reload(workflow).steps[0]["config"]["url"] == ""


def test_the_database_holds_no_signing_secret_in_clear(app, login, workflow, hx):
    from sqlalchemy import text

    response = add(login, workflow, "webhook", headers=hx)
    [step] = reload(workflow).steps
    secret = shown_secret(response.text, step)
    save(login, workflow, step, hx, url="https://hooks.example.com/in", body="{}")
    services.publish(reload(workflow))
    stored = " ".join(
        repr(row)
        for table in ("workflows", "workflow_versions", "audit_log")
        if db.inspect(db.engine).has_table(table)
        for row in db.session.execute(text(f"SELECT * FROM {table}")).all()
    )
    assert "hooks.example.com" in stored  # the rows were read
    assert secret not in stored


def test_a_secret_sealed_under_a_rotated_away_key_is_reported_not_used(app, login, workflow, hx):
    from webapp import secretbox

    add(login, workflow, "webhook")
    steps = [dict(step) for step in reload(workflow).steps]  # a new list: the JSON column sees the change
    steps[0]["config"] = {
        **steps[0]["config"],
        "secret": secretbox.seal("x" * 64, webhook.PURPOSE, secret_key="o" * 32),
    }
    db.session.get(Workflow, workflow.id).steps = steps
    db.session.commit()
    html = login.get(f"/workflows/{workflow.id}").text
    assert "cannot be read with the current <code>SECRET_KEY</code>" in html
    response = save(login, workflow, steps[0], hx, url="https://hooks.example.com/in", body="{}")
    assert response.status_code == 422 and "make a new secret on the step" in response.text


def test_only_a_step_with_a_secret_has_one_to_regenerate(login, workflow):
    add(login, workflow, "add_tag")
    [step] = reload(workflow).steps
    assert login.post(f"/workflows/{workflow.id}/steps/{step['id']}/secret").status_code == 400


def test_the_enrolment_page_shows_the_webhook_answer_and_tag_summaries(login, app, make_contact):
    from webapp.workflows.models import Enrolment, StepRun

    workflow = services.create_workflow("Shown", "manual")
    workflow.steps = [{"id": "t1", "type": "remove_tag", "key": "", "config": {"tag": "gone"}}]
    db.session.commit()
    services.publish(workflow)
    enrolment = services.enrol(workflow, make_contact(), {"type": "manual"})
    db.session.commit()
    from webapp.worker import drain

    drain(app)
    run = db.session.scalar(select(StepRun))
    assert run.output["removed"] is False
    html = login.get(f"/enrolments/{enrolment.id}").text
    assert "did not have the tag “gone”" in html
    assert db.session.get(Enrolment, enrolment.id).status == "completed"
