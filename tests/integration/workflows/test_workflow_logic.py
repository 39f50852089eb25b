"""Timing and logic steps: waits (durations, dates, reminders before a booking, until booked), if/else
branches and goals, run by the real engine with the clock moved (time-machine), never by sleeping."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from webapp.booking import services as booking
from webapp.booking.models import OneTimeLink
from webapp.booking.services import Invitee
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain
from webapp.workflows import editing, program, services
from webapp.workflows.models import Enrolment, StepRun

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, before New York's DST change on 2026-03-08


@pytest.fixture(autouse=True)
def fast_retries(app):
    app.config.update(WORKFLOW_RETRY_DELAYS=(0, 0), WORKFLOW_POLL_SECONDS=0, MAIL_RETRY_DELAYS=(0, 0))


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def calendar(make_calendar, clock):
    return make_calendar(name="Intro call", timezone="America/New_York", weekly={d: [(0, 1440)] for d in range(7)})


def link(calendar, key="booking_link"):
    return {"id": f"s-{key}", "type": "generate_link", "key": key, "config": {"calendar_id": calendar.id}}


def email(step_id, subject, body="Hi {{ contact.first_name }}: {{ steps.booking_link.url }}"):
    return {"id": step_id, "type": "send_email", "key": "", "config": {"subject": subject, "body": body}}


def wait(step_id, **config):
    return {"id": step_id, "type": "wait", "key": "", "config": config}


def if_else(step_id, conditions, yes=(), no=(), match="all"):
    return {
        "id": step_id,
        "type": "if_else",
        "key": "",
        "config": {"match": match, "conditions": list(conditions)},
        "branches": {"yes": list(yes), "no": list(no)},
    }


def goal(step_id, link_step="booking_link"):
    return {"id": step_id, "type": "goal", "key": "", "config": {"link_step": link_step}}


def publish(steps, trigger="manual"):
    workflow = services.create_workflow("Logic", trigger)
    workflow.steps = list(steps)
    db.session.commit()
    services.publish(workflow)
    return workflow


def enrol(workflow, contact) -> Enrolment:
    enrolment = services.enrol(workflow, contact, {"type": "manual"})
    db.session.commit()
    return enrolment


def fresh(enrolment) -> Enrolment:
    db.session.expire_all()
    return db.session.get(Enrolment, enrolment.id)


def subjects() -> list[str]:
    db.session.expire_all()
    query = select(OutboxMessage).where(OutboxMessage.kind == "workflow").order_by(OutboxMessage.id)
    return [m.subject for m in db.session.scalars(query)]


def runs(enrolment) -> dict[str, StepRun]:
    return {run.step_id: run for run in fresh(enrolment).step_runs}


def the_link(enrolment) -> OneTimeLink:
    return db.session.get(OneTimeLink, runs(enrolment)["s-booking_link"].output["link_id"])


def book(link_row, start):
    return booking.book(link_row, start, Invitee(name="Ada", email=link_row.contact.email, timezone="UTC"))


# --- waits ---------------------------------------------------------------------------------------


def test_a_wait_parks_the_enrolment_until_the_clock_gets_there(app, calendar, make_contact, clock):
    workflow = publish([link(calendar), wait("w", mode="duration", amount=2, unit="hours"), email("e", "Later")])
    enrolment = enrol(workflow, make_contact())
    drain(app)
    assert fresh(enrolment).run_at == START + timedelta(hours=2) and subjects() == []
    assert runs(enrolment)["w"].status == "waiting"
    clock.shift(timedelta(hours=1, minutes=59))
    drain(app)
    assert subjects() == []
    clock.shift(timedelta(minutes=1))
    drain(app)
    assert subjects() == ["Later"] and fresh(enrolment).status == "completed"


def test_days_count_on_the_calendars_wall_clock_across_dst(app, calendar, make_contact, clock):
    # Saturday 2026-03-07 10:00 in New York (EST, UTC-5); one day later is Sunday 10:00 EDT (UTC-4): 23 hours.
    clock.move_to(datetime(2026, 3, 7, 15, 0, tzinfo=UTC))
    workflow = publish([link(calendar), wait("w", mode="duration", amount=1, unit="days"), email("e", "Next day")])
    enrolment = enrol(workflow, make_contact())
    drain(app)
    assert fresh(enrolment).run_at == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)


def test_hours_are_exact_across_dst(app, calendar, make_contact, clock):
    clock.move_to(datetime(2026, 3, 7, 15, 0, tzinfo=UTC))
    workflow = publish([link(calendar), wait("w", mode="duration", amount=24, unit="hours"), email("e", "Later")])
    enrolment = enrol(workflow, make_contact())
    drain(app)
    assert fresh(enrolment).run_at == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_wait_until_a_date_in_a_zone(app, calendar, make_contact, clock):
    step = wait("w", mode="until", at="2026-03-10T09:30", timezone="Europe/Paris")
    workflow = publish([step, email("e", "On the day", body="Hello {{ contact.first_name }}")])
    enrolment = enrol(workflow, make_contact())
    drain(app)
    assert fresh(enrolment).run_at == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)


def test_a_test_run_skips_waits(app, calendar, make_contact, clock):
    workflow = publish([link(calendar), wait("w", mode="duration", amount=3, unit="days"), email("e", "Now")])
    enrolment = services.enrol(workflow, make_contact(), {"type": "test"}, is_test=True)
    db.session.commit()
    drain(app)
    assert subjects() == ["[Test] Now"] and runs(enrolment)["w"].output["skipped"].startswith("test run")


# --- reminders before the booking ----------------------------------------------------------------


def reminder_flow(calendar):
    return publish(
        [
            link(calendar),
            email("e1", "Your link"),
            wait("w1", mode="until_booked", link_step="booking_link", max_days=2),
            if_else(
                "if",
                [{"kind": "link_booked", "link_step": "booking_link"}],
                yes=[
                    wait("w2", mode="before_booking", amount=24, unit="hours", link_step="booking_link"),
                    email("e2", "See you tomorrow", body="Reminder for {{ contact.first_name }}"),
                ],
                no=[email("e3", "Still want to talk?")],
            ),
        ]
    )


def test_a_contact_who_does_not_book_gets_the_nudge_and_no_reminder(app, calendar, make_contact, clock):
    enrolment = enrol(reminder_flow(calendar), make_contact())
    drain(app)
    assert subjects() == ["Your link"] and fresh(enrolment).run_at == START + timedelta(days=2)
    clock.shift(timedelta(days=2))
    drain(app)
    assert subjects() == ["Your link", "Still want to talk?"]
    assert fresh(enrolment).status == "completed"
    assert runs(enrolment)["w1"].output["outcome"] == "not booked in time"
    assert "w2" not in runs(enrolment) and runs(enrolment)["if"].output["branch"] == "no"


def test_a_contact_who_books_gets_the_reminder_before_the_meeting_and_no_nudge(app, calendar, make_contact, clock):
    enrolment = enrol(reminder_flow(calendar), make_contact())
    drain(app)
    clock.shift(timedelta(hours=5))
    meeting = START + timedelta(days=3, hours=6)
    book(the_link(enrolment), meeting)
    db.session.commit()
    assert fresh(enrolment).run_at == START + timedelta(hours=5)  # the booking woke the wait
    drain(app)
    assert runs(enrolment)["w1"].output["outcome"] == "booked"
    assert fresh(enrolment).run_at == meeting - timedelta(hours=24) and subjects() == ["Your link"]
    clock.move_to(meeting - timedelta(hours=24))
    drain(app)
    assert subjects() == ["Your link", "See you tomorrow"] and fresh(enrolment).status == "completed"


def test_a_rescheduled_booking_moves_the_reminder(app, calendar, make_contact, clock):
    enrolment = enrol(reminder_flow(calendar), make_contact())
    drain(app)
    made = book(the_link(enrolment), START + timedelta(days=3))
    db.session.commit()
    drain(app)
    assert fresh(enrolment).run_at == START + timedelta(days=2)
    later = START + timedelta(days=5, hours=2)
    booking.reschedule(made, later)
    db.session.commit()
    drain(app)
    assert fresh(enrolment).run_at == later - timedelta(hours=24)
    clock.move_to(START + timedelta(days=2, hours=1))  # the old reminder time: nothing goes out
    drain(app)
    assert subjects() == ["Your link"]
    clock.move_to(later - timedelta(hours=24))
    drain(app)
    assert subjects() == ["Your link", "See you tomorrow"]


def test_a_cancelled_booking_gets_no_reminder(app, calendar, make_contact, clock):
    enrolment = enrol(reminder_flow(calendar), make_contact())
    drain(app)
    made = book(the_link(enrolment), START + timedelta(days=3))
    db.session.commit()
    drain(app)
    booking.cancel(made, "Something came up")
    db.session.commit()
    drain(app)
    done = fresh(enrolment)
    assert done.status == "completed" and subjects() == ["Your link"]
    assert "cancelled" in runs(enrolment)["w2"].output["stopped"]
    clock.shift(timedelta(days=5))
    drain(app)
    assert subjects() == ["Your link"]


# --- if/else and goals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "match", "branch"),
    [
        ([{"kind": "has_tag", "tag": "VIP"}], "all", "yes"),
        ([{"kind": "has_tag", "tag": "other"}], "all", "no"),
        ([{"kind": "field", "field": "email", "op": "contains", "value": "@ACME.com"}], "all", "yes"),
        ([{"kind": "field", "field": "first_name", "op": "equals", "value": "grace"}], "all", "yes"),
        ([{"kind": "field", "field": "first_name", "op": "equals", "value": "Gra"}], "all", "no"),
        ([{"kind": "has_tag", "tag": "vip"}, {"kind": "has_tag", "tag": "other"}], "all", "no"),
        ([{"kind": "has_tag", "tag": "vip"}, {"kind": "has_tag", "tag": "other"}], "any", "yes"),
        ([{"kind": "link_opened", "link_step": "booking_link"}], "all", "no"),
    ],
)
def test_conditions_choose_the_branch(app, calendar, make_contact, conditions, match, branch):
    from webapp.contacts.services import add_tags

    contact = make_contact(first_name="Grace", email="grace@acme.com")
    add_tags(contact, ["vip"])
    db.session.commit()
    workflow = publish(
        [
            link(calendar),
            if_else("if", conditions, match=match, yes=[email("y", "Yes")], no=[email("n", "No")]),
            email("after", "After"),
        ]
    )
    enrolment = enrol(workflow, contact)
    drain(app)
    assert subjects() == ["Yes" if branch == "yes" else "No", "After"]
    assert fresh(enrolment).status == "completed" and runs(enrolment)["if"].output["branch"] == branch


def test_the_link_opened_condition_sees_an_open(app, client, calendar, make_contact, clock):
    workflow = publish(
        [
            link(calendar),
            wait("w", mode="duration", amount=1, unit="hours"),
            if_else("if", [{"kind": "link_opened", "link_step": "booking_link"}], yes=[email("y", "Opened")]),
        ]
    )
    enrolment = enrol(workflow, make_contact())
    drain(app)
    from webapp.booking import links

    token_url = links.url(the_link(enrolment))
    assert client.get("/book/" + token_url.rsplit("/", 1)[1]).status_code == 200
    clock.shift(timedelta(hours=1))
    drain(app)
    assert subjects() == ["Opened"]


def test_a_booking_jumps_to_the_goal_and_skips_the_nudges(app, calendar, make_contact, clock):
    workflow = publish(
        [
            link(calendar),
            email("e1", "Your link"),
            wait("w1", mode="duration", amount=2, unit="days"),
            email("e2", "Nudge"),
            wait("w2", mode="duration", amount=2, unit="days"),
            email("e3", "Last nudge"),
            goal("g"),
            email("e4", "Thanks for booking", body="See you, {{ contact.first_name }}"),
        ]
    )
    enrolment = enrol(workflow, make_contact())
    drain(app)
    book(the_link(enrolment), START + timedelta(days=1))
    db.session.commit()
    assert fresh(enrolment).step_index == program.position(workflow.steps, "g")
    drain(app)
    assert subjects() == ["Your link", "Thanks for booking"] and fresh(enrolment).status == "completed"
    assert runs(enrolment)["w1"].output["skipped"].startswith("the goal was reached")
    assert runs(enrolment)["g"].status == "done" and "e2" not in runs(enrolment)


def test_a_goal_reached_in_order_just_passes(app, calendar, make_contact):
    workflow = publish([link(calendar), goal("g"), email("e", "Done")])
    enrolment = enrol(workflow, make_contact())
    drain(app)
    assert subjects() == ["Done"] and runs(enrolment)["g"].output == {"reached": "in order", "booked": False}


def test_steps_nest_in_branches_at_any_depth(app, calendar, make_contact):
    inner = if_else(
        "inner", [{"kind": "has_tag", "tag": "none"}], yes=[email("iy", "Inner yes")], no=[email("in", "Inner no")]
    )
    workflow = publish(
        [
            link(calendar),
            if_else("outer", [{"kind": "field", "field": "email", "op": "contains", "value": "@"}], yes=[inner]),
            email("end", "End"),
        ]
    )
    enrolment = enrol(workflow, make_contact())
    drain(app)
    assert subjects() == ["Inner no", "End"]
    assert {run.step_id for run in fresh(enrolment).step_runs} == {"s-booking_link", "outer", "inner", "in", "end"}


# --- validation and the tree ---------------------------------------------------------------------


def test_link_steps_must_come_before_what_follows_them(app, calendar):
    workflow = services.create_workflow("Bad", "manual")
    workflow.steps = [
        wait("w", mode="until_booked", link_step="booking_link", max_days=2),
        link(calendar),
        if_else("if", [{"kind": "link_booked", "link_step": "nope"}, {"kind": "has_tag", "tag": ""}]),
        goal("g", link_step=""),
        wait("w2", mode="duration", amount=0, unit="weeks"),
        wait("w3", mode="until", at="2020-01-01T09:00", timezone="Mars/Olympus"),
    ]
    db.session.commit()
    errors = services.validate(workflow)
    assert "is not a Generate One-Time Booking Link step before this one" in errors["w"]["link_step"]
    assert errors["if"]["conditions"].startswith("Condition 1: “nope” is not a Generate")
    assert "Condition 2: choose the tag." in errors["if"]["conditions"]
    assert errors["g"]["link_step"] == "Choose the link step this one follows."
    assert errors["w2"]["unit"] == "Minutes, hours or days."
    assert errors["w3"]["timezone"] == "Choose the time zone of that date."


def test_a_link_made_in_a_branch_is_not_available_after_the_if_else(app, calendar):
    workflow = services.create_workflow("Branchy", "manual")
    workflow.steps = [
        if_else("if", [{"kind": "has_tag", "tag": "vip"}], yes=[link(calendar)]),
        email("e", "Link", body="{{ steps.booking_link.url }}"),
    ]
    db.session.commit()
    assert "steps.booking_link.url" in services.validate(workflow)["e"]["body"]


def test_editing_adds_moves_and_deletes_steps_inside_branches(app, calendar):
    workflow = services.create_workflow("Tree", "manual")
    decision = editing.add_step(workflow, "if_else")
    first = editing.add_step(workflow, "send_email", parent=decision["id"], branch="no")
    second = editing.add_step(workflow, "wait", parent=decision["id"], branch="no")
    assert [s["id"] for s in program.find(workflow.steps, decision["id"])["branches"]["no"]] == [
        first["id"],
        second["id"],
    ]
    assert editing.move_step(workflow, second["id"], "up")
    assert [s["id"] for s in workflow.steps[0]["branches"]["no"]] == [second["id"], first["id"]]
    assert not editing.move_step(workflow, second["id"], "up")  # the top of its branch
    editing.delete_step(workflow, first["id"])
    assert [s["id"] for s in workflow.steps[0]["branches"]["no"]] == [second["id"]]
    with pytest.raises(ValueError):
        editing.add_step(workflow, "wait", parent=second["id"])  # not an if/else


def test_the_program_of_a_tree():
    tree = [
        {"id": "a"},
        {"id": "b", "type": "if_else", "branches": {"yes": [{"id": "c"}], "no": [{"id": "d"}, {"id": "e"}]}},
        {"id": "f"},
    ]
    code = program.flatten(tree)
    assert [i.step["id"] if i.step else f"jump {i.jump_to}" for i in code] == ["a", "b", "c", "jump 6", "d", "e", "f"]
    assert code[1].else_at == 4
    assert [s["id"] for s in program.before(tree, "e")] == ["a", "b", "d"]
    assert program.step_at(tree, 3)["id"] == "f"
