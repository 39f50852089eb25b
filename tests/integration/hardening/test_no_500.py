"""The inputs that used to get a 500, each now a clear 4xx or a message at save, with nothing written.

(hardening/test_no_5xx_routes.py and api/test_api_schema.py search for more; these pin the ones found.)
"""

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import iso, tomorrow_at
from tests.helpers import count
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars import services as calendars
from webapp.extensions import db
from webapp.workflows import actions, merge, services
from webapp.workflows.models import Workflow

HUGE = [str(2**31), str(2**63), "99999999999999999999", "1" * 5000]


# --- days near year 1 and 9999 ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("month=9999-12", "Pick a month from 1900-01 to 2999-12."),
        ("month=0001-01", "Pick a month from 1900-01 to 2999-12."),
        ("date=9999-12-31", "Pick a day from 1900-01-01 to 2999-12-31."),
        ("date=0001-01-01", "Pick a day from 1900-01-01 to 2999-12-31."),
    ],
)
def test_booking_page_refuses_days_outside_the_years_served(client, make_link, hx, query, message):
    _, token = make_link()
    for headers in ({}, hx):
        response = client.get(f"/book/{token}?{query}", headers=headers)
        assert response.status_code == 400 and message in response.text


def test_booking_page_still_ignores_a_malformed_month(client, make_link):
    _, token = make_link()
    assert client.get(f"/book/{token}?month=soon&date=31-12-2026").status_code == 200


@pytest.mark.parametrize("start", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00"])
def test_booking_a_time_near_year_1_or_9999_is_refused_and_books_nothing(client, make_link, start):
    link, token = make_link()
    data = {"start": start, "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
    response = client.post(f"/book/{token}", data=data)
    assert response.status_code == 422 and "Pick a time from the list." in response.text
    assert count(Booking) == 0 and db.session.get(OneTimeLink, link.id).bookable


def test_rescheduling_to_year_9999_is_refused(client, make_link):
    _, token = make_link()
    data = {"start": iso(tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
    manage = client.post(f"/book/{token}", data=data).headers["Location"]
    response = client.post(f"{manage}/reschedule", data={"start": "9999-12-31T23:30:00Z", "timezone": "UTC"})
    assert response.status_code == 422
    assert db.session.scalar(select(Booking.start_at)) == tomorrow_at(10)


@pytest.mark.parametrize(("start", "end"), [("9999-12-31", "9999-12-31"), ("0001-01-01", "0001-01-01")])
def test_api_slots_refuses_year_1_and_9999(client, api_key, make_calendar, start, end):
    calendar = make_calendar()
    response = client.get(f"/api/v1/calendars/{calendar.id}/slots?start={start}&end={end}", headers=api_key)
    assert response.status_code == 422
    assert response.json["fields"] == {name: "Pick a day from 1900-01-01 to 2999-12-31." for name in ("start", "end")}


def test_the_slot_engine_answers_nothing_for_days_it_does_not_serve(make_calendar):
    calendar = make_calendar(window_days=None, weekly={d: [(0, 1440)] for d in range(7)})
    assert calendars.slots(calendar, date(9999, 12, 31), date.max, "Etc/GMT+12") == []
    assert calendars.slots(calendar, date.min, date(1, 1, 2), "Etc/GMT-14") == []


def workflow_with(step_type: str):
    """A draft workflow with one new step of the type; returns (workflow, step)."""
    workflow = services.create_workflow("Fuzzed", "manual")
    step = services.new_step(step_type)
    workflow.steps = [step]
    db.session.commit()
    return workflow, step


def test_a_wait_until_year_9999_is_refused_at_save(login, app):
    workflow, step = workflow_with("wait")
    sid = step["id"]
    fields = {"mode": "until", "at": "9999-12-31T23:59", "timezone": "Etc/GMT+12"}
    response = login.post(f"/workflows/{workflow.id}/steps/{sid}", data={f"s{sid}-{k}": v for k, v in fields.items()})
    assert response.status_code == 422 and "Enter a date up to 2999-12-31." in response.text
    db.session.expire_all()
    assert db.session.get(Workflow, workflow.id).steps == [step]


# --- ids and page numbers past the database's integers ---------------------------------------------------


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize(
    "path",
    [
        "/calendars/{n}",
        "/contacts/{n}",
        "/workflows/{n}",
        "/mail/{n}",
        "/mail/{n}/attachments/{n}",
        "/enrolments/{n}",
        "/api/v1/one-time-links/{n}",
    ],
)
def test_an_id_past_the_database_integers_is_a_404(login, api_key, path, number):
    assert login.get(path.format(n=number), headers=api_key).status_code == 404


def test_the_int_converter_is_bounded_app_wide(app):
    from webapp import params

    for rule in app.url_map.iter_rules():
        for converter in rule._converters.values():
            if converter.regex == r"\d+":
                assert isinstance(converter, params.IdConverter), rule.rule


@pytest.mark.parametrize("number", ["100000000000000000000", "1" * 5000, "-1", "abc", "0"])
def test_any_page_number_shows_a_page(login, make_contact, number):
    make_contact()
    for path in ("/contacts/", "/mail/"):
        assert login.get(f"{path}?page={number}").status_code == 200


def test_page_numbers():
    from webapp import params

    assert params.page_number("3") == 3
    assert params.page_number(" 007 ") == 7
    assert params.page_number("0") == 1
    assert params.page_number("99999999999999999999") == params.MAX_PAGE
    with pytest.raises(ValueError):
        params.page_number("²")


@pytest.mark.parametrize("number", HUGE)
def test_huge_ids_in_query_strings_and_forms_find_nothing(login, make_calendar, make_contact, number):
    calendar, contact = make_calendar(), make_contact()
    assert login.get(f"/bookings/?calendar_id={number}").status_code == 200
    assert login.get(f"/links/calendar/{calendar.id}?new_link={number}").status_code == 200
    for data in (
        {"calendar_id": number, "contact_id": str(contact.id)},
        {"calendar_id": str(calendar.id), "contact_id": number},
    ):
        response = login.post("/links/new", data=data)
        assert 400 <= response.status_code < 500
    assert count(OneTimeLink) == 0


def test_an_out_of_range_id_in_link_metadata_does_not_break_the_booking(client, api_key, make_calendar, make_contact):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    contact = make_contact()
    for enrolment_id in ("99999999999999999999", "²"):
        body = {"calendar_id": calendar.id, "contact_id": contact.id, "metadata": {"enrolment_id": enrolment_id}}
        url = client.post("/api/v1/one-time-links", json=body, headers=api_key).json["url"]
        start = tomorrow_at(9 if enrolment_id == "²" else 10)
        data = {"start": iso(start), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
        assert client.post(url.split("localhost", 1)[-1], data=data).status_code == 303
    assert count(Booking) == 2


# --- custom-value templates -------------------------------------------------------------------------

# Each within the email body's 20,000 characters, so the limits below are what refuses them.
DEEP = {
    "brackets": "{{ " + "(" * 3000 + "contact.first_name" + ")" * 3000 + " }}",
    "lists": "{{ " + "[" * 5000 + "]" * 5000 + " }}",
    "nots": "{{ " + "not " * 3000 + "contact.first_name }}",
    "filters": "{{ contact.first_name" + "|e" * 5000 + " }}",
    "ifs": "{% if 1 %}" * 900 + "x" + "{% endif %}" * 900,
    "conditions": "{{ " + "1 if 1 else " * 1500 + "2 }}",
}


@pytest.mark.parametrize("name", sorted(DEEP))
def test_a_deeply_nested_email_body_is_refused_at_save_with_a_message(login, name):
    workflow, step = workflow_with("send_email")
    sid = step["id"]
    response = login.post(
        f"/workflows/{workflow.id}/steps/{sid}", data={f"s{sid}-subject": "Hello", f"s{sid}-body": DEEP[name]}
    )
    assert response.status_code == 422
    assert "nested too deeply" in response.text or "is too long (at most 100 parts)" in response.text
    db.session.expire_all()
    assert db.session.get(Workflow, workflow.id).steps == [step]
    preview = login.get(f"/workflows/{workflow.id}/steps/{sid}/preview", query_string={f"s{sid}-body": DEEP[name]})
    assert preview.status_code == 200


@pytest.mark.parametrize("name", sorted(DEEP))
def test_a_deeply_nested_template_stored_before_the_limits_fails_as_a_step_error(name):
    with pytest.raises(merge.TemplateError, match="The template cannot be used"):
        merge.render(DEEP[name], {"contact": {"first_name": "Ada"}})
    with pytest.raises(merge.TemplateError, match="The template cannot be used"):
        merge.render_json(DEEP[name], {"contact": {"first_name": "Ada"}})


def test_real_templates_stay_within_the_limits():
    source = "{% if contact.first_name %}Hi {{ contact.first_name | default('there') | title }}{% endif %}"
    assert merge.check(source, [], outputs_of=actions.outputs_of) == []
    nested = "{% if 1 %}" * 5 + "{{ " + "(" * 5 + "contact.first_name" + ")" * 5 + " }}" + "{% endif %}" * 5
    assert merge.check(nested, [], outputs_of=actions.outputs_of) == []
    assert merge.render(nested, {"contact": {"first_name": "Ada"}}) == "Ada"


# --- the answers themselves ----------------------------------------------------------------------------


def test_a_405_says_which_methods_are_allowed(client, api_key):
    response = client.delete("/api/v1/contacts", headers=api_key)
    assert response.status_code == 405 and set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}
    assert response.json == {"error": "This address does not accept that kind of request."}
    assert client.put("/login").headers["Allow"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "ada@example.com", "tags": {}}, "tags"),
        ({"email": "ada@example.com", "tags": ""}, "tags"),
    ],
)
def test_api_contacts_refuses_tags_that_are_not_a_list(client, api_key, body, field):
    response = client.post("/api/v1/contacts", json=body, headers=api_key)
    assert response.status_code == 422 and field in response.json["fields"]


def test_api_calendars_refuses_availability_that_is_not_an_object(client, api_key):
    response = client.post("/api/v1/calendars", json={"name": "Intro", "availability": []}, headers=api_key)
    assert response.status_code == 422 and "availability" in response.json["fields"]
    made = client.post("/api/v1/calendars", json={"name": "Intro", "availability": None}, headers=api_key)
    assert made.status_code == 201 and made.json["availability"]["mon"] == [["09:00", "17:00"]]
