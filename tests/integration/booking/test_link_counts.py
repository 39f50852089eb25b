"""The funnel counts (link_counts): kept with each event, equal to a recount, never fooled by metadata."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import iso, statements_run, tomorrow_at
from tests.factories import add_link, link_step, make_workflow, workflow_rows
from tests.helpers import enrolments
from webapp.booking import counts, links
from webapp.booking import services as bookings
from webapp.booking.models import Booking, LinkCount, OneTimeLink
from webapp.contacts import services as contacts
from webapp.dashboard import queries as dashboard
from webapp.extensions import db
from webapp.worker import drain
from webapp.workflows import editing, engine, services, test_runs
from webapp.workflows.models import Workflow

pytestmark = pytest.mark.usefixtures("fast_retries")

# Mid-hour, so a test's events cannot straddle two buckets.
START = datetime(2027, 2, 1, 8, 20, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    """The clock stopped at START; shift() moves it on."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def table() -> dict[int, dict[str, int]]:
    """link_counts as it is, per workflow (rows summed over the hours)."""
    db.session.expire_all()
    return counts.totals()


def recounted() -> dict[int, dict[str, int]]:
    """What recount() makes of the links, without keeping it."""
    counts.recount(select(Workflow.id))
    try:
        return counts.totals()
    finally:
        db.session.rollback()


def assert_counts_equal_a_recount():
    kept = table()
    assert kept == recounted()
    return kept


def link_of(contact, workflow=None) -> OneTimeLink:
    query = select(OneTimeLink).where(OneTimeLink.contact_id == contact.id).order_by(OneTimeLink.id.desc())
    if workflow is not None:
        query = query.where(OneTimeLink.workflow_id == workflow.id)
    return db.session.scalar(query.limit(1))


def token(link) -> str:
    return links.url(link).rsplit("/", 1)[1]


def book(client, link, contact, hour) -> Booking:
    data = {"start": iso(tomorrow_at(hour)), "name": "Ada", "email": contact.email, "timezone": "UTC"}
    response = client.post(f"/book/{token(link)}", data=data)
    assert response.status_code == 303, response.text
    db.session.expire_all()
    return db.session.get(OneTimeLink, link.id).booking


def stages(sent, opened, booked, showed, marked=0) -> dict[str, int]:
    """A workflow's counts; marked: links whose booking is marked showed or no-show."""
    return {"sent": sent, "opened": opened, "booked": booked, "showed": showed, "marked": marked}


def test_the_counts_follow_every_event_and_equal_a_recount(app, client, calendar, make_contact, clock):
    workflow = make_workflow(steps=[link_step(calendar)], allow_reentry=True)
    other = make_workflow(steps=[link_step(calendar)])
    people = [make_contact(first_name=f"P{n}", email=f"p{n}@example.com") for n in range(8)]
    for person in people[:6]:
        services.enrol(workflow, person, {"type": "manual"})
    for person in people[6:]:
        services.enrol(other, person, {"type": "manual"})
    db.session.commit()
    engine.run_due(50)  # the batch path: many links in one INSERT
    assert assert_counts_equal_a_recount() == {workflow.id: stages(6, 0, 0, 0), other.id: stages(2, 0, 0, 0)}

    p0, p1, p2, p3, p4, p5, p6, p7 = people
    for person in (p0, p0, p1, p2):  # p0 twice: only the first opening counts
        assert client.get(f"/book/{token(link_of(person))}").status_code == 200
    assert assert_counts_equal_a_recount()[workflow.id] == stages(6, 3, 0, 0)

    b0 = book(client, link_of(p0), p0, 9)
    b3 = book(client, link_of(p3), p3, 10)  # booked without a recorded opening: it counts as opened
    b1 = book(client, link_of(p1), p1, 11)
    b2 = book(client, link_of(p2), p2, 12)
    bookings.cancel(b1, by="admin")  # the link stays used
    bookings.reschedule(db.session.get(Booking, b2.id), tomorrow_at(13))
    assert assert_counts_equal_a_recount()[workflow.id] == stages(6, 4, 4, 0)

    # A test run: its link is opened and booked, and counts nowhere.
    tester = make_contact(first_name="Tess", email="tess@example.com")  # no active link to reuse
    run = test_runs.start(workflow, tester, "published", False, "admin@example.com")
    drain(app)
    test_link = db.session.scalar(select(OneTimeLink).where(OneTimeLink.enrolment_id == run.id))
    assert test_link.test_run and test_link.workflow_id == workflow.id
    assert client.get(f"/book/{token(test_link)}").status_code == 200
    book(client, test_link, tester, 14)
    # An API link whose metadata claims the workflow and an enrolment: the client's own words, not counted.
    real = enrolments(workflow)[0]
    forged = {"workflow_id": str(workflow.id), "enrolment_id": str(real.id), "step_id": "s-booking_link"}
    api_link = links.issue(calendar, p5, source="api", meta=forged)
    db.session.commit()
    assert client.get(f"/book/{token(api_link)}").status_code == 200
    book(client, api_link, p5, 15)
    assert assert_counts_equal_a_recount()[workflow.id] == stages(6, 4, 4, 0)

    b6 = book(client, link_of(p6, other), p6, 16)
    client.get(f"/book/{token(link_of(p7, other))}")
    # Booked, none marked yet: no showed rate (not 0%: the meetings have not happened).
    row = {row.workflow_id: row for row in dashboard.build().rows}[workflow.id]
    assert (row.showed, row.marked, row.rate("showed")) == (0, 0, None)
    clock.shift(timedelta(days=2))  # the meetings are over: attendance can be marked
    mark = [(b0, "showed"), (b2, "showed"), (b2, "no_show"), (b3, "showed"), (b3, None), (b3, "showed"), (b6, "showed")]
    for booking, attendance in mark:
        bookings.set_attendance(db.session.get(Booking, booking.id), attendance)
        assert_counts_equal_a_recount()  # after every change, the marked count too
    bookings.set_attendance(db.session.get(Booking, b0.id), "showed")  # again: no change
    assert assert_counts_equal_a_recount() == {workflow.id: stages(6, 4, 4, 2, 3), other.id: stages(2, 2, 1, 1, 1)}
    # Showed over the marked (b0 and b3 showed, b2 did not; b1 was cancelled, never marked): 2 of 3.
    row = {row.workflow_id: row for row in dashboard.build().rows}[workflow.id]
    assert row.rate("showed") == 67 and row.rate("booked") == 100
    bookings.set_attendance(db.session.get(Booking, b2.id), None)  # unmarked again: 2 of 2
    assert assert_counts_equal_a_recount()[workflow.id] == stages(6, 4, 4, 2, 2)
    assert {row.workflow_id: row for row in dashboard.build().rows}[workflow.id].rate("showed") == 100
    bookings.set_attendance(db.session.get(Booking, b2.id), "no_show")

    # Contacts deleted (one with a test run, one with a workflow link): the counts are history.
    for person in (tester, p0):
        contacts.delete_contact(db.session.get(type(person), person.id))
    assert assert_counts_equal_a_recount()[workflow.id] == stages(6, 4, 4, 2, 3)
    # A workflow deleted: its row stays, as "Deleted workflow #N", and a recount keeps it.
    other_id = other.id
    editing.delete_workflow(other)
    assert assert_counts_equal_a_recount()[other_id] == stages(2, 2, 1, 1, 1)
    rows = {row.workflow_id: row for row in dashboard.build().rows}
    assert rows[other_id].name == f"Deleted workflow #{other_id}"
    assert (rows[workflow.id].sent, rows[workflow.id].showed) == (6, 2)
    # The workflows list's "booked" reads the same counts.
    assert editing.counts([workflow.id])[workflow.id]["booked"] == 4


def test_an_api_link_with_forged_metadata_counts_in_no_funnel(app, client, calendar, make_contact, api_key):
    workflow = make_workflow(steps=[link_step(calendar)])
    contact = make_contact()
    enrolment = services.enrol(workflow, contact, {"type": "manual"})
    db.session.commit()
    body = {
        "calendar_id": calendar.id,
        "contact_id": contact.id,
        "metadata": {"workflow_id": str(workflow.id), "enrolment_id": str(enrolment.id)},
    }
    response = client.post("/api/v1/one-time-links", json=body, headers=api_key)
    assert response.status_code == 201
    link = db.session.get(OneTimeLink, response.json["id"])
    assert (link.workflow_id, link.enrolment_id) == (None, None)
    assert client.get(f"/book/{token(link)}").status_code == 200
    book(client, link, contact, 10)
    assert dashboard.build().rows == []
    assert table() == {} and recounted() == {}
    assert editing.counts([workflow.id])[workflow.id]["booked"] == 0
    # Nor does the booking move the enrolment the metadata names.
    assert db.session.get(type(enrolment), enrolment.id).step_index == 0


def test_a_batch_of_links_is_counted_with_one_statement(app, calendar, make_contact):
    workflow = make_workflow(steps=[link_step(calendar)])
    for n in range(12):
        services.enrol(workflow, make_contact(email=f"b{n}@example.com"), {"type": "manual"})
    db.session.commit()
    with statements_run() as statements:
        engine.run_due(50)
    upserts = [s for s in statements if s.startswith("INSERT INTO link_counts")]
    assert len(upserts) == 1, upserts
    assert table() == {workflow.id: stages(12, 0, 0, 0)}


def test_the_booking_page_adds_one_statement_on_the_first_opening_only(app, client, calendar, make_contact):
    workflow = make_workflow(steps=[link_step(calendar)])
    services.enrol(workflow, make_contact(), {"type": "manual"})
    db.session.commit()
    drain(app)
    link = db.session.scalar(select(OneTimeLink))
    with statements_run() as first:
        assert client.get(f"/book/{token(link)}").status_code == 200
    with statements_run() as again:
        assert client.get(f"/book/{token(link)}").status_code == 200
    assert sum("link_counts" in s for s in first) == 1
    assert sum("link_counts" in s for s in again) == 0
    assert len(again) < len(first)
    assert table() == {workflow.id: stages(1, 1, 0, 0)}


def test_the_window_sums_whole_hours(app, calendar, make_contact, clock):
    """A link counts while its hour is in the window: to the hour, not to the second."""
    workflow, _ = workflow_rows("Hours")
    contact = make_contact()
    # 30 days ago, in the window's first hour but before its first minute: counted (hour buckets).
    add_link(calendar, contact, created_at=START - timedelta(days=30, minutes=10), workflow=workflow)
    add_link(calendar, contact, created_at=START - timedelta(days=30, hours=1), workflow=workflow)  # out
    db.session.commit()
    board = dashboard.build()
    assert [row.sent for row in board.rows] == [1]
    assert board.since == START.replace(minute=0) - timedelta(days=30)


def test_recount_rebuilds_a_lost_table(app, calendar, make_contact):
    workflow = make_workflow(steps=[link_step(calendar)])
    services.enrol(workflow, make_contact(), {"type": "manual"})
    db.session.commit()
    drain(app)
    db.session.query(LinkCount).delete()
    counts.recount(select(Workflow.id))
    db.session.commit()
    assert table() == {workflow.id: stages(1, 0, 0, 0)}


def test_a_rolled_back_event_is_forgotten(app, calendar, make_contact):
    workflow = make_workflow(steps=[link_step(calendar)])
    contact = make_contact()
    enrolment = services.enrol(workflow, contact, {"type": "manual"})
    db.session.commit()
    links.issue(calendar, contact, source="workflow", enrolment=enrolment, step_id="s-booking_link")
    db.session.rollback()
    assert table() == {}
    links.issue(calendar, contact, source="workflow", enrolment=enrolment, step_id="s-booking_link")
    db.session.commit()
    assert table() == {workflow.id: stages(1, 0, 0, 0)} == recounted()


def test_re_arm_and_re_book_keep_the_counts_equal_to_a_recount(app, client, calendar, make_contact, clock):
    calendar.rearm_on_cancel = calendar.rearm_on_no_show = True
    db.session.commit()
    workflow = make_workflow(steps=[link_step(calendar)])
    strict = make_workflow(steps=[link_step(calendar, rearm_cancel="off", rearm_no_show="off")])
    p0, p1, p2, p3 = (make_contact(first_name=f"R{n}", email=f"r{n}@example.com") for n in range(4))
    for person in (p0, p1, p2):
        services.enrol(workflow, person, {"type": "manual"})
    services.enrol(strict, p3, {"type": "manual"})
    db.session.commit()
    engine.run_due(50)
    assert link_of(p0).rearm_on_cancel and not link_of(p3, strict).rearm_on_cancel

    b0 = book(client, link_of(p0), p0, 9)  # booked without a recorded opening
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 1, 1, 0)
    bookings.cancel(b0, by="invitee")  # re-armed: booked no more, still opened
    assert link_of(p0).bookable
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 1, 0, 0)
    again = book(client, link_of(p0), p0, 10)  # booked again with the same link
    assert again.id != b0.id
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 1, 1, 0)
    b3 = book(client, link_of(p3, strict), p3, 11)
    bookings.cancel(b3, by="admin")  # the step said off: the link stays used
    assert assert_counts_equal_a_recount()[strict.id] == stages(1, 1, 1, 0)

    client.get(f"/book/{token(link_of(p1))}")
    b1 = book(client, link_of(p1), p1, 12)
    b2 = book(client, link_of(p2), p2, 13)
    clock.shift(timedelta(days=2))
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 3, 3, 0)
    bookings.set_attendance(db.session.get(Booking, b1.id), "no_show")  # re-armed
    bookings.set_attendance(db.session.get(Booking, b2.id), "showed")
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 3, 2, 1, marked=2)
    bookings.set_attendance(db.session.get(Booking, b1.id), "showed")  # corrected: no longer re-armed
    assert not link_of(p1).bookable
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 3, 3, 2, marked=2)
    bookings.set_attendance(db.session.get(Booking, b2.id), "no_show")  # showed → no-show: re-armed
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 3, 2, 1, marked=2)
    start = iso(datetime(2027, 2, 5, 10, 0, tzinfo=UTC))
    data = {"start": start, "name": "R2", "email": p2.email, "timezone": "UTC"}
    assert client.post(f"/book/{token(link_of(p2))}", data=data).status_code == 303  # re-booked
    assert assert_counts_equal_a_recount()[workflow.id] == stages(3, 3, 3, 1, marked=1)
