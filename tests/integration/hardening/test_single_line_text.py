"""Single-line text (names, calendar name, sender name, subject) with a line break, a control or a direction
character is refused at every entry point with a message naming the field, and nothing is stored."""

import io

import pytest
from sqlalchemy import select

from tests.conftest import iso, tomorrow_at
from tests.factories import follow_up_workflow, link_step, make_workflow
from tests.helpers import calendar_form, count, hook_url
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars.models import Calendar
from webapp.contacts import importer
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.workflows import exchange
from webapp.workflows import services as workflows
from webapp.workflows.models import Workflow

# (value, what the message says after the field's name)
HOSTILE = [
    ("Ada\r\nBcc: eve@example.com", "must be one line: remove the line break."),
    ("Ada\nLovelace", "must be one line: remove the line break."),
    ("Ada\u2028Lovelace", "must be one line: remove the line break."),
    ("Ada \u202egnp.exe", "contains an invisible character that changes the text direction (U+202E"),
    ("Ada \u2066x\u2069", "contains an invisible character that changes the text direction (U+2066"),
    ("Ada\u200e", "contains an invisible character that changes the text direction (U+200E"),
    ("Ada\x1b[2J", "contains an invisible control character (U+001B"),
    ("Ada\x9b", "contains an invisible control character (U+009B"),
]
HOSTILE_IDS = ["crlf", "lf", "line-separator", "rlo", "isolate", "lrm", "escape", "c1"]


# --- contacts: form, API, CSV import, inbound webhook ---------------------------------------------


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
@pytest.mark.parametrize(("field", "label"), [("first_name", "First name"), ("last_name", "Last name")])
def test_contact_form(login, make_contact, field, label, value, message):
    response = login.post("/contacts/new", data={"email": "new@example.com", field: value})
    assert response.status_code == 422 and f"{label} {message}" in response.text
    assert count(Contact) == 0
    contact = make_contact(first_name="Ada", last_name="Lovelace")
    response = login.post(f"/contacts/{contact.id}/edit", data={"email": contact.email, field: value})
    assert response.status_code == 422 and f"{label} {message}" in response.text
    db.session.refresh(contact)
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_contact_api_422_names_the_field(api, make_contact, value, message):
    response = api.post("/api/v1/contacts", {"email": "new@example.com", "last_name": value})
    assert response.status_code == 422
    assert list(response.json["fields"]) == ["last_name"]
    assert response.json["fields"]["last_name"].startswith(f"Last name {message}")
    assert count(Contact) == 0
    contact = make_contact(email="ada@example.com", first_name="Ada")
    response = api.post("/api/v1/contacts", {"email": "ada@example.com", "first_name": value})
    assert response.status_code == 422 and response.json["fields"]["first_name"].startswith(f"First name {message}")
    db.session.refresh(contact)
    assert contact.first_name == "Ada"


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_csv_import_refuses_the_row_and_keeps_the_others(app, value, message):
    cell = value.replace('"', '""')
    data = f'email,first_name,last_name\nada@example.com,Ada,Lovelace\ngrace@example.com,"{cell}",Hopper\n'.encode()
    report = importer.import_csv(data)
    [refused] = report.of("refused")
    assert refused.line == 3 and refused.email == "grace@example.com"
    assert f"First name {message}" in refused.message
    assert [row.email for row in report.of("imported")] == ["ada@example.com"]
    assert db.session.scalars(select(Contact.email)).all() == ["ada@example.com"]


def test_csv_import_page_reports_the_row(login):
    data = b'email,last_name\nada@example.com,"Love\r\nlace"\n'
    response = login.post(
        "/contacts/import", data={"file": (io.BytesIO(data), "c.csv")}, content_type="multipart/form-data"
    )
    assert "Last name must be one line: remove the line break." in response.text
    assert count(Contact) == 0


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_inbound_webhook_400_names_the_field(app, client, make_calendar, value, message):
    workflow = make_workflow("webhook", steps=[link_step(make_calendar())])
    response = client.post(hook_url(workflow), json={"email": "zoe@example.com", "first_name": value})
    assert response.status_code == 400 and response.json["error"].startswith(f"first_name: First name {message}")
    form = client.post(hook_url(workflow), data={"email": "zoe@example.com", "last_name": value})
    assert form.status_code == 400 and form.json["error"].startswith(f"last_name: Last name {message}")
    assert count(Contact) == 0


# --- calendars: page and API ------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_calendar_name_refused_at_save_and_nothing_changes(login, make_calendar, value, message):
    response = login.post("/calendars/new", data=calendar_form(name=value))
    assert response.status_code == 422 and f"Name {message}" in response.text
    calendar = make_calendar(name="Keep me")
    before = (calendar.name, calendar.updated_at, calendar.duration)
    response = login.post(
        f"/calendars/{calendar.id}", data=calendar_form(name=value, slug=calendar.slug, duration="45")
    )
    assert response.status_code == 422 and f"Name {message}" in response.text
    db.session.expire_all()
    calendar = db.session.get(Calendar, calendar.id)
    assert (calendar.name, calendar.updated_at, calendar.duration) == before
    assert count(Calendar) == 1


def test_calendar_location_is_one_line_too(login):
    response = login.post("/calendars/new", data=calendar_form(location="Room 1\r\nX-Evil: 1"))
    assert response.status_code == 422 and "Location must be one line: remove the line break." in response.text
    assert count(Calendar) == 0


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_calendar_api_422_names_the_field(api, value, message):
    response = api.post("/api/v1/calendars", {"name": value})
    assert response.status_code == 422 and response.json["fields"]["name"].startswith(f"Name {message}")
    assert count(Calendar) == 0


def test_a_calendar_name_stored_before_the_check_does_not_break_booking(client, make_calendar, make_link, admin):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    db.session.execute(Calendar.__table__.update().values(name="Intro\r\ncall"))
    db.session.commit()
    _, token = make_link(calendar=calendar)
    data = {"start": iso(tomorrow_at(10)), "name": "Ada", "timezone": "UTC"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    subjects = db.session.scalars(select(OutboxMessage.subject).order_by(OutboxMessage.id)).all()
    assert subjects[0].startswith("Confirmed: Intro call on ") and len(subjects) == 2


# --- workflows: sender name (settings and import) and subject (editor and import) -----------------


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_sender_name_refused_at_save(login, value, message):
    workflow = workflows.create_workflow("W", "manual")
    workflow.sender_name = "Acme"
    db.session.commit()
    response = login.post(f"/workflows/{workflow.id}/settings", data={"allow_reentry": "y", "sender_name": value})
    assert response.status_code == 422 and f"Sender name {message}" in response.text
    db.session.expire_all()
    saved = db.session.get(Workflow, workflow.id)
    assert (saved.sender_name, saved.allow_reentry) == ("Acme", False)


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_subject_refused_at_save(login, value, message):
    workflow = workflows.create_workflow("W", "manual")
    login.post(f"/workflows/{workflow.id}/steps", data={"type": "send_email"})
    db.session.expire_all()
    [step] = db.session.get(Workflow, workflow.id).steps
    data = {f"s{step['id']}-subject": f"Hello {value}", f"s{step['id']}-body": "Hi"}
    response = login.post(f"/workflows/{workflow.id}/steps/{step['id']}", data=data)
    assert response.status_code == 422 and f"The subject {message}" in response.text
    db.session.expire_all()
    assert db.session.get(Workflow, workflow.id).steps[0]["config"]["subject"] == ""


def test_workflow_import_refuses_sender_name_and_subject(app, make_calendar):
    data = exchange.export_workflow(follow_up_workflow(make_calendar(slug="intro")))
    before = count(Workflow)
    data["settings"]["sender_name"] = "Acme\r\nBcc: eve@example.com"
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.import_workflow(data)
    assert refused.value.errors == ["settings, sender_name: Sender name must be one line: remove the line break."]
    data["settings"]["sender_name"] = "Acme"
    data["steps"][1]["config"]["subject"] = "Hi \u202eevil"
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.import_workflow(data)
    assert refused.value.errors == [
        "Step 2 (Send Email), subject: The subject contains an invisible character that changes the text "
        "direction (U+202E, right-to-left override); remove it."
    ]
    assert count(Workflow) == before


# --- the booking form -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "message"), HOSTILE, ids=HOSTILE_IDS)
def test_booking_name_refused_and_the_link_stays_usable(client, make_link, value, message):
    link, token = make_link()
    data = {"start": iso(tomorrow_at(10)), "name": value, "timezone": "UTC"}
    response = client.post(f"/book/{token}", data=data)
    assert response.status_code == 422 and f"Your name {message}" in response.text
    assert count(Booking) == 0 and count(OutboxMessage) == 0
    assert db.session.get(OneTimeLink, link.id).bookable
