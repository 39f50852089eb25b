"""API v1 for hosts' connected calendars: add (CalDAV or ICS), list, sync now, remove; never the password
or the feed's address in an answer; 404 for an unknown host or connection; 422 for bad input."""

import pytest
from sqlalchemy import func, select

from tests.calendar_files import FEED, FEED_BUSY, event
from webapp.extensions import db
from webapp.hosts.models import BusyBlock, Connection, Host


def test_caldav_is_added_read_and_listed(app, api, host, radicale):
    calendar = radicale.make_calendar("Work")
    radicale.put_event(calendar, event("api-1", "20261005T150000Z", "20261005T160000Z"))

    response = api.post(
        f"/api/v1/hosts/{host.id}/connections",
        json={
            "kind": "caldav",
            "url": radicale.url,
            "username": radicale.user,
            "password": radicale.password,
            "calendar_urls": [calendar],
            "label": "Work",
            "stale_policy": "ignore",
        },
    )

    assert response.status_code == 201, response.text
    assert response.json["status"] == "pending" and response.json["kind"] == "caldav"
    body = api.post(f"/api/v1/hosts/{host.id}/connections/{response.json['id']}/sync").json
    assert body["status"] == "ok" and body["blocks"] == 1
    assert body["calendar_urls"] == [calendar] and body["write_calendar_url"] == body["calendars"][0]["url"]
    assert body["stale_policy"] == "ignore" and body["label"] == "Work" and body["error"] is None
    assert radicale.password not in response.text and "password" not in body
    listed = api.get(f"/api/v1/hosts/{host.id}/connections").json["connections"]
    assert [c["id"] for c in listed] == [body["id"]]


def test_ics_is_added_without_showing_its_address(app, api, host, feed_server):
    feed_server.files["/private-abcdef123456/basic.ics"] = FEED.encode()
    url = feed_server.url("/private-abcdef123456/basic.ics")

    response = api.post(f"/api/v1/hosts/{host.id}/connections", json={"kind": "ics", "url": url})

    assert response.status_code == 201 and response.json["status"] == "pending"
    synced = api.post(f"/api/v1/hosts/{host.id}/connections/{response.json['id']}/sync")
    assert synced.json["status"] == "ok" and synced.json["blocks"] == len(FEED_BUSY)
    assert response.json["server"] == synced.json["server"] == "127.0.0.1"
    assert "private-abcdef123456" not in response.text + synced.text
    assert "private-abcdef123456" not in api.get(f"/api/v1/hosts/{host.id}/connections").text


def test_sync_now_reports_an_error_and_the_blocks_kept(app, api, host, feed_server):
    feed_server.files["/f.ics"] = FEED.encode()
    created = api.post(f"/api/v1/hosts/{host.id}/connections", json={"kind": "ics", "url": feed_server.url("/f.ics")})
    api.post(f"/api/v1/hosts/{host.id}/connections/{created.json['id']}/sync")
    del feed_server.files["/f.ics"]

    response = api.post(f"/api/v1/hosts/{host.id}/connections/{created.json['id']}/sync")

    assert response.status_code == 200
    assert response.json["status"] == "error" and "HTTP 404" in response.json["error"]
    assert response.json["blocks"] == len(FEED_BUSY)


def test_delete_removes_the_busy_time(app, api, host, feed_server):
    feed_server.files["/f.ics"] = FEED.encode()
    created = api.post(f"/api/v1/hosts/{host.id}/connections", json={"kind": "ics", "url": feed_server.url("/f.ics")})
    api.post(f"/api/v1/hosts/{host.id}/connections/{created.json['id']}/sync")
    seq = db.session.get(Host, host.id).busy_seq

    response = api.client.delete(f"/api/v1/hosts/{host.id}/connections/{created.json['id']}", headers=api.headers)

    assert response.status_code == 200 and response.json["id"] == created.json["id"]
    assert db.session.scalar(select(func.count()).select_from(BusyBlock)) == 0
    db.session.expire_all()
    assert db.session.get(Host, host.id).busy_seq == seq + 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"kind": "exchange", "url": "https://example.com/"}, "kind"),
        ({"kind": "ics", "url": "http://10.0.0.1/x.ics"}, "url"),
        ({"kind": "ics", "url": "https://example.com/x.ics", "password": "x"}, "password"),
        ({"kind": "caldav", "url": "https://example.com/", "username": "a", "password": 5}, "password"),
        (
            {"kind": "caldav", "url": "https://example.com/", "username": "a", "password": "b", "calendar_urls": "x"},
            "calendar_urls",
        ),
        ({"kind": "caldav", "url": "https://169.254.169.254/", "username": "a", "password": "b"}, "url"),
    ],
)
def test_bad_input_is_a_422_and_saves_nothing(app, api, host, payload, field):
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()
    response = api.post(f"/api/v1/hosts/{host.id}/connections", json=payload)
    assert response.status_code == 422
    assert field in response.json["fields"]
    assert db.session.scalar(select(func.count()).select_from(Connection)) == 0


def test_unknown_hosts_and_connections_are_404(app, api, host, make_host):
    other = make_host()
    assert api.get("/api/v1/hosts/999/connections").status_code == 404
    assert (
        api.post("/api/v1/hosts/999/connections", json={"kind": "ics", "url": "https://x.example/"}).status_code == 404
    )
    assert api.post(f"/api/v1/hosts/{host.id}/connections/5/sync").status_code == 404
    created = api.post(f"/api/v1/hosts/{host.id}/connections", json={"kind": "ics", "url": "https://x.example/x.ics"})
    # Another host's connection is not found under this host.
    assert api.post(f"/api/v1/hosts/{other.id}/connections/{created.json['id']}/sync").status_code == 404
    assert (
        api.client.delete(f"/api/v1/hosts/{other.id}/connections/{created.json['id']}", headers=api.headers).status_code
        == 404
    )
