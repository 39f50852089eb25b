"""Workflows as JSON files: export → import round trip, a precise message per bad file (and nothing
created), `flask workflows export|import`, the upload page, and the templates ("from a template")."""

import copy
import io
import json

import pytest
from sqlalchemy import func, select

from tests.conftest import iso, tomorrow_at
from tests.factories import ALL_WEEK, follow_up_workflow
from tests.helpers import count
from webapp.booking.models import Booking, OneTimeLink
from webapp.booking.services import cancel
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.worker import drain
from webapp.workflows import actions, exchange, services, starters
from webapp.workflows.models import Workflow

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def calendar(make_calendar):
    return make_calendar(name="Sales call", slug="sales-call", weekly=ALL_WEEK)


def document(calendar) -> dict:
    return exchange.export_workflow(follow_up_workflow(calendar))


# --- the format ------------------------------------------------------------------------------------


def test_export_then_import_round_trips(app, calendar):
    workflow = follow_up_workflow(calendar)
    exported = exchange.export_workflow(workflow)
    text = exchange.dumps(exported)
    assert exported["format"] == "oneslot.workflow" and exported["version"] == 1
    assert exported["trigger"] == {
        "type": "booking_event",
        "config": {"events": ["made", "cancelled"], "calendar": "sales-call"},
    }
    assert exported["steps"][0]["config"]["calendar"] == "sales-call" and "calendar_id" not in text
    assert "secret" not in text and "digest" not in text
    assert exported["settings"] == {"allow_reentry": True, "sender_name": "Acme sales"}

    copy_ = exchange.import_workflow(text.encode())
    assert copy_.id != workflow.id and copy_.status == "draft" and copy_.published_version_id is None
    assert copy_.webhook_digest is None  # a new inbound URL is made (and shown once) when its editor asks
    assert exchange.export_workflow(copy_) == exported  # ids kept: they are unique
    assert copy_.steps == workflow.steps and copy_.trigger_config == workflow.trigger_config
    assert services.validate(copy_) == {}


def test_a_secret_in_a_step_config_is_never_exported_and_a_new_one_is_made(app, calendar, monkeypatch):
    class SignedPost(actions.StepType):
        TYPE = "signed_post"
        CATEGORY = "Integrations"
        LABEL = "Signed POST"
        DEFAULTS = {"url": "", "secret": ""}

        def validate(self, config, earlier, **kw):
            return {} if config["url"].startswith("https://") else {"url": "An https URL."}

    monkeypatch.setitem(actions._REGISTRY, "signed_post", SignedPost())
    workflow = services.create_workflow("Post it", "manual")
    workflow.steps = [
        {"id": "p", "type": "signed_post", "key": "", "config": {"url": "https://x.test", "secret": "s3"}}
    ]
    db.session.commit()
    exported = exchange.export_workflow(workflow)
    assert exported["steps"][0]["config"] == {"url": "https://x.test"}
    imported = exchange.import_workflow(exported)
    secret = imported.steps[0]["config"]["secret"]
    assert len(secret) >= 32 and secret != "s3"


def webhook_document(url: str) -> dict:
    step = {"id": "h", "type": "webhook", "key": "", "config": {"url": url, "body": '{"e": "{{ contact.email }}"}'}}
    return {"format": "oneslot.workflow", "version": 1, "name": "Hook", "trigger": {"type": "manual"}, "steps": [step]}


def test_an_outgoing_webhook_exports_without_its_secret_and_imports_with_a_new_sealed_one(app):
    from webapp import secretbox
    from webapp.workflows.actions import webhook

    workflow = exchange.import_workflow(webhook_document("https://hooks.example.com/in"))
    sealed = workflow.steps[0]["config"]["secret"]
    plain = webhook.reveal(workflow.steps[0]["config"])
    assert secretbox.is_sealed(sealed) and len(plain) == 64
    text = exchange.dumps(exchange.export_workflow(workflow))
    # Neither the secret nor its sealed form: a sealed value opens only with this install's SECRET_KEY.
    assert plain not in text and sealed not in text and "secret" not in text
    again = exchange.import_workflow(text)
    assert webhook.reveal(again.steps[0]["config"]) not in (plain, None)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://0x7f.1:8080/hook", "127.0.0.1 is a loopback address: webhooks cannot reach it."),
        ("http://2130706433/", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]:5000/", "the IPv4-mapped spelling of 127.0.0.1, a loopback address"),
        ("http://10.0.0.8/", "10.0.0.8 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://localhost:9000/", "127.0.0.1 is a loopback address"),
    ],
)
def test_import_refuses_a_webhook_to_an_internal_address_naming_the_step(app, url, message):
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.import_workflow(webhook_document(url))
    [error] = refused.value.errors
    assert error.startswith("Step 1 (Outgoing webhook), url: ") and message in error
    assert "OUTBOUND_ALLOWED_NETWORKS" in error
    assert count(Workflow) == 0


def test_import_accepts_an_internal_receiver_the_admin_allowed(app):
    from webapp import outbound

    app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("10.0.0.0/8")
    assert exchange.import_workflow(webhook_document("http://10.0.0.8/hook")).steps[0]["config"]["url"]


def test_duplicate_or_odd_step_ids_are_replaced_keys_kept(app, calendar):
    data = document(calendar)
    data["steps"][1]["id"] = data["steps"][0]["id"]
    data["steps"][0]["id"] = "not a valid id!"
    imported = exchange.import_workflow(data)
    first, second = (step["id"] for step in imported.steps)
    assert first != "not a valid id!" and second == "s-link" and first != second
    assert [step["key"] for step in imported.steps] == ["booking_link", ""]


def test_an_imported_workflow_can_be_published_and_is_a_new_draft(app, calendar):
    imported = exchange.import_workflow(document(calendar))
    assert imported.status == "draft"
    assert services.publish(imported).number == 1


def _mutate(change):
    def apply(data):
        change(data)
        return data

    return apply


BAD = {
    "wrong format": (
        _mutate(lambda d: d.update(format="zapier.zap")),
        ["The file is not a OneSlot workflow: “format” must be “oneslot.workflow”."],
    ),
    "newer version": (
        _mutate(lambda d: d.update(version=2)),
        ["This file is in format version 2; this OneSlot reads version 1."],
    ),
    "no version": (
        _mutate(lambda d: d.pop("version")),
        ["This file is in format missing; this OneSlot reads version 1."],
    ),
    "unknown step type": (
        _mutate(lambda d: d["steps"].insert(1, {"type": "send_fax", "config": {}})),
        ["Step 2 (send_fax): unknown step type “send_fax”."],
    ),
    "missing calendar": (
        _mutate(lambda d: d["steps"][0]["config"].update(calendar="demo")),
        ["Step 1 (Generate One-Time Booking Link): calendar “demo” does not exist."],
    ),
    "missing trigger calendar": (
        _mutate(lambda d: d["trigger"]["config"].update(calendar="gone")),
        ["Trigger (Booking event): calendar “gone” does not exist."],
    ),
    "invalid step field": (
        _mutate(lambda d: d["steps"][1]["config"].update(subject="")),
        ["Step 2 (Send Email), subject: The email needs a subject."],
    ),
    "custom value from nowhere": (
        _mutate(lambda d: d["steps"][1]["config"].update(body="{{ steps.nope.url }}")),
        ["Step 2 (Send Email), body: Unknown value {{ steps.nope.url }}"],
    ),
    "bad expiry": (
        _mutate(lambda d: d["steps"][0]["config"].update(expires_in=0)),
        [
            "Step 1 (Generate One-Time Booking Link), expires_in: "
            "The expiry is a whole number of hours or days, at least 1."
        ],
    ),
    "invalid trigger": (
        _mutate(lambda d: d["trigger"]["config"].update(events=["exploded"])),
        [
            "Trigger (Booking event), events: Choose at least one booking event "
            "(made, rescheduled, cancelled, showed, no-show)."
        ],
    ),
    "missing fields": (
        _mutate(lambda d: [d.pop("name"), d.pop("trigger"), d.pop("steps")]),
        [
            "name: missing (the workflow's name, a text).",
            "trigger: missing (an object with “type” and “config”).",
            "steps: missing (a list of steps).",
        ],
    ),
    "no steps": (_mutate(lambda d: d.update(steps=[])), ["steps: Add at least one step."]),
    "a step not an object": (
        _mutate(lambda d: d["steps"].append("send_email")),
        ["Step 3 (?): must be an object with “type”, “key” and “config”."],
    ),
    "bad settings": (
        _mutate(lambda d: d["settings"].update(allow_reentry="yes")),
        ["settings, allow_reentry: must be true or false."],
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_document_names_each_problem_and_creates_nothing(app, calendar, case):
    change, expected = BAD[case]
    data = change(document(calendar))
    before = count(Workflow)
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.import_workflow(exchange.dumps(data))
    assert refused.value.errors == expected
    assert count(Workflow) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"format": "oneslot.workflow",\n  "version": 1,,}', "The file is not valid JSON: Expecting property name"),
        (b"[1, 2]", "The file is not a workflow: it holds a JSON list, not an object."),
        (b'"hello"', "The file is not a workflow: it holds a JSON str, not an object."),
        (b"\xff\xfe\x00garbage", "The file is not UTF-8 text"),
        (b" " * (exchange.MAX_BYTES + 1), "The file is larger than 1 MB"),
    ],
    ids=["bad json", "a list", "a string", "not utf-8", "too large"],
)
def test_a_file_that_is_not_a_workflow_gets_a_clear_message(app, data, message):
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.import_workflow(data)
    assert refused.value.errors[0].startswith(message)
    assert count(Workflow) == 0


def test_bad_json_names_the_line(app):
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.import_workflow('{\n  "format": "oneslot.workflow",\n  "version": 1\n  "name": "x"\n}')
    assert "(line 4, column 3)" in refused.value.errors[0]


def test_several_problems_are_all_listed(app, calendar):
    data = document(calendar)
    data["steps"][0]["config"]["calendar"] = "sales"
    data["steps"][1]["config"]["subject"] = "Line\nbreak"
    data["trigger"]["config"]["events"] = []
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.import_workflow(data)
    assert refused.value.errors == [
        "Step 1 (Generate One-Time Booking Link): calendar “sales” does not exist.",
        "Trigger (Booking event), events: Choose at least one booking event "
        "(made, rescheduled, cancelled, showed, no-show).",
        "Step 2 (Send Email), subject: The subject must be one line: remove the line break.",
    ]


def test_filename_follows_the_workflow_name(app, calendar):
    workflow = follow_up_workflow(calendar, name="Nudge: “VIP” leads / 2026!")
    assert exchange.filename(workflow) == "nudge-vip-leads-2026.workflow.json"


# --- command line ----------------------------------------------------------------------------------


def test_cli_export_to_stdout_and_to_a_file_then_import(app, runner, calendar, tmp_path):
    workflow = follow_up_workflow(calendar)
    result = runner.invoke(args=["workflows", "export", str(workflow.id)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == exchange.export_workflow(workflow)
    target = tmp_path / "flow.json"
    result = runner.invoke(args=["workflows", "export", str(workflow.id), "-o", str(target)])
    assert result.exit_code == 0 and json.loads(target.read_text()) == exchange.export_workflow(workflow)
    assert result.stdout == "" and f"Exported “Follow up, then book” to {target}" in result.stderr

    result = runner.invoke(args=["workflows", "import", str(target)])
    assert result.exit_code == 0, result.output
    new_id, name = result.stdout.strip().split("\t")
    imported = db.session.get(Workflow, int(new_id))
    assert name == "Follow up, then book" and imported.status == "draft" and imported.id != workflow.id


def test_cli_errors_go_to_stderr_with_exit_code_1(app, runner, calendar, tmp_path):
    data = document(calendar)
    data["steps"][0]["config"]["calendar"] = "nope"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = runner.invoke(args=["workflows", "import", str(bad)])
    assert result.exit_code == 1 and result.stdout == ""
    assert "not imported, 1 problem(s)" in result.stderr
    assert "Step 1 (Generate One-Time Booking Link): calendar “nope” does not exist." in result.stderr
    assert count(Workflow) == 1
    missing = runner.invoke(args=["workflows", "export", "999"])
    assert missing.exit_code == 1 and "There is no workflow 999." in missing.stderr


# --- pages -----------------------------------------------------------------------------------------


def upload(client, content: bytes, name="flow.json"):
    return client.post(
        "/workflows/import", data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data"
    )


def test_export_downloads_a_json_file(login, calendar):
    workflow = follow_up_workflow(calendar)
    response = login.get(f"/workflows/{workflow.id}/export")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="follow-up-then-book.workflow.json"'
    assert response.get_json() == exchange.export_workflow(workflow)
    assert f"/workflows/{workflow.id}/export" in login.get(f"/workflows/{workflow.id}").text


def test_upload_with_problems_lists_them_with_the_filename_and_creates_nothing(login, calendar):
    data = document(calendar)
    data["steps"][1]["config"]["subject"] = ""
    data["steps"][0]["config"]["calendar"] = "elsewhere"
    response = upload(login, exchange.dumps(data).encode(), "sales-flow.json")
    assert response.status_code == 422
    assert "<strong>sales-flow.json</strong> was not imported: 2 problems to fix" in response.text
    assert "Step 1 (Generate One-Time Booking Link): calendar “elsewhere” does not exist." in response.text
    assert "Step 2 (Send Email), subject: The email needs a subject." in response.text
    assert count(Workflow) == 1
    empty = login.post("/workflows/import", data={}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "Choose a workflow file (.json) to import." in empty.text
    garbage = upload(login, b"<html>", "page.html")
    assert garbage.status_code == 422 and "page.html" in garbage.text and "not valid JSON" in garbage.text


def test_upload_makes_a_draft_and_opens_the_editor(login, calendar):
    text = exchange.dumps(document(calendar)).encode()
    page = login.get("/workflows/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    response = upload(login, text, "sales-flow.json")
    assert response.status_code == 303
    new = db.session.scalar(select(Workflow).order_by(Workflow.id.desc()))
    assert response.location.endswith(f"/workflows/{new.id}") and new.status == "draft"
    assert "Imported “Follow up, then book” from sales-flow.json as a draft" in login.get(response.location).text


def test_the_pages_need_an_admin(client, calendar):
    workflow = follow_up_workflow(calendar)
    for path in (f"/workflows/{workflow.id}/export", "/workflows/import", "/workflows/templates"):
        response = client.get(path)
        assert response.status_code in (302, 303) and "/login" in response.location


# --- templates -------------------------------------------------------------------------------------

TEMPLATES = ["1-send-a-booking-link", "2-link-nudge-and-reminder", "3-fresh-link-after-cancellation"]


def test_the_templates_page_lists_each_with_its_outline_and_a_calendar_choice(login, calendar):
    page = login.get("/workflows/templates")
    assert page.status_code == 200
    for title in (
        "Send a one-time booking link",
        "Link, nudge and reminder",
        "Offer a fresh link after a cancellation",
    ):
        assert f"<h2>{title}</h2>" in page.text
    assert page.text.count('<option value="sales-call">Sales call</option>') == 3
    assert "Send Email: “Still keen to talk, [First name]?”" in page.text
    assert [t.slug for t in starters.all_templates()] == TEMPLATES


def test_a_template_needs_a_calendar_chosen(login, calendar):
    response = login.post("/workflows/templates/1-send-a-booking-link", data={"1-send-a-booking-link-calendar": ""})
    assert response.status_code == 422 and "Choose the calendar the links book on." in response.text
    assert count(Workflow) == 0
    assert login.post("/workflows/templates/nope", data={}).status_code == 404


def test_without_calendars_the_template_page_says_to_make_one(login):
    page = login.get("/workflows/templates")
    assert "This template needs a calendar." in page.text and "/calendars/new" in page.text


def test_template_a_imports_publishes_and_sends_the_link(app, login, calendar, smtp_server):
    smtp_server.configure(app)
    response = login.post(
        "/workflows/templates/1-send-a-booking-link", data={"1-send-a-booking-link-calendar": "sales-call"}
    )
    assert response.status_code == 303
    workflow = db.session.scalar(select(Workflow))
    assert response.location.endswith(f"/workflows/{workflow.id}") and workflow.status == "draft"
    assert workflow.steps[0]["config"]["calendar_id"] == calendar.id
    assert login.post(f"/workflows/{workflow.id}/publish").status_code == 303
    contact = contacts.create_contact({"email": "ann@example.com", "first_name": "Ann"})
    contacts.add_tags(contact, ["book-me"])
    db.session.commit()
    drain(app)
    [sent] = smtp_server.messages
    assert sent["Subject"] == "Your personal booking link, Ann" and sent["To"].endswith("<ann@example.com>")
    text = sent.get_body(("plain",)).get_content()
    assert text.startswith("Hi Ann,") and "30-minute Sales call" in text
    [url] = [word for word in text.split() if "/book/" in word]
    assert login.get(url.removeprefix(app.config["BASE_URL"])).status_code == 200


@pytest.mark.parametrize("slug", TEMPLATES)
def test_each_template_imports_and_publishes(app, calendar, slug):
    """Template (b) needs the wait and if_else step types: it fails until they exist."""
    workflow = starters.create_from(starters.get(slug), "sales-call")
    assert workflow.status == "draft" and services.publish(workflow).number == 1


def test_template_b_keeps_its_branches(app, calendar):
    """Needs the wait and if_else step types: fails until they exist."""
    workflow = starters.create_from(starters.get("2-link-nudge-and-reminder"), "sales-call")
    branching = workflow.steps[3]
    assert branching["type"] == "if_else"
    assert [s["type"] for s in branching["branches"]["yes"]] == ["wait", "send_email"]
    assert [s["type"] for s in branching["branches"]["no"]] == ["send_email"]
    assert branching["branches"]["yes"][0]["config"]["link_step"] == "booking_link"
    exported = exchange.export_workflow(workflow)
    assert exported["steps"][3]["branches"]["no"][0]["config"]["body"].count("{{ steps.booking_link.url }}") == 1
    again = exchange.import_workflow(copy.deepcopy(exported))
    assert exchange.export_workflow(again) == exported


def test_template_c_sends_a_fresh_working_link_after_a_cancellation(app, client, calendar, make_contact, smtp_server):
    smtp_server.configure(app)
    workflow = starters.create_from(starters.get("3-fresh-link-after-cancellation"), "sales-call")
    services.publish(workflow)
    contact = make_contact(first_name="Bo", email="bo@example.com")
    from webapp.booking import links

    first = links.issue(calendar, contact)
    db.session.commit()
    token = links.url(first).rsplit("/", 1)[1]
    data = {"start": iso(tomorrow_at(10)), "name": "Bo", "email": "bo@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    cancel(db.session.scalar(select(Booking)), by="admin")
    drain(app)
    [offer] = [m for m in smtp_server.messages if m["Subject"].startswith("Sorry we missed you")]
    assert offer["Subject"] == "Sorry we missed you — book again, Bo"
    [url] = [word for word in offer.get_body(("plain",)).get_content().split() if "/book/" in word]
    assert url.rsplit("/", 1)[1] != token
    assert app.test_client().get(f"/book/{token}").status_code == 410  # the old link stays used (to another browser)
    again = {**data, "start": iso(tomorrow_at(11))}
    assert client.post(url.removeprefix(app.config["BASE_URL"]), data=again).status_code == 303
    assert db.session.scalar(select(func.count()).select_from(OneTimeLink).where(OneTimeLink.used_at.is_not(None))) == 2
