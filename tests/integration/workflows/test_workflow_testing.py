"""Test runs: "Test with a contact" runs the published version or the draft now, its mail to the admin."""

import pytest
from sqlalchemy import select

from tests.factories import email_step, link_step, make_workflow
from tests.helpers import enrolments
from webapp.extensions import db
from webapp.worker import drain
from webapp.workflows import editing, services, test_runs
from webapp.workflows.models import WorkflowVersion

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def seed(calendar, make_contact):
    """A published workflow (link, then email) and a contact."""
    workflow = make_workflow("tag_added", {"tag": "vip"}, steps=[link_step(calendar), email_step(subject="Hello")])
    return workflow, make_contact(email="ada@example.com", first_name="Ada")


def start(client, workflow, contact, **data):
    return client.post(
        f"/workflows/{workflow.id}/test",
        data={"contact": f"{contact.name} <{contact.email}>", "version": "published", **data},
        headers={"HX-Request": "true"},
    )


def test_a_test_of_the_published_version_mails_the_admin(app, login, seed, smtp_server):
    smtp_server.configure(app)
    workflow, contact = seed
    before = editing.counts([workflow.id])
    response = start(login, workflow, contact)
    assert response.status_code == 200
    assert "Test run #" in response.text and 'hx-trigger="every 1s"' in response.text  # polls while running
    [run] = enrolments()
    assert run.is_test and run.version_id == workflow.published_version_id and run.contact_id == contact.id
    assert run.event["test_mail_to"] == "admin@example.com" and run.event["type"] == "test"
    drain(app)
    [sent] = smtp_server.messages
    assert sent["To"] == "admin@example.com" and sent["Subject"] == "[Test] Hello"
    assert smtp_server.envelopes[0][1] == ["admin@example.com"]
    assert enrolments()[0].status == "completed"
    assert editing.counts([workflow.id]) == before  # left out of the list's counts
    done = login.get(f"/workflows/test-runs/{run.id}", headers={"HX-Request": "true"})
    assert "every 1s" not in done.text  # ended: no more polling
    assert "Every step ran." in done.text and "[Test] Hello" in done.text and "sent" in done.text
    history = login.get(f"/workflows/{workflow.id}/enrolments").text
    assert "badge-enrolment-test" in history


def test_ticked_the_mail_goes_to_the_contact(app, login, seed, smtp_server):
    smtp_server.configure(app)
    workflow, contact = seed
    assert start(login, workflow, contact, send_to_contact="y").status_code == 200
    drain(app)
    [sent] = smtp_server.messages
    assert "ada@example.com" in sent["To"] and sent["Subject"] == "[Test] Hello"


def test_a_test_of_the_draft_runs_a_test_version_that_is_never_published(app, login, seed, calendar, smtp_server):
    smtp_server.configure(app)
    workflow, contact = seed
    workflow.steps = [link_step(calendar), email_step(subject="Draft subject")]
    db.session.commit()
    assert start(login, workflow, contact, version="draft").status_code == 200
    assert start(login, workflow, contact, version="draft").status_code == 200  # the same draft: same version
    drain(app)
    assert [m["Subject"] for m in smtp_server.messages] == ["[Test] Draft subject"] * 2
    tests = db.session.scalars(select(WorkflowVersion).where(WorkflowVersion.created_by == "test")).all()
    assert len(tests) == 1 and tests[0].number < 0
    assert {e.version_id for e in enrolments()} == {tests[0].id}
    db.session.refresh(workflow)
    assert workflow.published_version.number == 1 and workflow.has_unpublished_changes
    assert services.publish(workflow).number == 2  # test versions do not take numbers
    workflow.steps = [link_step(calendar), email_step(subject="Another")]
    db.session.commit()
    test_runs.start(workflow, contact, "draft", False, "admin@example.com")
    numbers = db.session.scalars(select(WorkflowVersion.number).order_by(WorkflowVersion.number)).all()
    assert numbers == [-2, -1, 1, 2]
    assert "a test copy of the draft" in login.get(f"/enrolments/{enrolments()[0].id}").text


def test_an_invalid_draft_is_refused_with_its_problems(app, login, seed):
    workflow, contact = seed
    workflow.steps = [*workflow.steps, email_step("s-2", subject="")]
    db.session.commit()
    response = start(login, workflow, contact, version="draft")
    assert response.status_code == 422
    assert "The draft cannot be tested yet" in response.text
    assert "Step 3 (Send Email): The email needs a subject." in response.text
    assert enrolments() == [] and db.session.scalar(select(WorkflowVersion).where(WorkflowVersion.number < 0)) is None


def test_refusals_name_the_field(app, login, seed, make_contact):
    workflow, contact = seed
    nobody = login.post(f"/workflows/{workflow.id}/test", data={"contact": "nobody@example.com"})
    assert nobody.status_code == 422 and "Choose a contact" in nobody.text  # the page, without JavaScript
    assert 'value="nobody@example.com"' in nobody.text  # what was typed stays
    draft_only = make_workflow("manual", steps=workflow.steps, publish=False)
    refused = start(login, draft_only, contact)
    assert refused.status_code == 422 and "Nothing is published yet: test the draft." in refused.text
    assert enrolments() == []  # nothing refused made anything
    services.pause(workflow)
    assert start(login, workflow, contact).status_code == 200  # a paused workflow can still be tested
    assert [e.is_test for e in enrolments()] == [True]


def test_without_javascript_a_test_redirects_to_its_live_page(app, login, seed):
    workflow, contact = seed
    response = login.post(f"/workflows/{workflow.id}/test", data={"contact": contact.email, "version": "published"})
    assert response.status_code == 303
    [run] = enrolments()
    assert response.headers["Location"].endswith(f"/workflows/test-runs/{run.id}")
    page = login.get(response.headers["Location"])
    assert page.status_code == 200 and "Refresh" in page.text and "Test run #" in page.text


def test_the_editor_shows_the_test_panel_and_the_contact_search(app, login, seed, make_contact):
    workflow, _ = seed
    make_contact(email="grace@example.com", first_name="Grace", last_name="Hopper")
    page = login.get(f"/workflows/{workflow.id}").text
    assert "Test with a contact" in page and 'id="test-contacts"' in page
    found = login.get(f"/workflows/{workflow.id}/test/contacts", query_string={"contact": "hopp"}).text
    assert "grace@example.com" in found and "ada@example.com" not in found


def test_booked_counts_leave_test_runs_out(app, login, seed, client):
    from tests.conftest import iso, tomorrow_at
    from webapp.booking import links
    from webapp.booking.models import OneTimeLink

    workflow, contact = seed
    test_runs.start(workflow, contact, "published", False, "admin@example.com")
    drain(app)
    link = db.session.scalar(select(OneTimeLink))
    token = links.url(link).rsplit("/", 1)[1]
    data = {"start": iso(tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    assert editing.counts([workflow.id])[workflow.id] == dict.fromkeys(editing.COUNTS, 0)


def test_a_paused_workflow_can_still_be_tested(app, login, make_calendar, make_contact):
    """Pausing holds real contacts; an admin's test run goes on (the engine lets test enrolments through)."""
    from webapp.workflows.models import Enrolment

    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    workflow = services.create_workflow("Paused", "manual")
    workflow.steps = [
        {"id": "l", "type": "generate_link", "key": "booking_link", "config": {"calendar_id": calendar.id}}
    ]
    db.session.commit()
    services.publish(workflow)
    held = services.enrol(workflow, make_contact(), {"type": "manual"})
    db.session.commit()
    services.pause(workflow)
    test = test_runs.start(workflow, make_contact(), "published", False, "admin@example.com")
    drain(app)
    db.session.expire_all()
    assert db.session.get(Enrolment, test.id).status == "completed"
    assert db.session.get(Enrolment, held.id).status == "active"  # the real one waits for resume
