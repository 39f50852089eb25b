"""A workflow's history pages, retrying a failed enrolment, and enrolling contacts by hand."""

import pytest
from sqlalchemy import func, select

from tests.conftest import iso, tomorrow_at
from tests.factories import send_link_workflow, tag
from tests.helpers import enrolled, enrolment_of, token_of
from webapp.booking.models import OneTimeLink
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain
from webapp.workflows import services

pytestmark = pytest.mark.usefixtures("fast_retries")


@pytest.fixture
def history(app, client, login, calendar, make_contact):
    """Five contacts through the real trigger path: sent, opened, booked, failed (a bad address), and a test run."""
    workflow = send_link_workflow(calendar)
    people = {
        "sent": make_contact(first_name="Sam", email="sam@example.com"),
        "opened": make_contact(first_name="Olive", email="olive@example.com"),
        "booked": make_contact(first_name="Bea", email="bea@example.com"),
        "failed": make_contact(first_name="Fay", email="fay-has-no-at-sign"),
    }
    for contact in people.values():
        tag(contact)
    drain(app)
    # The contact opens the link (a GET), another books with it: what the list must show.
    assert client.get(f"/book/{token_of(enrolment_of(people['opened']))}").status_code == 200
    data = {"start": iso(tomorrow_at(10)), "name": "Bea", "email": "bea@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{token_of(enrolment_of(people['booked']))}", data=data).status_code == 303
    people["test"] = make_contact(first_name="Tess", email="tess@example.com")
    services.enrol(workflow, people["test"], {"type": "manual"}, is_test=True)
    db.session.commit()
    return workflow, people


def emails_in(html: str, people) -> set[str]:
    return {key for key, contact in people.items() if contact.email in html}


def test_history_lists_each_enrolment_with_its_link_state(login, history):
    workflow, people = history
    page = login.get(f"/workflows/{workflow.id}/enrolments")
    assert page.status_code == 200
    assert emails_in(page.text, people) == set(people)
    html = page.text
    for state in ("sent", "opened", "booked"):
        assert f'badge-linkstate-{state}">{state}</span>' in html
    assert "Cannot send to" in html  # the failed one says why
    assert "Step 2: Send Email" in html  # the failed one's current step
    assert "Step 1: Generate One-Time Booking Link" in html  # the test run, not started yet


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=active", {"test"}),
        ("status=completed", {"sent", "opened", "booked"}),
        ("status=failed", {"failed"}),
        ("status=test", {"test"}),
        ("link=sent", {"sent"}),
        ("link=opened", {"opened"}),
        ("link=booked", {"booked"}),
        ("status=failed&link=booked", set()),
        ("status=nonsense&link=nonsense", {"sent", "opened", "booked", "failed", "test"}),
    ],
)
def test_history_filters(login, history, query, expected):
    workflow, people = history
    page = login.get(f"/workflows/{workflow.id}/enrolments?{query}")
    assert page.status_code == 200
    assert emails_in(page.text, people) == expected
    if not expected:
        assert "No enrolments match" in page.text


def test_history_counts_and_htmx_fragment(login, history, hx):
    workflow, _people = history
    page = login.get(f"/workflows/{workflow.id}/enrolments")
    assert 'Failed <span class="count">1</span>' in page.text
    assert 'Completed <span class="count">3</span>' in page.text
    fragment = login.get(f"/workflows/{workflow.id}/enrolments?link=booked", headers=hx)
    assert "<html" not in fragment.text and "bea@example.com" in fragment.text
    assert "HX-Request" in fragment.headers["Vary"]


def test_enrolment_page_shows_each_step_output(login, history):
    _workflow, people = history
    booked = enrolment_of(people["booked"])
    link_run, mail_run = sorted(booked.step_runs, key=lambda r: r.step_id)
    page = login.get(f"/enrolments/{booked.id}").text
    link_id, outbox_id = link_run.output["link_id"], mail_run.output["outbox_id"]
    assert f"Link #{link_id}" in page and 'badge-link-used">used</span>' in page
    assert f'href="/mail/{outbox_id}"' in page
    assert 'badge-mail-held">held</span>' in page  # no MAIL_SERVER in tests: the outbox holds it
    assert "1 attempt" in page and "Booked " in page
    assert "Retry from the failed step" not in page
    failed = login.get(f"/enrolments/{enrolment_of(people['failed']).id}").text
    assert "Cannot send to “fay-has-no-at-sign”" in failed
    assert 'badge-step-failed">failed</span>' in failed and "Retry from the failed step" in failed
    opened = enrolment_of(people["opened"])
    opened_page = login.get(f"/enrolments/{opened.id}").text
    assert "Copy link" in opened_page and f"/book/{token_of(opened)}" in opened_page  # still bookable
    pending = login.get(f"/enrolments/{enrolment_of(people['test']).id}").text
    assert pending.count("not reached") == 2
    assert login.get("/enrolments/999999").status_code == 404
    assert login.get("/workflows/999999/enrolments").status_code == 404


def test_retry_a_failed_enrolment_keeps_finished_steps_done(app, login, history):
    _workflow, people = history
    fay = people["failed"]
    failed = enrolment_of(fay)
    assert failed.status == "failed" and failed.step_index == 1
    # The admin fixes the cause (the address), then retries.
    contacts.update_contact(fay, {"email": "fay@example.com"})
    response = login.post(f"/enrolments/{failed.id}/retry")
    assert response.status_code == 303 and response.location == f"/enrolments/{failed.id}"
    again = enrolment_of(fay)
    assert (again.status, again.attempts, again.last_error, again.finished_at) == ("active", 0, "", None)
    assert login.post(f"/enrolments/{failed.id}/retry").status_code == 303  # a second click changes nothing
    assert "has not failed" in login.get(f"/enrolments/{failed.id}").text
    drain(app)
    done = enrolment_of(fay)
    assert done.status == "completed"
    # The link step was done before the failure: it is not run again (one link, one email for Fay).
    links_for_fay = db.session.scalar(select(func.count()).where(OneTimeLink.contact_id == fay.id))
    mails_for_fay = db.session.scalar(select(func.count()).where(OutboxMessage.to_addr.contains("fay@example.com")))
    assert (links_for_fay, mails_for_fay) == (1, 1)
    runs = {run.step_id: run for run in done.step_runs}
    assert runs["s-link"].attempts == 1 and runs["s-mail"].status == "done" and runs["s-mail"].error == ""


def test_retry_refuses_an_enrolment_that_did_not_fail(login, history):
    _workflow, people = history
    completed = enrolment_of(people["sent"])
    finished_at = completed.finished_at
    response = login.post(f"/enrolments/{completed.id}/retry", follow_redirects=True)
    assert "has not failed" in response.text
    assert enrolment_of(people["sent"]).status == "completed"
    assert enrolment_of(people["sent"]).finished_at == finished_at


def test_retry_after_an_archived_calendar(app, login, calendar, make_contact):
    workflow = send_link_workflow(calendar)
    contact = make_contact()
    calendar.archived_at = calendar.created_at
    db.session.commit()
    tag(contact)
    drain(app)
    enrolment = enrolment_of(contact)
    assert enrolment.status == "failed" and "archived" in enrolment.last_error
    assert "archived" in login.get(f"/workflows/{workflow.id}/enrolments?status=failed").text
    calendar.archived_at = None
    db.session.commit()
    assert login.post(f"/enrolments/{enrolment.id}/retry", headers={"HX-Request": "true"}).headers["HX-Redirect"]
    drain(app)
    assert enrolment_of(contact).status == "completed"


# --- manual enrolment ----------------------------------------------------------------------------


@pytest.fixture
def manual(calendar, make_contact):
    workflow = send_link_workflow(calendar, "manual", {})
    ada = make_contact(first_name="Ada", email="ada@example.com")
    bob = make_contact(first_name="Bob", email="bob@example.com")
    cy = make_contact(first_name="Cy", email="cy@example.com")
    tag(ada, "trial")
    tag(bob, "trial")
    return workflow, ada, bob, cy


def test_manual_enrolment_by_email_then_by_tag(login, manual):
    workflow, ada, bob, _cy = manual
    url = f"/workflows/{workflow.id}/enrol"
    response = login.post(url, data={"email": " ADA@example.com "}, follow_redirects=True)
    assert "1 contact enrolled." in response.text
    assert enrolled(workflow) == {"ada@example.com"}
    response = login.post(url, data={"tag": "Trial"}, follow_redirects=True)
    assert "1 contact enrolled." in response.text
    assert "Skipped 1: Already enrolled" in response.text and ada.name in response.text
    assert enrolled(workflow) == {"ada@example.com", "bob@example.com"}


def test_manual_enrolment_htmx_answers_with_the_report(login, manual, hx):
    workflow, ada, bob, cy = manual
    login.post(f"/workflows/{workflow.id}/enrol", data={"email": "ada@example.com"})
    response = login.post(
        f"/workflows/{workflow.id}/enrol", data={"contact_id": [str(ada.id), str(cy.id), "999999"]}, headers=hx
    )
    assert response.status_code == 200 and "<html" not in response.text
    assert "1 contact enrolled." in response.text
    assert "Already enrolled" in response.text and "Ada" in response.text
    assert "1 selected contact no longer exists." in response.text
    assert "enrolments-changed" in response.headers["HX-Trigger"]
    assert enrolled(workflow) == {"ada@example.com", "cy@example.com"}
    mixed = login.post(f"/workflows/{workflow.id}/enrol", data={"tag": "trial", "email": "x@example.com"}, headers=hx)
    assert "1 contact enrolled." in mixed.text and "No contact has the email x@example.com." in mixed.text
    assert "Skipped 1: Already enrolled" in mixed.text
    assert enrolled(workflow) == {"ada@example.com", "bob@example.com", "cy@example.com"}


def test_manual_enrolment_of_a_tag_nobody_has(login, manual, hx):
    workflow, *_ = manual
    response = login.post(f"/workflows/{workflow.id}/enrol", data={"tag": "nobody-has-this"}, headers=hx)
    assert "No contact has the tag “nobody-has-this”." in response.text
    assert "HX-Trigger" not in response.headers


@pytest.mark.parametrize(
    "data, message", [({}, "Enter a contact’s email or a tag."), ({"email": "nope"}, "not a valid")]
)
def test_manual_enrolment_needs_something_valid(login, manual, hx, data, message):
    workflow, *_ = manual
    response = login.post(f"/workflows/{workflow.id}/enrol", data=data, headers=hx)
    assert response.status_code == 422 and message in response.text
    plain = login.post(f"/workflows/{workflow.id}/enrol", data=data, follow_redirects=True)
    assert message in plain.text
    assert enrolled(workflow) == set()


@pytest.mark.parametrize("state, reason", [("draft", "not published yet"), ("paused", "paused: resume it first")])
def test_manual_enrolment_says_why_an_unpublished_workflow_enrols_nobody(login, calendar, make_contact, state, reason):
    workflow = send_link_workflow(calendar, "manual", {}, publish=state != "draft")
    if state == "paused":
        services.pause(workflow)
    make_contact(email="ada@example.com")
    response = login.post(f"/workflows/{workflow.id}/enrol", data={"email": "ada@example.com"}, follow_redirects=True)
    assert "0 contacts enrolled." in response.text and reason in response.text
    assert enrolled(workflow) == set()


def test_history_page_offers_the_enrol_form_and_an_empty_state(login, calendar):
    workflow = send_link_workflow(calendar, "manual", {})
    page = login.get(f"/workflows/{workflow.id}/enrolments").text
    assert f'action="/workflows/{workflow.id}/enrol"' in page
    assert "Nobody has entered this workflow yet" in page
    assert 'style="' not in page and "<script>" not in page


def test_enrol_form_fragment_for_a_contact_page(app, calendar, make_contact):
    from flask import render_template

    workflow = send_link_workflow(calendar, "manual", {})
    contact = make_contact()
    with app.test_request_context("/contacts/1"):
        html = render_template("enrolments/_enrol_form.html", enrol_workflow=workflow, enrol_contact=contact)
    assert f'name="contact_id" value="{contact.id}"' in html and 'name="email"' not in html


def test_the_enrolments_button_opens_a_page_called_enrolments(login, history):
    workflow, people = history
    editor = login.get(f"/workflows/{workflow.id}").text
    button = f'href="/workflows/{workflow.id}/enrolments" role="button" class="secondary outline">Enrolments</a>'
    assert button in editor
    page = login.get(f"/workflows/{workflow.id}/enrolments").text
    assert f"<title>Enrolments · {workflow.name}" in page
    assert "<li>Enrolments</li>" in page and "<h1>Enrolments" in page and "History" not in page
    one = login.get(f"/enrolments/{enrolment_of(people['sent']).id}").text
    assert ">Enrolments</a></li>" in one and "History" not in one
