"""Hosts in workflows: {{ booking.host.name }} / {{ booking.host.email }}, the If/else condition
"assigned host is", a booking trigger's host filter (editor and event), and hosts in exports by email."""

import itertools
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import iso
from tests.factories import email_step, if_else_step, make_workflow, step
from webapp.booking import services as booking_services
from webapp.booking.models import Booking
from webapp.calendars import services as calendar_services
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.hosts.models import ROUND_ROBIN
from webapp.mail.models import OutboxMessage
from webapp.worker import drain
from webapp.workflows import actions, exchange, merge, services
from webapp.workflows.models import Workflow

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


HOURS = itertools.count()  # each booking its own hour (a calendar seats one)


def booked(client, make_link, calendar, *hosts) -> Booking:
    """A booking made on the page; its hosts (booking/assign.py) are `hosts`."""
    _, token = make_link(calendar=calendar)
    start = datetime(2026, 12, 7, 9 + next(HOURS) % 14, 0, tzinfo=UTC)
    data = {"start": iso(start), "name": "Ada", "timezone": "UTC"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    booking = db.session.scalars(select(Booking).order_by(Booking.id.desc())).first()
    db.session.expire(booking)
    assert sorted(row.host_id for row in booking.host_rows) == sorted(host.id for host in hosts)
    db.session.commit()
    db.session.expire(booking)
    return booking


def round_robin(calendar) -> None:
    calendar_services.set_hosts(calendar, [host.id for host in calendar.hosts], assignment=ROUND_ROBIN)
    db.session.commit()


def tags_of(booking) -> set[str]:
    db.session.expire_all()
    return {tag.name for tag in db.session.get(Contact, booking.contact_id).tags}


def test_host_values_in_a_workflow_email(app, client, make_calendar, make_link, make_host):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    sam = make_host(name="Sam Rivera", email="sam@example.com", calendars=[calendar])
    body = "With {{ booking.host.name }} <{{ booking.host.email }}>."
    make_workflow(
        "booking_event", {"events": ["cancelled"]}, steps=[email_step(subject="Sorry", body=body)], name="Hosts"
    )
    booking = booked(client, make_link, calendar, sam)
    booking_services.cancel(booking, by="admin")
    drain(app)
    mail = db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "workflow")).one()
    assert "With Sam Rivera <sam@example.com>." in mail.text_body


def test_host_values_are_checked_and_offered(app, make_calendar):
    calendar = make_calendar()

    def check(source, calendar=True):
        return merge.check(source, [], calendar=calendar, outputs_of=actions.outputs_of)

    assert check("{{ booking.host.name }} {{ booking.host.email }}") == []
    assert check("{{ booking.host.phone }}") == ["Unknown value {{ booking.host.phone }}"]
    assert check("{{ booking.host.name }}", calendar=False)  # no calendar, no booking
    groups = dict(actions.available([step("s-l", "generate_link", key="l", calendar_id=calendar.id)]))
    assert ("Booking: host's name", "{{ booking.host.name }}") in groups["Booking"]
    assert ("Booking: host's email", "{{ booking.host.email }}") in groups["Booking"]


@pytest.mark.parametrize(("op", "tag_when_sam", "tag_when_ada"), [("is", "yes", "no"), ("is_not", "no", "yes")])
def test_if_else_assigned_host(app, client, make_calendar, make_link, make_host, op, tag_when_sam, tag_when_ada):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    ada = make_host(name="Ada Lovelace", calendars=[calendar])
    round_robin(calendar)  # the first booking goes to Sam, the next to Ada
    condition = {"kind": "host", "host_op": op, "host_id": sam.id}
    fork = if_else_step(
        "s-if", [condition], yes=[step("s-y", "add_tag", tag="yes")], no=[step("s-n", "add_tag", tag="no")]
    )
    make_workflow("booking_event", {"events": ["cancelled"]}, steps=[fork], name="Branch")
    with_sam = booked(client, make_link, calendar, sam)
    booking_services.cancel(with_sam, by="admin")
    with_ada = booked(client, make_link, calendar, ada)
    booking_services.cancel(with_ada, by="admin")
    drain(app)
    assert tags_of(with_sam) == {tag_when_sam} and tags_of(with_ada) == {tag_when_ada}
    kind = actions.get("if_else")
    assert (
        kind.describe({"conditions": [condition]})
        == f"If the assigned host {'is' if op == 'is' else 'is not'} Sam Rivera"
    )


def test_if_else_host_condition_is_validated_and_edited(app, login, make_host):
    sam = make_host(name="Sam Rivera", email="sam@example.com")
    kind = actions.get("if_else")
    assert kind.validate({"conditions": [{"kind": "host", "host_op": "is", "host_id": None}]}, []) == {
        "conditions": "Condition 1: choose the team member."
    }
    assert kind.validate({"conditions": [{"kind": "host", "host_op": "was", "host_id": sam.id}]}, [])
    assert kind.validate({"conditions": [{"kind": "host", "host_op": "is", "host_id": 99999}]}, []) == {
        "conditions": "Condition 1: that team member no longer exists; choose another."
    }
    workflow = make_workflow(
        "manual",
        steps=[if_else_step("s-if", [{"kind": "host", "host_op": "is_not", "host_id": sam.id}])],
        publish=False,
    )
    html = login.get(f"/workflows/{workflow.id}").text
    assert f'<option selected value="{sam.id}">Sam Rivera (sam@example.com)</option>' in html
    assert '<option selected value="is_not">is not</option>' in html


def test_trigger_host_filter_fires_for_that_hosts_bookings(app, client, make_calendar, make_link, make_host):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    ada = make_host(name="Ada Lovelace", calendars=[calendar])
    round_robin(calendar)  # the first booking goes to Sam, the next to Ada
    workflow = make_workflow(
        "booking_event",
        {"events": ["cancelled"], "host_id": sam.id},
        steps=[step("s-t", "add_tag", tag="sam-cancelled")],
        name="Sam's",
    )
    with_sam = booked(client, make_link, calendar, sam)
    with_ada = booked(client, make_link, calendar, ada)
    booking_services.cancel(with_sam, by="admin")
    booking_services.cancel(with_ada, by="admin")
    drain(app)
    assert tags_of(with_sam) == {"sam-cancelled"} and tags_of(with_ada) == set()
    assert services.describe_trigger("booking_event", workflow.trigger_config, {}).endswith("one host's bookings")
    assert services.validate_trigger("booking_event", {"events": ["made"], "host_id": 99999}) == {
        "host_id": "That team member no longer exists; choose another, or any host."
    }


def test_trigger_editor_saves_the_host(app, login, make_host):
    sam = make_host(name="Sam Rivera", email="sam@example.com")
    workflow = make_workflow(publish=False)
    data = {"trigger_type": "booking_event", "events": ["made"], "calendar_id": "", "host_id": str(sam.id)}
    response = login.post(f"/workflows/{workflow.id}/trigger", data=data)
    assert response.status_code in (200, 303), response.text
    db.session.expire_all()
    assert db.session.get(Workflow, workflow.id).trigger_config == {
        "events": ["made"],
        "calendar_id": None,
        "host_id": sam.id,
    }
    html = login.get(f"/workflows/{workflow.id}").text
    assert "Only for bookings with host" in html and f'<option selected value="{sam.id}">' in html


def test_export_and_import_carry_hosts_by_email(app, make_host):
    sam = make_host(name="Sam Rivera", email="Sam@Example.com")
    fork = if_else_step(
        "s-if", [{"kind": "host", "host_op": "is", "host_id": sam.id}], yes=[step("s-y", "add_tag", tag="y")]
    )
    workflow = make_workflow("booking_event", {"events": ["made"], "host_id": sam.id}, steps=[fork], publish=False)
    document = exchange.export_workflow(workflow)
    assert document["trigger"]["config"]["host"] == "Sam@Example.com"
    assert document["steps"][0]["config"]["conditions"][0]["host"] == "Sam@Example.com"
    assert "host_id" not in str(document)

    draft = exchange.build(document)
    assert draft.trigger_config["host_id"] == sam.id
    assert draft.steps[0]["config"]["conditions"][0]["host_id"] == sam.id

    document["trigger"]["config"]["host"] = "nobody@example.com"
    with pytest.raises(exchange.ImportRefused) as refused:
        exchange.build(document)
    assert any("host “nobody@example.com” is not a team member here" in e for e in refused.value.errors)
