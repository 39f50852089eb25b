"""Timing and logic steps: waits (durations, dates, reminders before a booking, until booked), if/else
branches and goals, run by the real engine with the clock moved (time-machine), never by sleeping."""

import functools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import (
    ALL_WEEK,
    book_link,
    email_step,
    enrol_now,
    goal_step,
    if_else_step,
    link_step,
    make_workflow,
    wait_step,
)
from tests.helpers import issued_link, reload, runs, subjects
from webapp.booking import services as booking
from webapp.extensions import db
from webapp.worker import drain
from webapp.workflows import editing, program, services

pytestmark = pytest.mark.usefixtures("fast_retries")

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, before New York's DST change on 2026-03-08
# The mail here says only the contact's first name and the link.
email = functools.partial(email_step, body="Hi {{ contact.first_name }}: {{ steps.booking_link.url }}")


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def calendar(make_calendar, clock):
    return make_calendar(name="Intro call", timezone="America/New_York", weekly=ALL_WEEK)


# --- waits ---------------------------------------------------------------------------------------


def test_a_wait_parks_the_enrolment_until_the_clock_gets_there(app, calendar, make_contact, clock):
    workflow = make_workflow(
        steps=[link_step(calendar), wait_step("w", mode="duration", amount=2, unit="hours"), email("e", "Later")]
    )
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert reload(enrolment).run_at == START + timedelta(hours=2) and subjects() == []
    assert runs(enrolment)["w"].status == "waiting"
    clock.shift(timedelta(hours=1, minutes=59))
    drain(app)
    assert subjects() == []
    clock.shift(timedelta(minutes=1))
    drain(app)
    assert subjects() == ["Later"] and reload(enrolment).status == "completed"


def test_days_count_on_the_calendars_wall_clock_across_dst(app, calendar, make_contact, clock):
    # Saturday 2026-03-07 10:00 in New York (EST, UTC-5); one day later is Sunday 10:00 EDT (UTC-4): 23 hours.
    clock.move_to(datetime(2026, 3, 7, 15, 0, tzinfo=UTC))
    workflow = make_workflow(
        steps=[link_step(calendar), wait_step("w", mode="duration", amount=1, unit="days"), email("e", "Next day")]
    )
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert reload(enrolment).run_at == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)


def test_hours_are_exact_across_dst(app, calendar, make_contact, clock):
    clock.move_to(datetime(2026, 3, 7, 15, 0, tzinfo=UTC))
    workflow = make_workflow(
        steps=[link_step(calendar), wait_step("w", mode="duration", amount=24, unit="hours"), email("e", "Later")]
    )
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert reload(enrolment).run_at == datetime(2026, 3, 8, 15, 0, tzinfo=UTC)


def test_wait_until_a_date_in_a_zone(app, calendar, make_contact, clock):
    step = wait_step("w", mode="until", at="2026-03-10T09:30", timezone="Europe/Paris")
    workflow = make_workflow(steps=[step, email("e", "On the day", body="Hello {{ contact.first_name }}")])
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert reload(enrolment).run_at == datetime(2026, 3, 10, 8, 30, tzinfo=UTC)


def test_a_test_run_skips_waits(app, calendar, make_contact, clock):
    workflow = make_workflow(
        steps=[link_step(calendar), wait_step("w", mode="duration", amount=3, unit="days"), email("e", "Now")]
    )
    enrolment = services.enrol(workflow, make_contact(), {"type": "test"}, is_test=True)
    db.session.commit()
    drain(app)
    assert subjects() == ["[Test] Now"] and runs(enrolment)["w"].output["skipped"] == "a test run does not wait"


# --- reminders before the booking ----------------------------------------------------------------


def reminder_flow(calendar):
    return make_workflow(
        steps=[
            link_step(calendar),
            email("e1", "Your link"),
            wait_step("w1", mode="until_booked", link_step="booking_link", max_days=2),
            if_else_step(
                "if",
                [{"kind": "link_booked", "link_step": "booking_link"}],
                yes=[
                    wait_step("w2", mode="before_booking", amount=24, unit="hours", link_step="booking_link"),
                    email("e2", "See you tomorrow", body="Reminder for {{ contact.first_name }}"),
                ],
                no=[email("e3", "Still want to talk?")],
            ),
        ]
    )


def test_a_contact_who_does_not_book_gets_the_nudge_and_no_reminder(app, calendar, make_contact, clock):
    enrolment = enrol_now(reminder_flow(calendar), make_contact())
    drain(app)
    assert subjects() == ["Your link"] and reload(enrolment).run_at == START + timedelta(days=2)
    clock.shift(timedelta(days=2))
    drain(app)
    assert subjects() == ["Your link", "Still want to talk?"]
    assert reload(enrolment).status == "completed"
    assert runs(enrolment)["w1"].output["outcome"] == "not booked in time"
    assert "w2" not in runs(enrolment) and runs(enrolment)["if"].output["branch"] == "no"


def test_a_contact_who_books_gets_the_reminder_before_the_meeting_and_no_nudge(app, calendar, make_contact, clock):
    enrolment = enrol_now(reminder_flow(calendar), make_contact())
    drain(app)
    clock.shift(timedelta(hours=5))
    meeting = START + timedelta(days=3, hours=6)
    book_link(issued_link(enrolment), meeting)
    db.session.commit()
    assert reload(enrolment).run_at == START + timedelta(hours=5)  # the booking woke the wait
    drain(app)
    assert runs(enrolment)["w1"].output["outcome"] == "booked"
    assert reload(enrolment).run_at == meeting - timedelta(hours=24) and subjects() == ["Your link"]
    clock.move_to(meeting - timedelta(hours=24))
    drain(app)
    assert subjects() == ["Your link", "See you tomorrow"] and reload(enrolment).status == "completed"


def test_a_rescheduled_booking_moves_the_reminder(app, calendar, make_contact, clock):
    enrolment = enrol_now(reminder_flow(calendar), make_contact())
    drain(app)
    made = book_link(issued_link(enrolment), START + timedelta(days=3))
    db.session.commit()
    drain(app)
    assert reload(enrolment).run_at == START + timedelta(days=2)
    later = START + timedelta(days=5, hours=2)
    booking.reschedule(made, later)
    db.session.commit()
    drain(app)
    assert reload(enrolment).run_at == later - timedelta(hours=24)
    clock.move_to(START + timedelta(days=2, hours=1))  # the old reminder time: nothing goes out
    drain(app)
    assert subjects() == ["Your link"]
    clock.move_to(later - timedelta(hours=24))
    drain(app)
    assert subjects() == ["Your link", "See you tomorrow"]


def test_a_cancelled_booking_gets_no_reminder(app, calendar, make_contact, clock):
    enrolment = enrol_now(reminder_flow(calendar), make_contact())
    drain(app)
    made = book_link(issued_link(enrolment), START + timedelta(days=3))
    db.session.commit()
    drain(app)
    booking.cancel(made, "Something came up")
    db.session.commit()
    drain(app)
    done = reload(enrolment)
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
    workflow = make_workflow(
        steps=[
            link_step(calendar),
            if_else_step("if", conditions, match=match, yes=[email("y", "Yes")], no=[email("n", "No")]),
            email("after", "After"),
        ]
    )
    enrolment = enrol_now(workflow, contact)
    drain(app)
    assert subjects() == ["Yes" if branch == "yes" else "No", "After"]
    assert reload(enrolment).status == "completed" and runs(enrolment)["if"].output["branch"] == branch


def test_the_link_opened_condition_sees_an_open(app, client, calendar, make_contact, clock):
    workflow = make_workflow(
        steps=[
            link_step(calendar),
            wait_step("w", mode="duration", amount=1, unit="hours"),
            if_else_step("if", [{"kind": "link_opened", "link_step": "booking_link"}], yes=[email("y", "Opened")]),
        ]
    )
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    from webapp.booking import links

    token_url = links.url(issued_link(enrolment))
    assert client.get("/book/" + token_url.rsplit("/", 1)[1]).status_code == 200
    clock.shift(timedelta(hours=1))
    drain(app)
    assert subjects() == ["Opened"]


def test_a_booking_jumps_to_the_goal_and_skips_the_nudges(app, calendar, make_contact, clock):
    workflow = make_workflow(
        steps=[
            link_step(calendar),
            email("e1", "Your link"),
            wait_step("w1", mode="duration", amount=2, unit="days"),
            email("e2", "Nudge"),
            wait_step("w2", mode="duration", amount=2, unit="days"),
            email("e3", "Last nudge"),
            goal_step("g"),
            email("e4", "Thanks for booking", body="See you, {{ contact.first_name }}"),
        ]
    )
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    book_link(issued_link(enrolment), START + timedelta(days=1))
    db.session.commit()
    assert reload(enrolment).step_index == program.position(workflow.steps, "g")
    drain(app)
    assert subjects() == ["Your link", "Thanks for booking"] and reload(enrolment).status == "completed"
    assert runs(enrolment)["w1"].output["skipped"].startswith("the goal was reached")
    assert runs(enrolment)["g"].status == "done" and "e2" not in runs(enrolment)


def test_a_goal_reached_in_order_just_passes(app, calendar, make_contact):
    workflow = make_workflow(steps=[link_step(calendar), goal_step("g"), email("e", "Done")])
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert subjects() == ["Done"] and runs(enrolment)["g"].output == {"reached": "in order", "booked": False}


def test_steps_nest_in_branches_at_any_depth(app, calendar, make_contact):
    inner = if_else_step(
        "inner", [{"kind": "has_tag", "tag": "none"}], yes=[email("iy", "Inner yes")], no=[email("in", "Inner no")]
    )
    workflow = make_workflow(
        steps=[
            link_step(calendar),
            if_else_step("outer", [{"kind": "field", "field": "email", "op": "contains", "value": "@"}], yes=[inner]),
            email("end", "End"),
        ]
    )
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert subjects() == ["Inner no", "End"]
    assert {run.step_id for run in reload(enrolment).step_runs} == {"s-booking_link", "outer", "inner", "in", "end"}


# --- validation and the tree ---------------------------------------------------------------------


def test_link_steps_must_come_before_what_follows_them(app, calendar):
    workflow = services.create_workflow("Bad", "manual")
    workflow.steps = [
        wait_step("w", mode="until_booked", link_step="booking_link", max_days=2),
        link_step(calendar),
        if_else_step("if", [{"kind": "link_booked", "link_step": "nope"}, {"kind": "has_tag", "tag": ""}]),
        goal_step("g", link_step=""),
        wait_step("w2", mode="duration", amount=0, unit="weeks"),
        wait_step("w3", mode="until", at="2020-01-01T09:00", timezone="Mars/Olympus"),
    ]
    db.session.commit()
    errors = services.validate(workflow)
    assert "is not a Generate One-Time Booking Link step before this one" in errors["w"]["link_step"]
    assert errors["if"]["conditions"].startswith("Condition 1: “nope” is not a Generate")
    assert "Condition 2: choose the tag." in errors["if"]["conditions"]
    assert errors["g"]["link_step"] == "Choose the link step this one follows."
    assert errors["w2"]["unit"] == "Minutes, hours or days."
    assert errors["w3"]["timezone"].startswith("“Mars/Olympus” is not a time zone we know.")


def test_a_link_made_in_a_branch_is_not_available_after_the_if_else(app, calendar):
    workflow = services.create_workflow("Branchy", "manual")
    workflow.steps = [
        if_else_step("if", [{"kind": "has_tag", "tag": "vip"}], yes=[link_step(calendar)]),
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
