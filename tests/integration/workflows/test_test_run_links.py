"""A test run numbers its steps as the editor does, and leaves no working link behind: its links are its
own (never the contact's real link), stop TEST_LINK_MINUTES after they were made (a run left midway
included), and are withdrawn at once when the admin ends the run or deletes the workflow."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.factories import ALL_WEEK, email_step, if_else_step, link_step, make_workflow, step
from tests.helpers import issued_link, reload
from webapp.booking import links
from webapp.booking.models import OneTimeLink
from webapp.extensions import db
from webapp.worker import drain
from webapp.workflows import editing, engine, services, test_runs
from webapp.workflows.actions.generate_link import TEST_LINK_MINUTES
from webapp.workflows.expiry import handle_expired

pytestmark = pytest.mark.usefixtures("fast_retries")

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def calendar(make_calendar, clock):
    return make_calendar(name="Intro call", timezone="UTC", weekly=ALL_WEEK)


@pytest.fixture
def seed(calendar, make_contact):
    """A published workflow: link, email, then an if/else whose "yes" adds a tag (step 3.yes.1)."""
    condition = {"kind": "link_booked", "link_step": "booking_link"}
    steps = [
        link_step(calendar),
        email_step(subject="Hello"),
        if_else_step("s-if", [condition], yes=[step("s-tag", "add_tag", tag="booked")], no=[]),
    ]
    workflow = make_workflow("manual", steps=steps)
    return workflow, make_contact(email="ada@example.com", first_name="Ada")


def run_test(app, workflow, contact):
    enrolment = test_runs.start(workflow, contact, "published", False, "admin@example.com")
    drain(app)
    return reload(enrolment)


def links_of(enrolment):
    return list(db.session.scalars(select(OneTimeLink).where(OneTimeLink.enrolment_id == enrolment.id)))


def test_a_test_run_numbers_steps_as_the_editor_does(clock, app, login, seed):
    workflow, contact = seed
    run = run_test(app, workflow, contact)
    page = login.get(f"/workflows/test-runs/{run.id}").text
    assert "Step 3.yes.1</span> · Add Tag" in page or "Step 3.yes.1</span> · Add tag" in page
    assert "Step 3</span> · If/else" in page
    editor = login.get(f"/workflows/{workflow.id}").text
    assert 'data-number="3.yes.1"' in editor
    assert f"The booking links it makes stop working {TEST_LINK_MINUTES} minutes after they are made." in editor


def test_the_drafts_problems_name_a_branch_step_by_its_editor_number(app, seed):
    workflow, _contact = seed
    fork = {**workflow.steps[2], "branches": {"yes": [step("s-tag", "add_tag")], "no": []}}  # no tag chosen
    workflow.steps = [*workflow.steps[:2], fork]
    db.session.commit()
    assert any(line.startswith("Step 3.yes.1 (Add") for line in test_runs.draft_problems(workflow))


def test_a_test_runs_link_stops_working_after_its_minutes(app, seed, clock):
    workflow, contact = seed
    run = run_test(app, workflow, contact)
    assert run.status == "completed"
    [link] = links_of(run)
    assert link.test_run and link.expires_at == START + timedelta(minutes=TEST_LINK_MINUTES)
    assert link.bookable  # long enough to open the test email and try the booking page
    clock.move_to(START + timedelta(minutes=TEST_LINK_MINUTES))
    assert not reload(link).bookable and link.status == "expired"
    # Its expiry enrols no one and is not "expired unused" on the dashboard.
    assert handle_expired() == 1


def test_a_test_run_never_reuses_nor_revokes_the_contacts_real_link(app, seed, calendar):
    workflow, contact = seed
    real = links.issue(calendar, contact)
    db.session.commit()
    run = run_test(app, workflow, contact)
    [made] = links_of(run)
    assert made.id != real.id and made.test_run
    assert reload(real).bookable
    # And a real run does not pick up the test link.
    enrolment = services.enrol(workflow, contact, {"type": "manual"})
    db.session.commit()
    drain(app)
    assert issued_link(enrolment).id == real.id


def test_ending_a_test_run_withdraws_its_links_at_once(clock, app, login, seed):
    workflow, contact = seed
    run = run_test(app, workflow, contact)
    [link] = links_of(run)
    page = login.get(f"/workflows/test-runs/{run.id}", headers={"HX-Request": "true"}).text
    assert "work until" in page and "Withdraw its links" in page
    response = login.post(f"/workflows/test-runs/{run.id}/end", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "none of this run’s links works now" in response.text
    assert reload(link).status == "revoked"


def test_ending_a_test_run_midway_stops_it_and_its_link(clock, app, login, seed):
    workflow, contact = seed
    run = test_runs.start(workflow, contact, "published", False, "admin@example.com")
    [claimed] = engine.claim(1, "worker-1")
    engine.run_step(claimed, "worker-1")  # the link step ran; the admin walks away before the rest
    [link] = links_of(run)
    assert reload(run).status == "active" and link.bookable
    # The Enrolments list names the current step as the editor numbers it.
    assert "Step 2: Send Email" in login.get(f"/workflows/{workflow.id}/enrolments").text
    response = login.post(f"/workflows/test-runs/{run.id}/end")
    assert response.status_code == 303
    run = reload(run)
    assert run.status == "failed" and "Ended by the admin" in run.last_error
    assert reload(link).status == "revoked"
    drain(app)
    assert reload(run).status == "failed"  # the worker does not take it up again


def test_deleting_the_workflow_withdraws_its_links_of(app, seed, calendar):
    workflow, contact = seed
    run = run_test(app, workflow, contact)
    [link] = links_of(run)
    real = links.issue(calendar, contact)
    db.session.commit()
    editing.delete_workflow(workflow)
    assert reload(link).status == "revoked" and reload(real).bookable


def test_only_a_test_run_can_be_ended(clock, app, login, seed):
    workflow, contact = seed
    enrolment = services.enrol(workflow, contact, {"type": "manual"})
    db.session.commit()
    assert login.post(f"/workflows/test-runs/{enrolment.id}/end").status_code == 404
