"""Generate One-Time Booking Link overrides the calendar's re-arm choices; the link keeps what it was issued with."""

from sqlalchemy import select

from tests.factories import link_step, make_workflow
from tests.helpers import reload
from webapp.booking.models import OneTimeLink
from webapp.extensions import db
from webapp.workflows import engine, services


def save(client, workflow, step, headers, **fields):
    data = {f"s{step['id']}-{name}": value for name, value in fields.items()}
    return client.post(f"/workflows/{workflow.id}/steps/{step['id']}", data=data, headers=headers)


def test_the_card_offers_as_the_calendar_says_on_and_off(login, workflow, calendar, hx):
    login.post(f"/workflows/{workflow.id}/steps", data={"type": "generate_link"}, headers=hx)
    [step] = reload(workflow).steps
    assert "rearm_cancel" not in step["config"] and "rearm_no_show" not in step["config"]  # as the calendar says
    html = login.get(f"/workflows/{workflow.id}").text
    assert (
        "After a cancellation, the same link may book again" in html
        and "Default (as set where the link is made)" in html
    )
    fields = {"calendar_id": str(calendar.id), "key": "booking_link", "existing": "reuse", "expires_unit": "days"}
    response = save(login, workflow, step, hx, **fields, rearm_cancel="sometimes", rearm_no_show="off")
    assert response.status_code == 422 and "Choose as the calendar says, yes or no." in response.text
    assert save(login, workflow, step, hx, **fields, rearm_cancel="on", rearm_no_show="off").status_code == 200
    [step] = reload(workflow).steps
    assert (step["config"]["rearm_cancel"], step["config"]["rearm_no_show"]) == ("on", "off")


def test_each_link_takes_the_steps_override_or_the_calendars_choice(app, calendar, make_contact):
    calendar.rearm_on_cancel = True
    calendar.rearm_on_no_show = True
    db.session.commit()
    inherits = make_workflow(steps=[link_step(calendar)])
    overrides = make_workflow(steps=[link_step(calendar, rearm_cancel="off", rearm_no_show="on")])
    ada, grace = make_contact(), make_contact()
    services.enrol(inherits, ada, {"type": "manual"})
    services.enrol(overrides, grace, {"type": "manual"})
    db.session.commit()
    calendar.rearm_on_no_show = False  # edited before the links are made: they take the choice in force then
    db.session.commit()
    engine.run_due(10)
    links = {link.contact_id: link for link in db.session.scalars(select(OneTimeLink))}
    assert (links[ada.id].rearm_on_cancel, links[ada.id].rearm_on_no_show) == (True, False)
    assert (links[grace.id].rearm_on_cancel, links[grace.id].rearm_on_no_show) == (False, True)
