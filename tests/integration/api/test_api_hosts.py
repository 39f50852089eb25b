"""JSON API v1: hosts (list, create, show, update) and a calendar's host_ids and assignment."""

from sqlalchemy import select

from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.hosts.models import Host


def test_create_show_and_list_hosts(api):
    response = api.post("/api/v1/hosts", {"name": "Sam Rivera", "email": "Sam@Example.com", "timezone": "Berlin"})
    assert response.status_code == 201
    host = response.json
    assert host["name"] == "Sam Rivera" and host["email"] == "Sam@Example.com" and host["timezone"] == "Europe/Berlin"
    assert host["is_active"] is True and host["is_admin"] is False and host["photo_url"] is None
    assert api.get(f"/api/v1/hosts/{host['id']}").json == host
    listed = api.get("/api/v1/hosts").json
    assert [h["id"] for h in listed["hosts"]] == [host["id"]] and listed["next"] is None
    assert api.post("/api/v1/hosts", {"name": "Kim", "email": "kim@example.com"}).json["timezone"] == "UTC"


def test_create_refuses_bad_input_with_every_problem(api):
    api.post("/api/v1/hosts", {"name": "Sam", "email": "sam@example.com"})
    response = api.post("/api/v1/hosts", {"name": "", "email": "SAM@example.com", "timezone": "Atlantis", "x": 1})
    assert response.status_code == 422 and response.json["fields"] == {"x": "Unknown field."}
    response = api.post("/api/v1/hosts", {"name": "", "email": "SAM@example.com", "timezone": "Atlantis"})
    assert response.status_code == 422
    fields = response.json["fields"]
    assert set(fields) == {"name", "email", "timezone"}
    assert fields["email"] == "Another host already has this email."
    response = api.post("/api/v1/hosts", {"name": 5, "email": "a\nb@example.com"})
    assert response.status_code == 422 and fields and "name" in response.json["fields"]
    assert db.session.scalar(select(Host.id).where(Host.name != "Sam")) is None


def test_update_a_host(api, make_host):
    host = make_host(name="Sam", email="sam@example.com")
    response = api.patch(f"/api/v1/hosts/{host.id}", {"name": "Sam R.", "is_active": False})
    assert response.status_code == 200
    assert response.json["name"] == "Sam R." and response.json["is_active"] is False
    assert response.json["email"] == "sam@example.com"
    make_host(email="taken@example.com")
    response = api.patch(f"/api/v1/hosts/{host.id}", {"email": "Taken@example.com", "is_active": "yes"})
    assert response.status_code == 422
    assert set(response.json["fields"]) == {"email", "is_active"}
    assert api.patch("/api/v1/hosts/99999", {"name": "x"}).status_code == 404


def test_hosts_list_is_paged(api, make_host):
    for n in range(5):
        make_host(name=f"Host {n}")
    first = api.get("/api/v1/hosts?limit=2").json
    assert [h["name"] for h in first["hosts"]] == ["Host 0", "Host 1"]
    second = api.get(f"/api/v1/hosts?limit=2&after={first['next']}").json
    assert [h["name"] for h in second["hosts"]] == ["Host 2", "Host 3"]
    assert [h["name"] for h in api.get("/api/v1/hosts?limit=2&offset=4").json["hosts"]] == ["Host 4"]
    assert api.get("/api/v1/hosts?after=nonsense").status_code == 422


def test_a_calendar_made_without_hosts_gets_the_first_admins_host(api, admin):
    response = api.post("/api/v1/calendars", {"name": "Intro"})
    mine = db.session.scalar(select(Host.id).where(Host.user_id == admin.id))
    assert response.status_code == 201
    assert response.json["assignment"] == "single" and response.json["host_ids"] == [mine]


def test_a_calendar_without_any_admin_has_no_host(api):
    response = api.post("/api/v1/calendars", {"name": "Intro"})
    assert response.json["host_ids"] == [] and response.json["assignment"] == "single"


def test_calendar_host_ids_and_assignment_on_create_and_update(api, make_host):
    sam, kim = make_host(name="Sam"), make_host(name="Kim")
    response = api.post(
        "/api/v1/calendars", {"name": "Team", "host_ids": [kim.id, sam.id], "assignment": "round_robin"}
    )
    assert response.status_code == 201
    calendar = response.json
    assert calendar["host_ids"] == [kim.id, sam.id] and calendar["assignment"] == "round_robin"
    response = api.patch(f"/api/v1/calendars/{calendar['id']}", {"assignment": "collective"})
    assert response.status_code == 200
    assert response.json["host_ids"] == [kim.id, sam.id] and response.json["assignment"] == "collective"
    assert response.json["name"] == "Team" and response.json["availability"] == calendar["availability"]
    response = api.patch(f"/api/v1/calendars/{calendar['id']}", {"assignment": "single"})
    assert response.status_code == 422
    assert response.json["fields"]["host_ids"] == "A single-host calendar needs exactly one host."
    response = api.patch(f"/api/v1/calendars/{calendar['id']}", {"assignment": "single", "host_ids": [sam.id]})
    assert response.json["host_ids"] == [sam.id]
    assert api.get(f"/api/v1/calendars/{calendar['id']}").json == response.json


def test_calendar_hosts_are_checked(api, make_host):
    sam = make_host(name="Sam")
    cases = [
        ({"host_ids": "1"}, "host_ids"),
        ({"host_ids": [0]}, "host_ids"),
        ({"host_ids": [True]}, "host_ids"),
        ({"host_ids": [sam.id, sam.id], "assignment": "collective"}, "host_ids"),
        ({"host_ids": [99999]}, "host_ids"),
        ({"host_ids": [], "assignment": "round_robin"}, "host_ids"),
        ({"assignment": "everyone"}, "assignment"),
        ({"assignment": 3}, "assignment"),
    ]
    for extra, field in cases:
        response = api.post("/api/v1/calendars", {"name": "Team", **extra})
        assert response.status_code == 422, extra
        assert field in response.json["fields"], extra
    assert db.session.scalar(select(Calendar.id)) is None


def test_patch_keeps_cleared_settings_and_date_overrides(api, make_calendar):
    calendar = make_calendar(name="Loose", window_days=None, slot_interval=15)
    from datetime import date

    from webapp.calendars.models import DateOverride

    db.session.add(DateOverride(calendar_id=calendar.id, day=date(2030, 1, 1)))
    db.session.commit()
    response = api.patch(f"/api/v1/calendars/{calendar.id}", {"duration_minutes": 45})
    assert response.status_code == 200
    assert response.json["booking_window_days"] is None and response.json["slot_interval_minutes"] == 15
    db.session.refresh(calendar)
    assert calendar.duration == 45 and len(calendar.overrides) == 1
    response = api.patch(f"/api/v1/calendars/{calendar.id}", {"duration_minutes": 2})
    assert response.status_code == 422 and "duration_minutes" in response.json["fields"]
    assert api.patch("/api/v1/calendars/99999", {}).status_code == 404
