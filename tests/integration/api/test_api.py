"""JSON API v1: each endpoint's answers, its errors, and the rules it shares with the pages."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.conftest import iso, tomorrow_at
from tests.helpers import count, post_booking
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.contacts import services as contact_services
from webapp.contacts.models import Contact, Tag
from webapp.extensions import db

# --- errors every endpoint shares ----------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/v1/contacts", "/api/v1/calendars", "/api/v1/one-time-links"])
def test_a_body_that_is_not_json_400(api, url):
    for raw in ("{not json", "", "[1, 2]", '"text"', "null"):
        response = api.post(url, data=raw, content_type="application/json")
        assert response.status_code == 400, raw
        assert response.json["error"] in (
            "The request body is not valid JSON.",
            "The request body must be a JSON object.",
        )


def test_json_without_a_content_type_is_still_read(api):
    response = api.post("/api/v1/contacts", data='{"email": "ada@example.com"}', content_type="text/plain")
    assert response.status_code == 201


def test_unknown_fields_are_refused_not_ignored(api):
    response = api.post("/api/v1/calendars", {"name": "Intro", "duration": 45})
    assert response.status_code == 422
    assert response.json["fields"] == {"duration": "Unknown field."}


def test_not_found_and_wrong_method_are_json(api):
    for response, status in ((api.get("/api/v1/nothing-here"), 404), (api.client.put("/api/v1/contacts"), 405)):
        assert response.status_code == status and response.is_json and "error" in response.json


def test_a_failure_is_a_json_500_without_internals(api, app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(contact_services, "find_by_email", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = api.get("/api/v1/contacts?email=ada@example.com")
    assert response.status_code == 500 and response.is_json
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_answers_are_not_cached(api):
    assert api.get("/api/v1/calendars").headers["Cache-Control"] == "no-store"


# --- contacts ------------------------------------------------------------------------------------


def test_create_a_contact_201(api):
    response = api.post(
        "/api/v1/contacts",
        {"email": " Ada@Example.com ", "first_name": " Ada ", "last_name": "Lovelace", "phone": "+44 20 7946 0000"},
    )
    assert response.status_code == 201
    body = response.json
    contact = db.session.get(Contact, body["id"])
    assert body == {
        "id": contact.id,
        "email": "Ada@Example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "phone": "+44 20 7946 0000",
        "tags": [],
        "created_at": contact.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": contact.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    assert body["created_at"].endswith("Z")


def test_tags_are_normalised_and_deduplicated(api):
    response = api.post("/api/v1/contacts", {"email": "ada@example.com", "tags": ["VIP", " vip ", "Trial   Users"]})
    assert response.json["tags"] == ["trial users", "vip"]
    again = api.post("/api/v1/contacts", {"email": "ADA@example.com", "tags": ["Vip", "webinar"]})
    assert again.json["tags"] == ["trial users", "vip", "webinar"]
    assert sorted(db.session.scalars(select(Tag.name))) == ["trial users", "vip", "webinar"]


def test_tags_go_through_the_one_add_tags(api, monkeypatch):
    calls = []
    original = contact_services.add_tags

    def spy(contact, names, cache=None):
        calls.append(list(names))
        return original(contact, names, cache)

    monkeypatch.setattr(contact_services, "add_tags", spy)
    api.post("/api/v1/contacts", {"email": "ada@example.com", "tags": ["new"]})
    api.post("/api/v1/contacts", {"email": "ada@example.com", "tags": ["Later"]})
    assert calls == [["new"], ["Later"]]


def test_the_same_email_in_any_case_updates_200(api, make_contact):
    existing = make_contact(email="ada@example.com", first_name="Ada", last_name="Lovelace", phone="123")
    response = api.post("/api/v1/contacts", {"email": "ADA@EXAMPLE.COM", "first_name": "Augusta", "phone": None})
    assert response.status_code == 200
    assert response.json["id"] == existing.id
    assert response.json["first_name"] == "Augusta"
    assert response.json["last_name"] == "Lovelace"  # not sent: kept
    assert response.json["phone"] == ""  # null: cleared
    assert count(Contact) == 1


def test_tags_are_added_on_update_never_removed(api, make_contact):
    contact = make_contact(email="ada@example.com")
    contact_services.add_tags(contact, ["customer"])
    db.session.commit()
    response = api.post("/api/v1/contacts", {"email": "ada@example.com", "tags": ["vip"]})
    assert response.json["tags"] == ["customer", "vip"]


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "email", "Email is missing."),
        ({"email": "not-an-email"}, "email", "is not a valid email address"),
        ({"email": 42}, "email", "Must be a string."),
        ({"email": "ada@example.com", "phone": "call me"}, "phone", "Only digits"),
        ({"email": "ada@example.com", "first_name": "x" * 101}, "first_name", "longer than 100"),
        ({"email": "ada@example.com", "tags": "vip"}, "tags", "Must be a list of strings."),
        ({"email": "ada@example.com", "tags": ["ok", 3]}, "tags", "Must be a list of strings."),
        ({"email": "ada@example.com", "tags": ["x" * 65]}, "tags", "longer than 64"),
        ({"email": "ada@example.com", "tags": ["  "]}, "tags", "at least one character"),
        ({"email": "ada@example.com", "company": "ACME"}, "company", "Unknown field."),
    ],
)
def test_contact_validation_422(api, body, field, message):
    response = api.post("/api/v1/contacts", body)
    assert response.status_code == 422
    assert response.json["error"] == "Some fields are invalid; see fields."
    assert message in response.json["fields"][field]
    assert count(Contact) == 0


def test_every_bad_contact_field_is_reported_at_once(api):
    response = api.post("/api/v1/contacts", {"email": "nope", "phone": "abc", "tags": [""]})
    assert set(response.json["fields"]) == {"email", "phone", "tags"}


def test_find_a_contact_by_email(api, make_contact):
    contact = make_contact(email="ada@example.com")
    response = api.get("/api/v1/contacts?email=%20ADA@example.com")
    assert response.status_code == 200 and response.json["id"] == contact.id
    missing = api.get("/api/v1/contacts?email=bob@example.com")
    assert missing.status_code == 404 and missing.json == {"error": "No contact with email bob@example.com."}
    assert api.get("/api/v1/contacts").status_code == 422


# --- calendars -----------------------------------------------------------------------------------


def test_list_calendars(api, make_calendar):
    assert api.get("/api/v1/calendars").json == {"calendars": []}
    calendar = make_calendar(name="Intro call", timezone="Europe/Paris", weekly={0: [(540, 720)], 4: [(780, 1440)]})
    (listed,) = api.get("/api/v1/calendars").json["calendars"]
    assert listed["id"] == calendar.id and listed["name"] == "Intro call" and listed["timezone"] == "Europe/Paris"
    assert listed["status"] == "active" and listed["duration_minutes"] == 30
    assert listed["availability"]["mon"] == [["09:00", "12:00"]]
    assert listed["availability"]["fri"] == [["13:00", "00:00"]]  # an end of 00:00 is midnight
    assert listed["availability"]["sun"] == []


def test_create_a_calendar_201(api):
    body = {
        "name": "Strategy session",
        "timezone": "America/New_York",
        "duration_minutes": 45,
        "slot_interval_minutes": 15,
        "seats": 3,
        "booking_window_days": 30,
        "min_notice_minutes": 120,
        "availability": {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "sat": [["22:00", "00:00"]]},
    }
    response = api.post("/api/v1/calendars", body)
    assert response.status_code == 201, response.json
    created = response.json
    calendar = db.session.get(Calendar, created["id"])
    assert (calendar.name, calendar.timezone, calendar.duration, calendar.slot_interval) == (
        "Strategy session",
        "America/New_York",
        45,
        15,
    )
    assert (calendar.seats, calendar.window_days, calendar.min_notice) == (3, 30, 120)
    assert [(r.weekday, r.start_minute, r.end_minute) for r in calendar.ranges] == [
        (0, 540, 720),
        (0, 780, 1020),
        (5, 1320, 1440),
    ]
    for name, value in body.items():
        assert created[name] == (
            {**{k: [] for k in created["availability"]}, **value} if name == "availability" else value
        )
    assert created["slug"] == "strategy-session" and created["status"] == "active"
    assert api.get("/api/v1/calendars").json["calendars"] == [created]


def test_a_minimal_calendar_gets_the_new_calendar_pages_defaults(api):
    created = api.post("/api/v1/calendars", {"name": "Quick chat"}).json
    assert created["timezone"] == "UTC" and created["duration_minutes"] == 30 and created["seats"] == 1
    assert created["availability"]["mon"] == [["09:00", "17:00"]] and created["availability"]["sat"] == []
    empty = api.post("/api/v1/calendars", {"name": "By hand", "availability": {}}).json
    assert all(ranges == [] for ranges in empty["availability"].values())


def test_calendar_validation_reports_every_field(api):
    response = api.post(
        "/api/v1/calendars",
        {
            "name": "",
            "timezone": "Mars/Olympus",
            "duration_minutes": 3,
            "seats": "2",
            "slot_interval_minutes": 2.5,
            "availability": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]], "tue": [["9", "10:00"]], "funday": []},
        },
    )
    assert response.status_code == 422
    fields = response.json["fields"]
    assert fields["name"] == "Give the calendar a name."
    assert "is not a time zone" in fields["timezone"]
    assert fields["duration_minutes"] == "Between 5 and 1440 minutes."
    assert fields["seats"] == "Must be a whole number."
    assert fields["slot_interval_minutes"] == "Must be a whole number."
    assert fields["availability.mon"] == "09:00–12:00 overlaps 11:00–13:00"
    assert fields["availability.tue"] == "Use a time like 09:30."
    assert "Unknown day" in fields["availability.funday"]
    assert db.session.scalar(select(func.count(Calendar.id))) == 0


@pytest.mark.parametrize(
    ("availability", "message"),
    [
        ([["09:00", "17:00"]], "Must be an object"),
        ({"mon": ["09:00", "17:00"]}, "pairs"),
        ({"mon": [["17:00", "09:00"]]}, "must end after it starts"),
        ({"mon": [["09:00", "24:00"]]}, "Use a time like 09:30."),
    ],
)
def test_bad_availability_422(api, availability, message):
    response = api.post("/api/v1/calendars", {"name": "X", "availability": availability})
    assert response.status_code == 422
    assert any(message in text for text in response.json["fields"].values()), response.json


def test_a_taken_slug_422(api, make_calendar):
    make_calendar(name="Intro")
    response = api.post("/api/v1/calendars", {"name": "Intro", "slug": "intro"})
    assert response.status_code == 422 and "already uses this slug" in response.json["fields"]["slug"]
    assert api.post("/api/v1/calendars", {"name": "Intro"}).json["slug"] == "intro-2"


# --- slots ---------------------------------------------------------------------------------------


@pytest.fixture
def evening(make_calendar):
    """New York, Mondays 20:00–21:00, which is Tuesday in UTC; no booking window, to ask about 2035."""
    return unlimited(make_calendar(timezone="America/New_York", duration=30, weekly={0: [(1200, 1260)]}))


# The slots asked about are in 2035: the clock stays before them, so these tests keep passing after 2035.
before_2035 = time_machine.travel(datetime(2034, 12, 1, 12, 0, tzinfo=UTC), tick=False)


def unlimited(calendar):
    # Set after creation: create_calendar() stores None as the column default (60 days).
    calendar.window_days = None
    db.session.commit()
    return calendar


@before_2035
def test_slots_in_the_calendars_zone_by_default(api, evening):
    response = api.get(f"/api/v1/calendars/{evening.id}/slots?start=2035-01-08&end=2035-01-08")
    assert response.status_code == 200
    assert response.json == {
        "calendar_id": evening.id,
        "timezone": "America/New_York",
        "start": "2035-01-08",
        "end": "2035-01-08",
        "slots": [
            {"start": "2035-01-09T01:00:00Z", "end": "2035-01-09T01:30:00Z", "seats_left": 1},
            {"start": "2035-01-09T01:30:00Z", "end": "2035-01-09T02:00:00Z", "seats_left": 1},
        ],
    }


@before_2035
def test_slots_days_are_read_in_the_given_zone(api, evening):
    url = f"/api/v1/calendars/{evening.id}/slots"
    # Monday evening in New York is Tuesday in UTC (winter, UTC-5) ...
    assert api.get(f"{url}?start=2035-01-08&end=2035-01-08&timezone=UTC").json["slots"] == []
    winter = api.get(f"{url}?start=2035-01-09&end=2035-01-09&timezone=UTC").json["slots"]
    assert [s["start"] for s in winter] == ["2035-01-09T01:00:00Z", "2035-01-09T01:30:00Z"]
    # ... and Tuesday morning in Tokyo (summer, New York at UTC-4).
    assert api.get(f"{url}?start=2035-07-02&end=2035-07-02&timezone=Asia/Tokyo").json["slots"] == []
    summer = api.get(f"{url}?start=2035-07-03&end=2035-07-03&timezone=Asia/Tokyo").json
    assert summer["timezone"] == "Asia/Tokyo"
    assert [s["start"] for s in summer["slots"]] == ["2035-07-03T00:00:00Z", "2035-07-03T00:30:00Z"]


@before_2035
def test_slots_show_seats_left_and_skip_booked_ones(api, make_calendar):
    calendar = unlimited(make_calendar(seats=2, weekly={0: [(540, 600)]}))
    db.session.add(
        Booking(
            calendar_id=calendar.id,
            start_at=datetime(2035, 1, 8, 9, 0, tzinfo=UTC),
            end_at=datetime(2035, 1, 8, 9, 30, tzinfo=UTC),
            name="Bob",
            email="bob@example.com",
        )
    )
    db.session.commit()
    slots = api.get(f"/api/v1/calendars/{calendar.id}/slots?start=2035-01-08&end=2035-01-08").json["slots"]
    assert slots == [
        {"start": "2035-01-08T09:00:00Z", "end": "2035-01-08T09:30:00Z", "seats_left": 1},
        {"start": "2035-01-08T09:30:00Z", "end": "2035-01-08T10:00:00Z", "seats_left": 2},
    ]


def test_the_slot_range_is_capped(api, evening):
    url = f"/api/v1/calendars/{evening.id}/slots"
    assert api.get(f"{url}?start=2035-01-01&end=2035-03-03").status_code == 200  # 62 days
    response = api.get(f"{url}?start=2035-01-01&end=2035-03-04")
    assert response.status_code == 422
    assert response.json["fields"] == {"end": "Ask for at most 62 days at a time; split longer ranges."}


@pytest.mark.parametrize(
    ("query", "fields"),
    [
        ("", {"start", "end"}),
        ("start=2035-01-08", {"end"}),
        ("start=2035-1-8&end=2035-01-08", {"start"}),
        ("start=2035-02-30&end=2035-03-01", {"start"}),
        ("start=2035-01-08&end=2035-01-07", {"end"}),
        ("start=2035-01-08&end=2035-01-08&timezone=Mars/Olympus", {"timezone"}),
    ],
)
def test_bad_slot_queries_422(api, evening, query, fields):
    response = api.get(f"/api/v1/calendars/{evening.id}/slots?{query}")
    assert response.status_code == 422 and set(response.json["fields"]) == fields


def test_slots_of_an_unknown_calendar_404(api):
    response = api.get("/api/v1/calendars/999/slots?start=2035-01-08&end=2035-01-08")
    assert response.status_code == 404 and response.json == {"error": "No calendar with id 999."}
    assert api.get("/api/v1/calendars/99999999999999999999/slots").status_code == 404


# --- one-time links ------------------------------------------------------------------------------


def test_a_link_for_a_contact_id_201(api, client, make_calendar, make_contact):
    calendar, contact = make_calendar(), make_contact()
    response = api.post("/api/v1/one-time-links", {"calendar_id": calendar.id, "contact_id": contact.id})
    assert response.status_code == 201
    body = response.json
    link = db.session.get(OneTimeLink, body["id"])
    assert link.source == "api" and link.contact_id == contact.id and link.calendar_id == calendar.id
    assert body["url"].startswith("http://127.0.0.1:5000/book/")
    assert {k: body[k] for k in ("status", "expires_at", "metadata", "calendar_id", "contact_id")} == {
        "status": "active",
        "expires_at": None,
        "metadata": {},
        "calendar_id": calendar.id,
        "contact_id": contact.id,
    }
    assert client.get(body["url"].removeprefix("http://127.0.0.1:5000")).status_code == 200


def test_a_link_for_an_unknown_email_creates_the_contact(api, make_calendar):
    calendar = make_calendar()
    response = api.post("/api/v1/one-time-links", {"calendar_id": calendar.id, "email": " New@Example.com "})
    assert response.status_code == 201
    contact = contact_services.find_by_email("new@example.com")
    assert contact is not None and response.json["contact_id"] == contact.id
    again = api.post("/api/v1/one-time-links", {"calendar_id": calendar.id, "email": "NEW@example.com"})
    assert again.json["contact_id"] == contact.id and again.json["id"] != response.json["id"]
    assert count(Contact) == 1


def test_a_link_expires_in_the_hours_asked(api, make_calendar, make_contact):
    calendar, contact = make_calendar(), make_contact()
    body = {"calendar_id": calendar.id, "contact_id": contact.id, "expires_in_hours": 1.5}
    response = api.post("/api/v1/one-time-links", body)
    link = db.session.get(OneTimeLink, response.json["id"])
    assert abs(link.expires_at - (utcnow() + timedelta(hours=1.5))) < timedelta(seconds=10)
    assert response.json["expires_at"] == link.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert api.post("/api/v1/one-time-links", {**body, "expires_in_hours": 8760}).status_code == 201


@pytest.mark.parametrize("hours", [0, -1, 8761, "24", True, [1]])
def test_bad_expiry_422(api, make_calendar, make_contact, hours):
    body = {"calendar_id": make_calendar().id, "contact_id": make_contact().id, "expires_in_hours": hours}
    response = api.post("/api/v1/one-time-links", body)
    assert response.status_code == 422 and "expires_in_hours" in response.json["fields"]


def test_metadata_is_kept_and_returned(api, make_calendar, make_contact):
    meta = {"crm_id": "0061a00000XyZ", "campaign": "spring", "note": "é ✓"}
    body = {"calendar_id": make_calendar().id, "contact_id": make_contact().id, "metadata": meta}
    response = api.post("/api/v1/one-time-links", body)
    assert response.status_code == 201 and response.json["metadata"] == meta
    assert db.session.get(OneTimeLink, response.json["id"]).meta == meta


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"deal": {"id": "1"}}, "flat object of strings"),
        ({"count": 3}, "flat object of strings"),
        (["a", "b"], "flat object of strings"),
        ("text", "flat object of strings"),
        ({"blob": "x" * 2040}, "larger than 2048 bytes"),
        ({f"k{i}": "é" * 25 for i in range(40)}, "larger than 2048 bytes"),  # 1430 characters, 2430 bytes
    ],
)
def test_bad_metadata_422(api, make_calendar, meta, message):
    body = {"calendar_id": make_calendar().id, "email": "new@example.com", "metadata": meta}
    response = api.post("/api/v1/one-time-links", body)
    assert response.status_code == 422 and message in response.json["fields"]["metadata"]
    assert count(Contact) == 0 and db.session.scalar(select(func.count(OneTimeLink.id))) == 0


def test_metadata_of_exactly_2_kb_is_accepted(api, make_calendar):
    meta = {"blob": "x" * (2048 - len('{"blob": ""}'))}
    body = {"calendar_id": make_calendar().id, "email": "new@example.com", "metadata": meta}
    assert api.post("/api/v1/one-time-links", body).status_code == 201


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"contact_id": 1}, {"calendar_id"}),
        ({"calendar_id": "1", "contact_id": 1}, {"calendar_id"}),
        ({"calendar_id": 1}, {"contact_id"}),
        ({"calendar_id": 1, "contact_id": 1, "email": "a@example.com"}, {"email"}),
        ({"calendar_id": 1, "email": "not an email"}, {"email"}),
        ({"calendar_id": 1, "contact_id": 0}, {"contact_id"}),
    ],
)
def test_bad_link_requests_422(api, body, fields):
    response = api.post("/api/v1/one-time-links", body)
    assert response.status_code == 422 and set(response.json["fields"]) == fields


def test_a_link_on_an_unknown_calendar_or_contact_404(api, make_calendar, make_contact):
    calendar, contact = make_calendar(), make_contact()
    response = api.post("/api/v1/one-time-links", {"calendar_id": 999, "contact_id": contact.id})
    assert response.status_code == 404 and response.json["fields"] == {"calendar_id": "No calendar with id 999."}
    response = api.post("/api/v1/one-time-links", {"calendar_id": calendar.id, "contact_id": 999})
    assert response.status_code == 404 and "contact_id" in response.json["fields"]


def test_a_link_on_an_archived_calendar_409(api, make_calendar, make_contact):
    calendar = make_calendar()
    calendar.is_active, calendar.archived_at = False, utcnow()
    db.session.commit()
    response = api.post("/api/v1/one-time-links", {"calendar_id": calendar.id, "contact_id": make_contact().id})
    assert response.status_code == 409 and "archived" in response.json["error"]


def test_a_links_state_follows_opening_and_booking(api, client, make_calendar, make_contact):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    body = {"calendar_id": calendar.id, "contact_id": make_contact().id, "metadata": {"deal": "42"}}
    created = api.post("/api/v1/one-time-links", body).json
    url = f"/api/v1/one-time-links/{created['id']}"
    token = created["url"].rsplit("/", 1)[1]
    assert api.get(url).json == created

    client.get(f"/book/{token}")
    opened = api.get(url).json
    assert opened["status"] == "opened" and opened["opened_at"].endswith("Z") and opened["used_at"] is None

    assert post_booking(client, token, tomorrow_at(10)).status_code == 303
    used = api.get(url).json
    booking = db.session.scalars(select(Booking)).one()
    assert used["status"] == "used" and used["used_at"].endswith("Z")
    assert used["booking_id"] == booking.id and used["metadata"] == {"deal": "42"}
    assert used["url"] == created["url"]


def test_an_unknown_link_404(api):
    response = api.get("/api/v1/one-time-links/999")
    assert response.status_code == 404 and response.json == {"error": "No one-time link with id 999."}


# --- bookings ------------------------------------------------------------------------------------


def test_bookings_carry_their_links_metadata(api, client, make_calendar, make_contact):
    calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
    contact = make_contact(email="ada@example.com")  # the link books with its contact's email
    body = {"calendar_id": calendar.id, "contact_id": contact.id, "metadata": {"deal": "42"}}
    link = api.post("/api/v1/one-time-links", body).json
    start = tomorrow_at(10)
    post_booking(client, link["url"].rsplit("/", 1)[1], start, timezone="America/Chicago")
    other = make_calendar(name="Other")
    db.session.add(
        Booking(calendar_id=other.id, start_at=start, end_at=start + timedelta(minutes=30), name="B", email="b@x.io")
    )
    db.session.commit()

    response = api.get(f"/api/v1/bookings?calendar_id={calendar.id}")
    assert response.status_code == 200
    (booking,) = response.json["bookings"]
    assert booking == {
        **booking,
        "calendar_id": calendar.id,
        "contact_id": contact.id,
        "start": iso(start),
        "end": iso(start + timedelta(minutes=30)),
        "status": "confirmed",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "timezone": "America/Chicago",
        "one_time_link_id": link["id"],
        "metadata": {"deal": "42"},
    }
    assert booking["id"] == api.get(f"/api/v1/one-time-links/{link['id']}").json["booking_id"]


def test_a_booking_without_a_link_has_null_link_and_metadata(api, make_calendar):
    calendar = make_calendar()
    start = tomorrow_at(9)
    db.session.add(
        Booking(calendar_id=calendar.id, start_at=start, end_at=start + timedelta(minutes=30), name="B", email="b@x.io")
    )
    db.session.commit()
    (booking,) = api.get("/api/v1/bookings").json["bookings"]
    assert booking["one_time_link_id"] is None and booking["metadata"] is None and booking["contact_id"] is None


def test_bookings_are_ordered_and_paged(api, make_calendar):
    calendar = make_calendar()
    for hour in (12, 9, 10):
        start = tomorrow_at(hour)
        db.session.add(
            Booking(
                calendar_id=calendar.id, start_at=start, end_at=start + timedelta(minutes=30), name="B", email="b@x.io"
            )
        )
    db.session.commit()
    starts = [b["start"] for b in api.get("/api/v1/bookings").json["bookings"]]
    assert starts == [iso(tomorrow_at(9)), iso(tomorrow_at(10)), iso(tomorrow_at(12))]
    page = api.get("/api/v1/bookings?limit=1&offset=1").json
    assert [b["start"] for b in page["bookings"]] == [iso(tomorrow_at(10))]
    assert (page["limit"], page["offset"]) == (1, 1)


def test_bookings_page_by_cursor_as_by_offset(api, make_calendar):
    calendar = make_calendar()
    for n in range(7):
        start = tomorrow_at(9 + n // 2)  # pairs share a start: the id breaks the tie
        db.session.add(
            Booking(
                calendar_id=calendar.id,
                start_at=start,
                end_at=start + timedelta(minutes=30),
                name=f"B{n}",
                email="b@x.io",
            )
        )
    db.session.commit()
    everything = [b["id"] for b in api.get("/api/v1/bookings").json["bookings"]]
    by_offset = [
        b["id"] for o in range(0, 7, 3) for b in api.get(f"/api/v1/bookings?limit=3&offset={o}").json["bookings"]
    ]
    first = api.get("/api/v1/bookings?limit=3").json
    walked, page = [b["id"] for b in first["bookings"]], first
    while page["next"]:
        page = api.get(f"/api/v1/bookings?limit=3&after={page['next']}").json
        walked += [b["id"] for b in page["bookings"]]
    assert walked == by_offset == everything and len(walked) == 7
    assert api.get("/api/v1/bookings?limit=7").json["next"] is None
    assert api.get(f"/api/v1/bookings?offset=3&limit=3&calendar_id={calendar.id}").json["next"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("calendar_id=999", 404),
        ("calendar_id=abc", 422),
        ("limit=0", 422),
        ("limit=501", 422),
        ("offset=-1", 422),
        ("after=nonsense", 422),
        ("after=" + "x" * 700, 422),
        ("after=W10&offset=2", 422),
    ],
)
def test_bad_booking_queries(api, query, status):
    response = api.get(f"/api/v1/bookings?{query}")
    assert response.status_code == status and response.is_json
