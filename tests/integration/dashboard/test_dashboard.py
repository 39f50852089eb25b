"""The admin home: the links funnel per workflow, the links that need attention, the empty state."""

import random
import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from tests.factories import add_link, workflow_rows
from webapp.booking import counts as link_counts
from webapp.booking.models import Booking, OneTimeLink
from webapp.clock import utcnow
from webapp.dashboard import queries as dashboard
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.workflows import editing, services
from webapp.workflows.models import Enrolment, Workflow

STAGES = dashboard.STAGES


def add_booking(calendar, contact, attendance):
    start = utcnow() - timedelta(days=1)
    booking = Booking(
        calendar_id=calendar.id,
        contact_id=contact.id,
        start_at=start,
        end_at=start + timedelta(minutes=30),
        name=contact.name,
        email=contact.email,
        attendance=attendance,
    )
    db.session.add(booking)
    db.session.flush()
    return booking


@pytest.fixture
def funnel_data(app, make_calendar, make_contact):
    """Three workflows, a few hundred links in every state, and links the funnel must leave out."""
    rng = random.Random(7)
    calendar = make_calendar()
    contacts = [make_contact() for _ in range(20)]
    now = utcnow()
    expected = {}
    workflows = []
    for name in ("Welcome", "Re-engage", "Webinar follow-up"):
        workflow, version = workflow_rows(name)
        workflows.append(workflow)
        counts = dict.fromkeys((*STAGES, "marked"), 0)
        for _ in range(rng.randint(80, 140)):
            contact = rng.choice(contacts)
            enrolment = Enrolment(workflow_id=workflow.id, version_id=version.id, contact_id=contact.id)
            db.session.add(enrolment)
            db.session.flush()
            fields = {}
            opened, used = rng.random() < 0.6, rng.random() < 0.4
            attendance = rng.choice(["showed", "showed", "no_show", None])
            if opened:
                fields["opened_at"] = now - timedelta(days=1)
            if used:  # some bookings come without a recorded opening: they still count as opened
                fields["used_at"] = now - timedelta(hours=12)
                fields["booking_id"] = add_booking(calendar, contact, attendance).id
            add_link(
                calendar,
                contact,
                created_at=now - timedelta(days=rng.randint(0, 29)),
                workflow=workflow,
                enrolment=enrolment,
                **fields,
            )
            counts["sent"] += 1
            counts["opened"] += opened or used
            counts["booked"] += used
            counts["showed"] += used and attendance == "showed"
            counts["marked"] += used and attendance is not None
        expected[workflow.id] = counts
        # Left out: links older than the window, test runs, links made by hand.
        old = Enrolment(workflow_id=workflow.id, version_id=version.id, contact_id=contacts[0].id)
        test = Enrolment(workflow_id=workflow.id, version_id=version.id, contact_id=contacts[0].id, is_test=True)
        db.session.add_all([old, test])
        db.session.flush()
        add_link(
            calendar, contacts[0], created_at=now - timedelta(days=31), workflow=workflow, enrolment=old, used_at=now
        )
        add_link(
            calendar, contacts[0], created_at=now - timedelta(days=1), workflow=workflow, enrolment=test, opened_at=now
        )
        add_link(calendar, contacts[1], created_at=now - timedelta(days=1), source="admin", opened_at=now)
    db.session.commit()
    return workflows, expected


def test_the_funnel_counts_every_stage_exactly(funnel_data):
    workflows, expected = funnel_data
    board = dashboard.build()
    got = {row.workflow_id: {stage: getattr(row, stage) for stage in (*STAGES, "marked")} for row in board.rows}
    assert got == expected
    # Busiest first, then by name.
    assert [(row.sent, row.name) for row in board.rows] == sorted(
        ((counts["sent"], next(w.name for w in workflows if w.id == wid)) for wid, counts in expected.items()),
        key=lambda pair: (-pair[0], pair[1].lower()),
    )
    for stage in (*STAGES, "marked"):
        assert getattr(board.total, stage) == sum(counts[stage] for counts in expected.values())
    # Showed is a share of the bookings marked (showed or no-show), not of all booked.
    marked, showed = board.total.marked, board.total.showed
    assert board.total.rate("showed") == round(100 * showed / marked) and marked < board.total.booked
    assert 240 <= board.total.sent <= 420


def test_the_funnel_takes_a_few_queries_whatever_the_number_of_workflows(funnel_data):
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        dashboard.build()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) <= 6, statements


def test_the_home_page_shows_the_numbers_percentages_and_a_chart(login, funnel_data):
    workflows, expected = funnel_data
    html = login.get("/").text
    total = {stage: sum(counts[stage] for counts in expected.values()) for stage in STAGES}
    footer = html[html.index("<tfoot>") : html.index("</tfoot>")]
    cells = re.findall(r'<td class="num">(\d+)', footer)
    assert [int(n) for n in cells] == [total[stage] for stage in STAGES]
    opened_rate = round(100 * total["opened"] / total["sent"])
    assert f"{opened_rate}%" in footer
    # The chart: an SVG whose description reads the numbers out.
    assert 'role="img"' in html
    assert f"Sent: {total['sent']}; Opened: {total['opened']} ({opened_rate}% of sent)" in html
    for workflow in workflows:
        assert f">{workflow.name}</a>" in html
    assert "Sent counts the links your workflows generated since" in html
    assert 'style="' not in html


def test_a_deleted_workflow_keeps_its_row(app, make_calendar, make_contact):
    calendar, contact = make_calendar(), make_contact()
    workflow, _ = workflow_rows("Gone soon")
    add_link(calendar, contact, created_at=utcnow(), workflow=workflow)
    db.session.commit()
    wid = workflow.id
    db.session.delete(workflow)
    db.session.commit()
    rows = dashboard.build().rows
    assert [(row.workflow_id, row.name, row.sent) for row in rows] == [(wid, f"Deleted workflow #{wid}", 1)]


def test_an_empty_database_shows_what_to_do_next(login):
    response = login.get("/")
    assert response.status_code == 200
    html = response.text
    assert "Welcome to OneSlot" in html
    assert 'href="/calendars/new"' in html
    assert "Create a workflow" in html
    assert "flask seed-demo" in html
    assert "funnel-chart" not in html and "Links that need attention" not in html


def test_with_the_demo_the_empty_state_opens_the_demo_workflow(login, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    workflow = db.session.scalar(select(Workflow))
    html = login.get("/").text
    assert "Welcome to OneSlot" in html
    assert f'href="/workflows/{workflow.id}"' in html and "Open the demo workflow" in html
    assert 'class="badge badge-demo"' in login.get("/workflows/").text  # the list says which is the demo
    assert 'class="badge badge-demo"' in login.get(f"/workflows/{workflow.id}").text
    # The demo's calendar and workflow are not the admin's own: those steps are still to do.
    assert "<strong>Create a calendar</strong>" in html and "<strong>Create a workflow</strong>" in html
    assert "done (" not in html


def test_the_checklist_completes_with_the_admins_own_calendar_and_workflow(login, runner, make_calendar):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    make_calendar(name="My calls")
    html = login.get("/").text
    assert "A calendar</strong>: done (1)" in html and "<strong>Create a workflow</strong>" in html
    services.create_workflow("My workflow", "manual")
    html = login.get("/").text
    assert "A calendar</strong>: done (1)" in html and "A workflow</strong>: done (1)" in html
    assert "Open the demo workflow" in html  # the demo is still offered
    # A copy of the demo workflow is the admin's own.
    demo_workflow = db.session.scalar(select(Workflow).where(Workflow.is_demo.is_(True)))
    editing.duplicate(demo_workflow)
    assert "A workflow</strong>: done (2)" in login.get("/").text


def test_the_home_page_needs_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.location


def test_expired_unused_links_need_attention_until_a_new_one_is_made(login, make_calendar, make_contact):
    calendar = make_calendar(name="Demo call")
    ada, bob, cy = make_contact(first_name="Ada"), make_contact(first_name="Bob"), make_contact(first_name="Cy")
    dee = make_contact(first_name="Dee")
    now = utcnow()
    shown = add_link(
        calendar, ada, created_at=now - timedelta(days=4), source="admin", expires_at=now - timedelta(days=1)
    )
    add_link(calendar, bob, created_at=now - timedelta(days=50), source="admin", expires_at=now - timedelta(days=40))
    add_link(
        calendar,
        bob,
        created_at=now - timedelta(days=3),
        source="admin",
        expires_at=now - timedelta(days=1),
        used_at=now - timedelta(days=2),
    )
    add_link(
        calendar,
        cy,
        created_at=now - timedelta(days=3),
        source="admin",
        expires_at=now - timedelta(days=1),
        revoked_at=now - timedelta(days=2),
    )
    add_link(calendar, cy, created_at=now - timedelta(days=3), source="admin", expires_at=now + timedelta(days=1))
    # Replaced: Dee already has a newer link on that calendar.
    add_link(calendar, dee, created_at=now - timedelta(days=5), source="admin", expires_at=now - timedelta(days=2))
    add_link(calendar, dee, created_at=now - timedelta(days=1), source="admin")
    db.session.commit()
    board = dashboard.build()
    assert [link.id for link in board.expired] == [shown.id] and board.expired_count == 1
    html = login.get("/").text
    assert "1 link expired unused" in html and ada.name in html
    assert f'<time datetime="{shown.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")}" data-local="datetime"' in html

    form = {"origin": "contact", "contact_id": str(ada.id), "calendar_id": str(calendar.id), "expires_in_hours": "72"}
    assert 'value="72"' in html  # a 3-day link is renewed for 3 days
    response = login.post("/links/new", data=form)
    assert response.status_code == 303 and f"/contacts/{ada.id}" in response.location
    renewed = db.session.scalar(select(OneTimeLink).order_by(OneTimeLink.id.desc()))
    assert renewed.contact_id == ada.id and renewed.expires_at > utcnow() + timedelta(hours=71)
    assert dashboard.build().expired_count == 0


def test_failed_mail_needs_attention_and_retries_back_home(login):
    message = OutboxMessage(
        to_addr="ada@example.com",
        subject="Your link",
        status="failed",
        last_error="550 mailbox unavailable",
        message_id="<m1@example.com>",
    )
    db.session.add(message)
    db.session.commit()
    html = login.get("/").text
    assert "1 email failed" in html and "550 mailbox unavailable" in html
    assert 'href="/mail/?status=failed"' in html
    response = login.post(f"/mail/{message.id}/retry", data={"back": "home"})
    assert response.status_code == 303 and response.location == "/"
    db.session.refresh(message)
    assert message.status == "pending"
    assert "email failed" not in login.get("/").text


def _busy(calendar, contacts, n):
    """n workflow links in every stage, n expired unused links and n failed mails."""
    workflow, version = workflow_rows(f"Busy {n}")
    now = utcnow()
    for i in range(n):
        contact = contacts[i % len(contacts)]
        enrolment = Enrolment(workflow_id=workflow.id, version_id=version.id, contact_id=contact.id)
        db.session.add(enrolment)
        db.session.flush()
        add_link(calendar, contact, created_at=now - timedelta(days=i % 20), workflow=workflow, enrolment=enrolment)
        _needs_attention(calendar, contact, now, i, f"{n}-{i}")
    db.session.commit()


def _needs_attention(calendar, contact, now, i, message_key):
    """An admin link that expired unused i + 1 hours ago, and a failed mail, for the contact."""
    add_link(
        calendar, contact, created_at=now - timedelta(days=3), source="admin", expires_at=now - timedelta(hours=i + 1)
    )
    db.session.add(OutboxMessage(to_addr=contact.email, subject="x", status="failed", message_id=f"<{message_key}@x>"))


def test_the_home_page_sends_as_many_statements_with_3_links_as_with_30(login, make_calendar, make_contact):
    from tests.conftest import statements_run

    calendar = make_calendar()
    contacts = [make_contact() for _ in range(40)]
    _busy(calendar, contacts, 3)
    login.get("/")
    with statements_run() as small:
        assert login.get("/").status_code == 200
    _busy(calendar, contacts, 30)
    with statements_run() as large:
        html = login.get("/").text
    assert "33 emails failed" in html
    assert len(small) == len(large), (small, large)


def test_attention_counts_stop_at_the_cap_and_say_so(login, make_calendar, make_contact, monkeypatch):
    monkeypatch.setattr(dashboard, "COUNT_CAP", 5)
    calendar = make_calendar()
    contacts = [make_contact() for _ in range(7)]
    now = utcnow()
    for i, contact in enumerate(contacts):
        _needs_attention(calendar, contact, now, i, str(i))
    db.session.commit()
    board = dashboard.build()
    assert (board.failed_mail_count, board.expired_count) == (6, 6)
    html = login.get("/").text
    assert "5+ emails failed" in html and "5+ links expired unused" in html
    monkeypatch.setattr(dashboard, "COUNT_CAP", 1000)
    html = login.get("/").text
    assert "7 emails failed" in html and "7 links expired unused" in html


def test_showed_is_a_dash_until_a_booking_is_marked(login, make_calendar, make_contact):
    """Booked meetings not marked yet (still ahead) give no rate, not "0%"."""
    calendar, contact = make_calendar(), make_contact()
    workflow, _version = workflow_rows("Welcome")
    now = utcnow()
    booking = add_booking(calendar, contact, None)
    add_link(
        calendar, contact, created_at=now - timedelta(hours=2), workflow=workflow, used_at=now, booking_id=booking.id
    )
    db.session.commit()
    html = login.get("/").text
    footer = html[html.index("<tfoot>") : html.index("</tfoot>")]
    assert " 0%" not in html and ">—</small>" in footer and 'title="— (none marked yet)"' in footer
    assert "Showed: 0 (— (none marked yet))." in html
    booking.attendance = "no_show"
    db.session.commit()
    link_counts.recount(select(Workflow.id))  # the attendance was set straight in the row
    db.session.commit()
    html = login.get("/").text
    assert 'title="0% of 1 marked booking"' in html and "Showed: 0 (0% of 1 marked booking)." in html
