"""Workflows: triggers, versions, the two first step types, and the engine's exactly-once guarantees."""

import os
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import iso, statements_run, tomorrow_at
from tests.factories import email_step, enrol_now, link_step, make_workflow
from tests.helpers import count, enrolments, hook_url
from webapp.booking import links
from webapp.booking.models import Booking, OneTimeLink
from webapp.clock import utcnow
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain
from webapp.workflows import engine, services, triggers
from webapp.workflows.models import Enrolment, StepRun, Workflow, WorkflowVersion

pytestmark = pytest.mark.usefixtures("fast_retries")

ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


# --- triggers --------------------------------------------------------------------------------------


def test_contact_created_enrols_in_published_workflows_only(app, calendar):
    live = make_workflow("contact_created", steps=[link_step(calendar)])
    make_workflow("contact_created", steps=[link_step(calendar)], publish=False)
    paused = make_workflow("contact_created", steps=[link_step(calendar)])
    services.pause(paused)
    contact = contacts.create_contact({"email": "new@example.com", "first_name": "New"})
    [enrolment] = enrolments()
    assert (enrolment.workflow_id, enrolment.contact_id) == (live.id, contact.id)
    assert enrolment.event == {"type": "contact_created"} and enrolment.status == "active"


def test_the_enrolment_rolls_back_with_the_event(app, calendar):
    make_workflow("contact_created", steps=[link_step(calendar)])
    contacts.new_contact({"email": "gone@example.com"})
    db.session.rollback()
    assert enrolments() == []


@pytest.mark.parametrize("how", ["service", "page", "import"])
def test_tag_added_enrols_from_every_place_a_tag_is_added(app, login, calendar, make_contact, how):
    workflow = make_workflow("tag_added", {"tag": "VIP"}, steps=[link_step(calendar)])
    make_workflow("tag_added", {"tag": "other"}, steps=[link_step(calendar)])
    contact = make_contact(email="ada@example.com")
    if how == "service":
        contacts.add_tags(contact, ["news", "Vip "])
        db.session.commit()
    elif how == "page":
        assert login.post(f"/contacts/{contact.id}/tags", data={"names": "vip, news"}).status_code in (200, 303)
    else:
        from webapp.contacts.importer import import_csv

        import_csv(b"email,tags\nada@example.com,vip\n")
    [enrolment] = enrolments()
    assert enrolment.workflow_id == workflow.id and enrolment.event == {"type": "tag_added", "tag": "vip"}


def test_csv_import_fires_contact_created_for_new_rows(app, calendar, make_contact):
    from webapp.contacts.importer import import_csv

    make_contact(email="old@example.com")
    make_workflow("contact_created", steps=[link_step(calendar)])
    import_csv(b"email\nold@example.com\nnew1@example.com\nnew2@example.com\n")
    assert sorted(e.contact.email for e in enrolments()) == ["new1@example.com", "new2@example.com"]


@pytest.mark.parametrize("reentry", [False, True])
def test_reentry_setting(app, calendar, make_contact, reentry):
    workflow = make_workflow("tag_added", {"tag": "vip"}, steps=[link_step(calendar)], allow_reentry=reentry)
    contact = make_contact()
    contacts.add_tags(contact, ["vip"])
    db.session.commit()
    drain(app)
    assert enrolments()[0].status == "completed"
    contacts.remove_tag(contact, "vip")
    contacts.add_tags(contact, ["vip"])
    db.session.commit()
    assert len(enrolments(workflow)) == (2 if reentry else 1)


def test_reentry_off_within_one_transaction_and_after_a_savepoint(app, calendar, make_contact):
    """Enrolments added and not yet flushed count as "already in"; one rolled back to a savepoint does not."""
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    one, two = make_contact(), make_contact()
    version = db.session.get(WorkflowVersion, workflow.published_version_id)  # loaded: enrol() runs no query to get it
    assert services.enrol(workflow, one, {"type": "manual"}) is not None
    assert db.session.new and version is not None
    assert services.enrol(workflow, one, {"type": "manual"}) is None  # the first one is not flushed yet
    with db.session.begin_nested() as savepoint:
        assert services.enrol(workflow, two, {"type": "manual"}) is not None
        savepoint.rollback()
    assert services.enrol(workflow, two, {"type": "manual"}) is not None
    db.session.commit()
    assert sorted(e.contact_id for e in enrolments(workflow)) == sorted([one.id, two.id])


def test_a_bulk_tagging_checks_re_entry_with_preloaded_enrolments(app, calendar, make_contact):
    """preload_enrolments() answers every re-entry check of the transaction: no query per contact."""
    workflow = make_workflow("tag_added", {"tag": "vip"}, steps=[link_step(calendar)])
    before, fresh = make_contact(), make_contact()
    enrol_now(workflow, before)
    services.preload_enrolments([before.id, fresh.id])
    with statements_run() as statements:
        for contact in (before, fresh, fresh):
            services.enrol(workflow, contact, {"type": "tag_added", "tag": "vip"})
    db.session.commit()
    assert [s for s in statements if "EXISTS" in s] == []
    assert sorted(e.contact_id for e in enrolments(workflow)) == sorted([before.id, fresh.id])


def test_manual_enrolment_of_a_selection_or_a_tag(app, calendar, make_contact):
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    a, b, c = make_contact(), make_contact(), make_contact()
    contacts.add_tags(c, ["trial"])
    db.session.commit()
    assert len(services.enrol_manually(workflow, [a, b, a])) == 2
    assert len(services.enrol_manually(workflow, tag="Trial")) == 1
    assert len(services.enrol_manually(workflow, [a], tag="trial")) == 0  # already in: re-entry is off
    assert sorted(e.contact_id for e in enrolments()) == sorted([a.id, b.id, c.id])


def test_booking_made_with_a_step_link_fires_a_booking_event_workflow(app, client, calendar, make_calendar):
    other = make_calendar(name="Other")
    sender = make_workflow("manual", steps=[link_step(calendar)])
    on_made = make_workflow(
        "booking_event", {"events": ["made"], "calendar_id": calendar.id}, steps=[link_step(calendar)]
    )
    make_workflow("booking_event", {"events": ["made"], "calendar_id": other.id}, steps=[link_step(other)])
    on_cancel = make_workflow("booking_event", {"events": ["cancelled"]}, steps=[link_step(calendar)])
    contact = contacts.create_contact({"email": "ada@example.com", "first_name": "Ada"})
    enrol_now(sender, contact)
    drain(app)
    [run] = db.session.scalars(select(StepRun)).all()
    link = db.session.get(OneTimeLink, run.output["link_id"])
    token = links.url(link).rsplit("/", 1)[1]
    data = {"start": iso(tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    booking = db.session.scalar(select(Booking))
    [fired] = enrolments(on_made)
    assert fired.event == {
        "type": "booking_made",
        "calendar_id": calendar.id,
        "booking_id": booking.id,
        "link_id": link.id,
    }
    assert enrolments(on_cancel) == []
    from webapp.booking.services import cancel

    cancel(booking, "sorry", by="admin")
    [cancelled] = enrolments(on_cancel)
    assert cancelled.event["type"] == "booking_cancelled" and cancelled.event["link_id"] == link.id
    assert len(enrolments()) == 3  # the sender's, the "made" one, the "cancelled" one


def test_attendance_fires_showed_and_no_show(app, calendar, make_link):
    from webapp.booking.services import set_attendance

    workflow = make_workflow("booking_event", {"events": ["no_show"]}, steps=[link_step(calendar)])
    link, _token = make_link(calendar=calendar)
    booking = Booking(
        calendar_id=calendar.id,
        contact_id=link.contact_id,
        start_at=utcnow() - timedelta(hours=2),
        end_at=utcnow() - timedelta(hours=1),
        name="Ada",
        email="ada@example.com",
        timezone="UTC",
    )
    db.session.add(booking)
    db.session.commit()
    set_attendance(booking, "showed")
    assert enrolments(workflow) == []
    set_attendance(booking, "no_show")
    assert enrolments(workflow)[0].event["type"] == "booking_no_show"


# --- the inbound webhook ---------------------------------------------------------------------------


def test_webhook_json_creates_the_contact_and_enrols_it(app, client, calendar):
    workflow = make_workflow("webhook", steps=[link_step(calendar)])
    response = client.post(hook_url(workflow), json={"email": "Zoe@Example.com", "first_name": "Zoe", "tags": ["lead"]})
    assert response.status_code == 202, response.text
    [enrolment] = enrolments()
    assert response.json == {"contact_id": enrolment.contact_id, "enrolment_id": enrolment.id}
    assert enrolment.contact.first_name == "Zoe" and enrolment.contact.tag_names == ["lead"]


def test_webhook_form_updates_an_existing_contact(app, client, calendar, make_contact):
    contact = make_contact(email="ada@example.com", first_name="Ada")
    workflow = make_workflow("webhook", steps=[link_step(calendar)])
    response = client.post(hook_url(workflow), data={"email": "ADA@example.com", "last_name": "King", "tags": "a, b"})
    assert response.status_code == 202
    db.session.expire_all()
    assert (contact.first_name, contact.last_name, contact.tag_names) == ("Ada", "King", ["a", "b"])
    assert enrolments()[0].contact_id == contact.id


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"json": {"first_name": "No email"}}, "email"),
        ({"json": {"email": "not-an-address"}}, "email"),
        ({"json": ["a", "list"]}, "JSON object"),
        ({"data": "{broken", "content_type": "application/json"}, "JSON object"),
        ({"json": {"email": "a@example.com", "tags": 5}}, "tags"),
        ({"json": {"email": "a@example.com", "first_name": 7}}, "first_name"),
        ({"json": {"email": "a@example.com", "phone": "call me"}}, "phone"),
        ({}, "email"),
    ],
)
def test_webhook_bad_bodies_get_400_naming_the_problem(app, client, calendar, kwargs, message):
    workflow = make_workflow("webhook", steps=[link_step(calendar)])
    response = client.post(hook_url(workflow), **kwargs)
    assert response.status_code == 400 and message in response.json["error"]
    assert enrolments() == []


def test_webhook_secret_is_checked_and_regenerable(app, client, calendar):
    workflow = make_workflow("webhook", steps=[link_step(calendar)])
    assert workflow.webhook_digest is None  # no URL until one is made
    assert client.post(f"/hooks/{workflow.id}/", json={"email": "a@example.com"}).status_code == 404
    old = hook_url(workflow)
    assert client.post(f"/hooks/{workflow.id}/wrong", json={"email": "a@example.com"}).status_code == 404
    assert client.post(f"/hooks/{workflow.id + 1}/{old.rsplit('/', 1)[1]}", json={"email": "a@x.io"}).status_code == 404
    new = hook_url(workflow)
    assert client.post(old, json={"email": "a@example.com"}).status_code == 404
    assert client.post(new, json={"email": "a@example.com"}).status_code == 202
    services.pause(workflow)
    assert client.post(new, json={"email": "b@example.com"}).status_code == 409
    assert len(enrolments()) == 1


def test_webhook_secret_is_stored_only_as_a_digest(app, client, calendar):
    from sqlalchemy import text

    from webapp.workflows.models import secret_digest

    workflow = make_workflow("webhook", steps=[link_step(calendar)])
    secret = hook_url(workflow).rsplit("/", 1)[1]
    row = db.session.execute(text("SELECT * FROM workflows WHERE id = :id"), {"id": workflow.id}).mappings().one()
    assert secret not in repr(dict(row)) and row["webhook_digest"] == secret_digest(secret)
    # A request that knows the digest but not the secret gets nowhere.
    assert client.post(f"/hooks/{workflow.id}/{row['webhook_digest']}", json={"email": "a@x.io"}).status_code == 404


# --- publishing, versions, validation --------------------------------------------------------------


def test_editing_and_republishing_does_not_change_an_enrolment_in_flight(app, calendar, make_calendar, make_contact):
    other = make_calendar(name="Other")
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    first = enrol_now(workflow, make_contact())
    workflow.steps = [link_step(other), email_step()]
    db.session.commit()
    version = services.publish(workflow)
    assert version.number == 2
    second = enrol_now(workflow, make_contact())
    drain(app)
    first_links = db.session.scalars(select(OneTimeLink).where(OneTimeLink.contact_id == first.contact_id)).all()
    assert [link.calendar_id for link in first_links] == [calendar.id]
    assert [run.step_type for run in enrolments()[0].step_runs] == ["generate_link"]
    assert [run.step_type for run in db.session.get(Enrolment, second.id).step_runs] == ["generate_link", "send_email"]
    assert count(OutboxMessage) == 1


def test_publish_refuses_a_broken_workflow_with_one_message_per_problem(app, calendar):
    workflow = make_workflow("tag_added", {}, steps=[], publish=False)
    with pytest.raises(services.WorkflowInvalid) as caught:
        services.publish(workflow)
    assert set(caught.value.errors) == {"trigger", "workflow"}
    workflow.trigger_config = {"tag": "vip"}
    workflow.steps = [
        email_step("e1", body="Book: {{ steps.booking_link.url }}"),
        {"id": "l1", "type": "generate_link", "key": "booking_link", "config": {}},
    ]
    db.session.commit()
    with pytest.raises(services.WorkflowInvalid) as caught:
        services.publish(workflow)
    errors = caught.value.errors
    assert "{{ steps.booking_link.url }} comes from a step that does not run before this one" in errors["e1"]["body"]
    assert errors["l1"] == {"calendar_id": "Choose the calendar the link books on."}
    assert workflow.status == "draft" and workflow.published_version_id is None


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ contact.favourite_colour }}", "Unknown value {{ contact.favourite_colour }}"),
        ("{{ steps.nope.url }}", "Unknown value {{ steps.nope.url }}"),
        ("{{ steps.booking_link.token }}", "Unknown value {{ steps.booking_link.token }}"),
        ("{{ contact.__class__ }}", "{{ contact.__class__ }} is not allowed"),
        ("{{ ''.__class__.__mro__ }}", "is not allowed"),
        ("{{ contact.first_name.upper() }}", "is not allowed"),
        ("{% for x in contact %}{{ x }}{% endfor %}", "is not allowed"),
        ("{{ cycler.__init__.__globals__ }}", "is not allowed"),
        ("{{ contact.email | attr('__class__') }}", "is not allowed"),
        ("{{ contact.first_name ", "error on line 1"),
    ],
)
def test_custom_values_are_checked_at_save(app, calendar, template, message):
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step(body=template)], publish=False)
    errors = services.validate(workflow)
    assert message in errors["s-email"]["body"], errors


def test_calendar_values_need_a_link_step_or_a_booking_trigger(app, calendar):
    workflow = make_workflow("manual", steps=[email_step(body="{{ calendar.name }}")], publish=False)
    assert "needs a Generate One-Time Booking Link step" in services.validate(workflow)["s-email"]["body"]
    workflow.trigger_type, workflow.trigger_config = "booking_event", {"events": ["made"]}
    assert services.validate(workflow) == {}


def test_the_sandbox_renders_nothing_dangerous_even_unchecked():
    from webapp.workflows import merge

    values = {"contact": {"first_name": "Ada"}}
    assert merge.render("{{ contact.__class__ }}{{ contact.first_name }}", values) == "Ada"
    with pytest.raises(Exception, match="unsafe|not safely callable|access"):
        merge.render("{{ ''.__class__.__mro__[1].__subclasses__() }}", values)


# --- the steps -------------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", ["reuse", "revoke"])
def test_one_contacts_enrolments_in_one_batch_leave_one_live_link(app, calendar, make_contact, existing):
    """A batch runs its enrolments' steps in rounds with one flush each: two enrolments of one contact
    must still see each other's link, as they would one after the other."""
    first = make_workflow("manual", steps=[link_step(calendar, existing=existing)])
    second = make_workflow("manual", steps=[link_step(calendar, existing=existing), email_step()])
    contact, other = make_contact(), make_contact(email="other@example.com")
    for workflow in (first, second):
        enrol_now(workflow, contact)
    enrol_now(second, other)
    engine.run_due(50)  # one claim: the three enrolments run in one batch
    assert {e.status for e in enrolments()} == {"completed"}
    mine = db.session.scalars(select(OneTimeLink).where(OneTimeLink.contact_id == contact.id)).all()
    assert [link.status for link in mine].count("active") == 1
    assert len(mine) == (1 if existing == "reuse" else 2)
    assert len(db.session.scalars(select(OneTimeLink).where(OneTimeLink.contact_id == other.id)).all()) == 1


@pytest.mark.parametrize("existing", ["reuse", "revoke"])
def test_generate_link_reuses_or_revokes_the_contacts_active_link(app, calendar, make_contact, existing):
    workflow = make_workflow("manual", steps=[link_step(calendar, existing=existing, expires_in=3)], allow_reentry=True)
    contact = make_contact()
    first = enrol_now(workflow, contact)
    drain(app)
    second = enrol_now(workflow, contact)
    drain(app)
    all_links = db.session.scalars(select(OneTimeLink).order_by(OneTimeLink.id)).all()
    outputs = [run.output for e in enrolments() for run in e.step_runs]
    if existing == "reuse":
        [link] = all_links
        assert outputs[0]["link_id"] == outputs[1]["link_id"] == link.id and outputs[1]["reused"] is True
    else:
        old, link = all_links
        assert old.status == "revoked" and link.status == "active" and outputs[1]["link_id"] == link.id
    first_link = all_links[0]
    # Which run made the link is in its columns; the metadata stays the API client's own (empty here).
    assert (first_link.workflow_id, first_link.enrolment_id, first_link.step_id) == (
        workflow.id,
        first.id,
        "s-booking_link",
    )
    assert first_link.meta == {} and first_link.test_run is False
    assert first_link.source == "workflow" and first_link.contact_id == contact.id
    assert timedelta(days=2, hours=23) < first_link.expires_at - first_link.created_at <= timedelta(days=3)
    assert second.id != first.id


def test_send_email_end_to_end_with_a_link_that_books_once(app, client, calendar, smtp_server):
    smtp_server.configure(app)
    workflow = make_workflow("contact_created", steps=[link_step(calendar), email_step()], sender_name="Acme")
    contact = contacts.create_contact({"email": "ada@example.com", "first_name": "Ada<b>"})
    drain(app)
    [enrolment] = enrolments()
    assert enrolment.contact_id == contact.id
    assert enrolment.status == "completed" and [r.status for r in enrolment.step_runs] == ["done", "done"]
    [sent] = smtp_server.messages
    assert sent["Subject"] == "Your link, Ada<b>" and sent["To"] == '"Ada<b>" <ada@example.com>'
    assert sent["From"].startswith("Acme <")  # the workflow's sender name
    text = sent.get_body(("plain",)).get_content()
    html = sent.get_body(("html",)).get_content()
    [url] = [word for word in text.split() if "/book/" in word]
    assert text.startswith("Hi Ada<b>,") and "Pick a time for Intro call:" in text
    assert "Hi Ada&lt;b&gt;," in html and f'href="{url}"' in html and "Acme" in html
    stored = db.session.scalar(select(OutboxMessage))
    assert url not in stored.text_body and "⟦book:" in stored.text_body  # no working link at rest
    token = url.rsplit("/", 1)[1]
    data = {"start": iso(tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    assert client.post(f"/book/{token}", data={**data, "start": iso(tomorrow_at(11))}).status_code == 410
    assert count(Booking) == 1 and workflow.id == enrolment.workflow_id


def test_the_subject_stays_one_line(app, calendar, make_contact):
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    enrol_now(workflow, make_contact(first_name="Ada\r\nBcc: victim@example.com"))
    drain(app)
    message = db.session.scalar(select(OutboxMessage))
    assert message.subject == "Your link, Ada Bcc: victim@example.com"
    assert message.status == "held"  # no MAIL_SERVER: the demo keeps it readable, the step is done
    assert enrolments()[0].status == "completed"


def test_an_email_the_server_refuses_fails_the_enrolment_with_the_reason(app, calendar, make_contact, smtp_server):
    smtp_server.configure(app)
    smtp_server.refuse(10, "550 5.1.1 No such user")
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    enrol_now(workflow, make_contact())
    drain(app)
    [enrolment] = enrolments()
    assert enrolment.status == "failed" and "550 5.1.1 No such user" in enrolment.last_error
    assert enrolment.step_runs[-1].status == "failed" and count(OutboxMessage) == 1


def test_a_temporary_refusal_is_retried_and_the_email_goes_once(app, calendar, make_contact, smtp_server):
    smtp_server.configure(app)
    smtp_server.refuse(1)
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    enrol_now(workflow, make_contact())
    drain(app)
    assert enrolments()[0].status == "completed" and len(smtp_server.messages) == 1


# --- the engine ------------------------------------------------------------------------------------


def test_the_worker_sends_a_step_email_at_once_and_finishes_in_one_claim(app, calendar, make_contact, smtp_server):
    smtp_server.configure(app)
    app.config["WORKFLOW_POLL_SECONDS"] = 3600  # no second claim could finish it within this test
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    enrol_now(workflow, make_contact())
    assert engine.run_due(10) == 1
    [enrolment] = enrolments()
    assert enrolment.status == "completed" and enrolment.locked_by is None and enrolment.run_at is None
    assert [m.status for m in db.session.scalars(select(OutboxMessage))] == ["sent"]
    assert len(smtp_server.messages) == 1


def test_a_refused_expedited_email_waits_for_the_outbox_retry(app, calendar, make_contact, smtp_server):
    smtp_server.configure(app)
    smtp_server.refuse(1)
    app.config.update(WORKFLOW_POLL_SECONDS=3600, MAIL_RETRY_DELAYS=(3600,))
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    enrol_now(workflow, make_contact())
    assert engine.run_due(10) == 1
    [enrolment] = enrolments()
    message = db.session.scalar(select(OutboxMessage))
    assert enrolment.status == "active" and enrolment.locked_by is None
    assert enrolment.step_runs[-1].status == "waiting" and enrolment.run_at > utcnow() + timedelta(minutes=59)
    assert message.status == "pending" and message.attempts == 1 and smtp_server.messages == []
    assert engine.run_due(10) == 0  # nothing due: neither the enrolment nor (see run_at) its message


def test_a_batch_runs_many_enrolments_and_one_failure_sends_them_one_by_one(app, calendar, make_contact, smtp_server):
    smtp_server.configure(app)
    app.config["WORKFLOW_POLL_SECONDS"] = 3600  # only this one claim can finish them
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    good = [make_contact() for _ in range(4)]
    bad = make_contact(email="broken@example.com")
    for contact in good:
        enrol_now(workflow, contact)
    assert engine.run_due(10) == 4  # one batch, nothing failing
    assert {e.status for e in enrolments()} == {"completed"} and len(smtp_server.messages) == 4
    # A step that fails (here: the address became invalid) rolls its batch back; each then runs alone.
    more = [make_contact() for _ in range(3)]
    for contact in [*more[:2], bad, more[2]]:
        enrol_now(workflow, contact)
    bad.email = "not an address"  # past the forms' checks, as an old row could be
    db.session.commit()
    assert engine.run_due(10) == 4
    by_contact = {e.contact_id: e for e in enrolments()}
    assert by_contact[bad.id].status == "failed" and "not a valid email address" in by_contact[bad.id].last_error
    assert all(by_contact[c.id].status == "completed" for c in good + more)
    assert len(smtp_server.messages) == 7 and count(OneTimeLink) == 8 and count(OutboxMessage) == 7
    assert {run.attempts for e in enrolments() for run in e.step_runs} == {1}


def test_a_crash_between_the_halves_rolls_back_and_the_retry_does_it_once(app, calendar, make_contact, monkeypatch):
    # "revoke": a link that survived the crash would be revoked and replaced, not silently reused.
    workflow = make_workflow("manual", steps=[link_step(calendar, existing="revoke"), email_step()])
    enrol_now(workflow, make_contact())
    real = engine._record
    crashed = set()

    def crash_after_side_effects(enrolment, instruction, *args, **kwargs):
        if instruction.step["id"] not in crashed:  # each step crashes once
            crashed.add(instruction.step["id"])
            db.session.flush()  # the link and the outbox row are written…
            raise RuntimeError("worker killed")  # …and the process dies before the step is recorded
        return real(enrolment, instruction, *args, **kwargs)

    monkeypatch.setattr(engine, "_record", crash_after_side_effects)
    drain(app)
    [enrolment] = enrolments()
    assert enrolment.status == "completed"
    assert count(OneTimeLink) == 1 and count(OutboxMessage) == 1
    runs = {run.step_type: run for run in enrolment.step_runs}
    # The link step's crash came in a batch, which rolled back whole and ran the enrolment alone (no
    # attempt recorded); the email step's crash came in that run, recorded as a failed attempt, then retried.
    assert runs["generate_link"].attempts == 1 and runs["send_email"].attempts == 2


def test_a_hard_crash_is_picked_up_after_the_lease(app, calendar, make_contact, monkeypatch):
    workflow = make_workflow("manual", steps=[link_step(calendar, existing="revoke"), email_step()])
    enrolment = enrol_now(workflow, make_contact())

    def die(*args, **kwargs):
        db.session.flush()
        raise SystemExit("killed")  # not an Exception: nothing records the failure

    monkeypatch.setattr(engine, "_record", die)
    with pytest.raises(SystemExit):
        engine.run_due(10)
    db.session.rollback()
    monkeypatch.undo()
    assert engine.run_due(10) == 0  # the dead worker's claim still holds
    db.session.execute(Enrolment.__table__.update().values(locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    drain(app)
    assert db.session.get(Enrolment, enrolment.id, populate_existing=True).status == "completed"
    assert count(OneTimeLink) == 1 and count(OutboxMessage) == 1


def test_step_failures_back_off_then_fail_the_enrolment_with_the_reason(app, calendar, make_contact):
    app.config["WORKFLOW_RETRY_DELAYS"] = (60, 300)
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    enrolment = enrol_now(workflow, make_contact())
    calendar.archived_at = utcnow()
    db.session.commit()
    for attempt, delay in ((1, 60), (2, 300)):
        before = utcnow()
        assert engine.run_due(10) == 1
        enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
        assert enrolment.status == "active" and enrolment.attempts == attempt
        assert before + timedelta(seconds=delay - 1) <= enrolment.run_at <= utcnow() + timedelta(seconds=delay)
        assert engine.run_due(10) == 0  # not due yet
        enrolment.run_at = utcnow()
        db.session.commit()
    assert engine.run_due(10) == 1
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed" and "archived" in enrolment.last_error
    [run] = enrolment.step_runs
    assert run.status == "failed" and run.attempts == 3 and "archived" in run.error
    assert count(OneTimeLink) == 0


def test_a_paused_workflow_holds_its_enrolments_until_resumed(app, calendar, make_contact):
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    enrol_now(workflow, make_contact())
    services.pause(workflow)
    assert drain(app) == 0 and enrolments()[0].status == "active"
    services.resume(workflow)
    drain(app)
    assert enrolments()[0].status == "completed"


def test_the_conditional_update_lets_one_claimer_win(app, calendar, make_contact):
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    ids = [enrol_now(workflow, make_contact()).id for _ in range(3)]
    assert engine.take(ids, "worker-a") == ids
    assert engine.take(ids, "worker-b") == []


def test_a_claim_reads_each_enrolment_once(app, calendar, make_contact):
    """One query for the candidates, one UPDATE … RETURNING for the claim: no enrolment is read again."""
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    ids = [enrol_now(workflow, make_contact()).id for _ in range(4)]
    with statements_run() as statements:
        assert sorted(engine.claim(10, "worker-a")) == ids
    reads = [s for s in statements if s.startswith("SELECT") and "enrolments" in s.split(" WHERE ")[0]]
    assert len(reads) <= 1  # the candidates (PostgreSQL claims them with the same SELECT … FOR UPDATE)


def test_a_worker_that_lost_its_claim_runs_nothing(app, calendar, make_contact):
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    enrolment = enrol_now(workflow, make_contact())
    assert engine.claim(10, "slow") == [enrolment.id]
    # The slow worker's lease runs out and another worker takes the enrolment over.
    db.session.execute(Enrolment.__table__.update().values(locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert engine.claim(10, "fast") == [enrolment.id]
    assert engine.run_enrolment(enrolment.id, "slow") == "lost"
    assert engine.run_enrolment(enrolment.id, "fast") == "finished"
    assert count(OneTimeLink) == 1


def test_concurrent_workers_never_run_one_enrolment_twice(app, calendar, make_contact):
    app.config["WORKFLOW_POLL_SECONDS"] = 3600  # an email step left waiting is not claimed again
    workflow = make_workflow("manual", steps=[link_step(calendar), email_step()])
    ids = {enrol_now(workflow, make_contact()).id for _ in range(12)}
    db.session.remove()
    claims: dict[str, list[int]] = {}
    errors = []
    start = threading.Barrier(4)

    def worker(name):
        with app.app_context():
            try:
                start.wait()
                taken = claims.setdefault(name, [])
                while batch := engine.claim(2, name):
                    taken.extend(batch)
                    for enrolment_id in batch:
                        engine.run_enrolment(enrolment_id, name)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    every = [i for taken in claims.values() for i in taken]
    assert sorted(every) == sorted(ids), "each enrolment claimed exactly once"
    # Each worker sent (here: held, no mail server) its own emails at once and finished its enrolments.
    assert {(e.status, e.step_index, e.locked_by) for e in enrolments()} == {("completed", 2, None)}
    assert {run.status for e in enrolments() for run in e.step_runs} == {"done"}
    assert {run.attempts for e in enrolments() for run in e.step_runs} == {1}
    assert {m.status for m in db.session.scalars(select(OutboxMessage))} == {"held"}
    assert count(OneTimeLink) == 12 and count(OutboxMessage) == 12


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only (TEST_DATABASE_URL)")
def test_postgres_claim_skips_enrolments_another_worker_holds(app, calendar, make_contact):
    workflow = make_workflow("manual", steps=[link_step(calendar)])
    ids = [enrol_now(workflow, make_contact()).id for _ in range(5)]
    with db.engine.connect() as other, other.begin():
        held = list(
            other.scalars(select(Enrolment.id).order_by(Enrolment.id).limit(2).with_for_update(skip_locked=True))
        )
        assert held == ids[:2]
        assert engine.claim(10, "w2") == ids[2:]
        assert engine.claim(10, "w3") == []


def test_fire_refuses_an_unknown_event(app, make_contact):
    with pytest.raises(ValueError):
        triggers.fire("contact_deleted", make_contact())


def test_registry_groups_step_types_for_the_menu():
    from webapp.workflows import actions

    groups = actions.by_category()
    assert [m.TYPE for m in groups["Appointments"]] == ["generate_link"]
    assert [m.TYPE for m in groups["Communication"]] == ["send_email", "notify_email"]
    assert [m.TYPE for m in groups["Contact"]] == ["add_tag", "remove_tag"]
    assert [m.TYPE for m in groups["Integrations"]] == ["webhook"]
    assert list(groups)[:4] == ["Appointments", "Communication", "Contact", "Integrations"]
    assert actions.get("generate_link").custom_values({"key": "booking_link"})[0] == (
        "One-Time Link",
        "{{ steps.booking_link.url }}",
    )
    assert isinstance(Workflow.__tablename__, str)
