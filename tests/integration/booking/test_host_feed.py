"""A host's bookings feed: the admin's section (create, shown once, replace, turn off) and the public
/feeds/hosts/<token>.ics (content parsed with icalendar, cancelled bookings, other hosts' bookings left
out, 404 once replaced or off, ETag)."""

from datetime import timedelta

import time_machine
from icalendar import Calendar as ICalendar
from sqlalchemy import select

from tests.conftest import tomorrow_at
from webapp.booking import services
from webapp.booking.models import Booking
from webapp.booking.services import Invitee
from webapp.extensions import db
from webapp.logredact import redact


def made_booking(link, start, name, *hosts):
    booking = services.book(link, start, Invitee(name, "", "UTC", "", "en"))
    assert sorted(row.host_id for row in booking.host_rows) == sorted(host.id for host in hosts)
    db.session.commit()
    return booking


def feed_url(login, host) -> str:
    html = login.post(f"/hosts/{host.id}/feed").text
    marker = 'id="feed-url" type="text" readonly value="'
    assert marker in html
    return html.split(marker, 1)[1].split('"', 1)[0]


def path(url: str) -> str:
    return "/feeds/" + url.split("/feeds/", 1)[1]


def test_feed_lists_the_hosts_bookings(app, login, make_link, make_calendar, make_host):
    calendar = make_calendar(name="Intro call", location="Room 4")
    sam = make_host(name="Sam Rivera", calendars=[calendar])
    ada = make_host(name="Ada Lovelace", calendars=[other := make_calendar(name="Other call")])
    kept = made_booking(make_link(calendar=calendar)[0], tomorrow_at(10), "Grace Hopper", sam)
    cancelled = made_booking(make_link(calendar=calendar)[0], tomorrow_at(11), "Alan Turing", sam)
    services.cancel(cancelled, by="admin")
    made_booking(make_link(calendar=other)[0], tomorrow_at(12), "Not Sam's", ada)
    with time_machine.travel(tomorrow_at(0) - timedelta(days=40), tick=False):
        old = made_booking(make_link(calendar=calendar)[0], tomorrow_at(9) - timedelta(days=35), "Long Ago", sam)
    assert old.id

    url = feed_url(login, sam)
    assert url.startswith(app.config["BASE_URL"] + "/feeds/hosts/") and url.endswith(".ics")
    login.get("/logout")
    response = app.test_client().get(path(url))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    feed = ICalendar.from_ical(response.data)
    events = {str(e["SUMMARY"]): e for e in feed.walk("VEVENT")}
    assert set(events) == {"Intro call: Grace Hopper", "Intro call: Alan Turing"}
    event = events["Intro call: Grace Hopper"]
    db.session.refresh(kept)
    assert str(event["UID"]) == kept.uid and int(event["SEQUENCE"]) == kept.sequence
    assert event.decoded("DTSTART") == kept.start_at and event["DTSTART"].to_ical().endswith(b"Z")
    assert str(event["STATUS"]) == "CONFIRMED" and str(event["LOCATION"]) == "Room 4"
    gone = events["Intro call: Alan Turing"]
    assert str(gone["STATUS"]) == "CANCELLED" and int(gone["SEQUENCE"]) == 1
    assert b"/booking/" not in response.data and b"/book/" not in response.data
    assert b"@example.com" not in response.data  # no invitee addresses

    etag = response.headers["ETag"]
    again = app.test_client().get(path(url), headers={"If-None-Match": etag})
    assert again.status_code == 304


def test_replace_and_turn_off(app, login, make_host):
    sam = make_host(name="Sam Rivera")
    first = feed_url(login, sam)
    assert app.test_client().get(path(first)).status_code == 200
    page = login.get(f"/hosts/{sam.id}/feed").text
    assert "Replace link" in page and "Turn off" in page and first not in page  # shown once

    second = feed_url(login, sam)
    assert second != first
    assert app.test_client().get(path(first)).status_code == 404
    assert app.test_client().get(path(second)).status_code == 200

    response = login.post(f"/hosts/{sam.id}/feed/off")
    assert response.status_code == 303
    assert app.test_client().get(path(second)).status_code == 404
    assert "Create feed link" in login.get(f"/hosts/{sam.id}/feed").text
    db.session.expire_all()
    assert sam.feed_digest is None and sam.feed_salt is None


def test_unknown_tokens_and_the_admin_page_are_guarded(app, client, make_host):
    sam = make_host()
    assert client.get("/feeds/hosts/nope.ics").status_code == 404
    assert client.get("/feeds/hosts/" + "A" * 44 + ".ics").status_code == 404
    page = client.get(f"/hosts/{sam.id}/feed")
    assert page.status_code in (302, 303) and "/login" in page.headers["Location"]
    assert client.post(f"/hosts/{sam.id}/feed").status_code in (302, 303, 400)
    db.session.expire_all()
    assert db.session.get(type(sam), sam.id).feed_digest is None


def test_htmx_section_and_logs(login, hx, make_host):
    sam = make_host(name="Sam Rivera")
    html = login.post(f"/hosts/{sam.id}/feed", headers=hx).text
    assert html.lstrip().startswith('<section id="host-feed"') and "Copy address" in html
    token_path = "/feeds/" + html.split("/feeds/", 1)[1].split('"', 1)[0]
    assert redact(f"GET {token_path} 200") == "GET /feeds/hosts/[redacted] 200"
    assert db.session.scalar(select(Booking).limit(1)) is None
