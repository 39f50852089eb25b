"""Enrolling by hand from the contacts: a selection on the contact list, and a button on a contact's page."""

import re

import pytest

from tests.factories import send_link_workflow
from tests.helpers import enrolled
from webapp.extensions import db
from webapp.workflows import services


@pytest.fixture
def people(make_contact):
    return [make_contact(first_name=name, email=f"{name.lower()}@example.com") for name in ("Ada", "Bob", "Cy")]


@pytest.fixture
def workflow(calendar):
    return send_link_workflow(calendar, "manual", {})


def test_the_contact_list_offers_a_selection_form_of_published_workflows(login, calendar, people, workflow, hx):
    draft = services.create_workflow("Still a draft", "manual", {})
    db.session.commit()
    html = login.get("/contacts/").text
    form = re.search(r'<form method="post" action="/workflows/enrol" id="enrol-selected".*?</form>', html, re.S)
    assert form, "no Enrol selected form"
    assert f'<option value="{workflow.id}">Send a link</option>' in form.group(0)
    assert f'value="{draft.id}"' not in form.group(0)
    assert 'name="next" value="/contacts/?"' in form.group(0)
    for contact in people:
        box = f'<input type="checkbox" name="contact_id" value="{contact.id}" form="enrol-selected">'
        assert box in html
        assert f"Select {contact.name}</span></label>" in html
    assert 'data-select-all="enrol-selected"' in html
    # The checkboxes come back with the search's fragment too; the form stays outside it.
    fragment = login.get("/contacts/?q=ada", headers=hx).text
    assert 'form="enrol-selected"' in fragment and 'id="enrol-selected"' not in fragment


def test_no_checkboxes_without_a_published_workflow(login, people):
    html = login.get("/contacts/").text
    assert 'id="enrol-selected"' not in html and 'name="contact_id"' not in html


def test_enrolling_a_selection_of_two_enrols_exactly_those_two(login, people, workflow):
    ada, _bob, cy = people
    data = {"workflow_id": str(workflow.id), "contact_id": [str(ada.id), str(cy.id)], "source": "selection"}
    data["next"] = "/contacts/?sort=name"
    response = login.post("/workflows/enrol", data=data)
    assert response.status_code == 303 and response.headers["Location"] == "/contacts/?sort=name"
    assert enrolled(workflow) == {"ada@example.com", "cy@example.com"}
    page = login.get(response.headers["Location"]).text
    assert "2 contacts enrolled." in page


def test_enrolling_an_empty_selection_or_without_a_workflow_says_so(login, people, workflow):
    response = login.post(
        "/workflows/enrol", data={"workflow_id": str(workflow.id), "source": "selection"}, follow_redirects=True
    )
    assert "Select at least one contact first." in response.text
    response = login.post("/workflows/enrol", data={"contact_id": str(people[0].id)}, follow_redirects=True)
    assert "Choose a workflow to enrol the selected contacts in." in response.text
    assert enrolled(workflow) == set()


def test_the_contact_page_has_an_enrol_button_per_published_workflow_and_the_enrolments(login, people, workflow, hx):
    ada = people[0]
    paused = send_link_workflow(workflow_calendar(workflow), "manual", {})
    paused.name = "Paused one"
    services.pause(paused)
    db.session.commit()
    html = login.get(f"/contacts/{ada.id}").text
    assert 'id="workflows"' in html
    assert "Enrol in “Send a link”" in html and "Paused one" not in html
    assert "Not enrolled in any workflow yet." in html

    response = login.post(
        f"/workflows/{workflow.id}/enrol", data={"contact_id": str(ada.id), "as_button": "1"}, headers=hx
    )
    # HTMX gets the same one-button form back, with the report, and the enrolments reload.
    assert "1 contact enrolled." in response.text and "Enrol in “Send a link”" in response.text
    assert 'name="email"' not in response.text
    assert "enrolments-changed" in response.headers["HX-Trigger"]
    assert enrolled(workflow) == {"ada@example.com"}

    [enrolment] = workflow_enrolments(workflow)
    html = login.get(f"/contacts/{ada.id}").text
    assert f'href="/enrolments/{enrolment.id}">Send a link</a>' in html
    fragment = login.get(f"/contacts/{ada.id}/enrolments", headers=hx)
    assert "<html" not in fragment.text and f'href="/enrolments/{enrolment.id}"' in fragment.text
    assert login.get(f"/contacts/{ada.id}/enrolments").status_code == 303


def test_the_contact_page_enrol_button_works_without_javascript(login, people, workflow):
    ada = people[0]
    html = login.get(f"/contacts/{ada.id}").text
    assert f'<input type="hidden" name="next" value="/contacts/{ada.id}?">' in html
    response = login.post(
        f"/workflows/{workflow.id}/enrol",
        data={"contact_id": str(ada.id), "as_button": "1", "next": f"/contacts/{ada.id}?"},
        follow_redirects=True,
    )
    assert "1 contact enrolled." in response.text and "Not enrolled in any workflow yet." not in response.text


def test_the_contact_page_without_published_workflows(login, people):
    html = login.get(f"/contacts/{people[0].id}").text
    assert "No workflow is published" in html and "Enrol in" not in html


def workflow_calendar(workflow):
    from webapp.calendars.models import Calendar

    return db.session.get(Calendar, workflow.steps[0]["config"]["calendar_id"])


def workflow_enrolments(workflow):
    from sqlalchemy import select

    from webapp.workflows.models import Enrolment

    db.session.expire_all()
    return db.session.scalars(select(Enrolment).where(Enrolment.workflow_id == workflow.id)).all()


def test_a_tag_added_on_the_contact_page_reloads_the_enrolments_card(login, people, calendar, hx):
    ada = people[0]
    vip = send_link_workflow(calendar)  # enrols on the tag "vip"
    page = login.get(f"/contacts/{ada.id}").text
    card = re.search(r'<div id="contact-enrolments"[^>]*>', page)[0]
    # The card reloads on the event the tag form's answer sends.
    assert "contact-tags-changed from:body" in card and f'hx-get="/contacts/{ada.id}/enrolments"' in card
    response = login.post(f"/contacts/{ada.id}/tags", data={"names": "vip"}, headers=hx)
    assert "contact-tags-changed" in response.headers["HX-Trigger"]
    [enrolment] = workflow_enrolments(vip)
    fragment = login.get(f"/contacts/{ada.id}/enrolments", headers=hx).text
    assert f'href="/enrolments/{enrolment.id}">Send a link</a>' in fragment and "Not enrolled" not in fragment
