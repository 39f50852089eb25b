"""ICS feed subscriptions against a real HTTP server on loopback: the busy time read, the feed's secret
address kept sealed, size and error handling, the previous blocks kept when a read fails."""

import logging
from datetime import timedelta

from sqlalchemy import select, text

from tests.calendar_files import FEED, FEED_BUSY, NOW
from webapp.extensions import db
from webapp.hosts import busy, connections, ics_feed, sync
from webapp.hosts.models import BusyBlock, Connection, Host

SECRET_PATH = "/calendar/ical/sam%40example.com/private-9f8e7d6c5b4a39281706/basic.ics"


def blocks_of(connection_id):
    return [
        (b.start_at, b.end_at)
        for b in db.session.scalars(
            select(BusyBlock).where(BusyBlock.connection_id == connection_id).order_by(BusyBlock.start_at)
        )
    ]


def test_a_feed_is_read_into_busy_blocks_and_the_hosts_busy_time(app, host, feed_server):
    feed_server.files[SECRET_PATH] = FEED.encode()
    connection = connections.add_ics(host, url=feed_server.url(SECRET_PATH))
    seq = host.busy_seq

    result = sync.sync_one(connection.id)

    assert result == sync.Result("ok", "", len(FEED_BUSY))
    assert blocks_of(connection.id) == FEED_BUSY
    db.session.expire_all()
    connection = db.session.get(Connection, connection.id)
    assert connection.status == "ok" and connection.error == "" and connection.last_success_at is not None
    assert connection.next_sync_at > NOW + timedelta(minutes=4)
    assert db.session.get(Host, host.id).busy_seq == seq + 1
    window = busy.external([host.id], NOW, NOW + timedelta(days=60))
    assert window[host.id] == FEED_BUSY


def test_reading_the_same_busy_time_again_leaves_busy_seq_alone(app, host, feed_server):
    feed_server.files["/f.ics"] = FEED.encode()
    connection = connections.add_ics(host, url=feed_server.url("/f.ics"))
    sync.sync_one(connection.id)
    seq = db.session.get(Host, host.id).busy_seq
    ids = {b.id for b in db.session.scalars(select(BusyBlock))}

    assert sync.sync_one(connection.id).status == "ok"

    db.session.expire_all()
    assert db.session.get(Host, host.id).busy_seq == seq
    assert {b.id for b in db.session.scalars(select(BusyBlock))} == ids  # not rewritten


def test_the_feed_address_is_sealed_and_never_shown(app, login, host, feed_server, caplog):
    caplog.set_level(logging.DEBUG)
    feed_server.files[SECRET_PATH] = FEED.encode()
    url = feed_server.url(SECRET_PATH)
    response = login.post(f"/hosts/{host.id}/connections/ics", data={"url": url, "label": ""})
    assert response.status_code == 303
    page = login.get(f"/hosts/{host.id}/connections/").text

    secret = "private-9f8e7d6c5b4a39281706"
    assert "8 busy time blocks" in page
    assert secret not in page
    row = db.session.execute(text("SELECT * FROM host_connections")).mappings().one()
    assert all(secret not in str(value) for value in row.values())
    assert row["url"] == "127.0.0.1"
    assert connections.feed_address(db.session.get(Connection, row["id"])) == url
    assert secret not in caplog.text
    assert feed_server.requests == [SECRET_PATH]
    edit = login.get(f"/hosts/{host.id}/connections/{row['id']}/edit").text
    assert secret not in edit


def test_webcal_addresses_are_fetched_over_https(app, host):
    connection = connections.add_ics(host, url="webcal://127.0.0.1:9/x.ics")
    assert connections.feed_address(connection) == "https://127.0.0.1:9/x.ics"


def test_a_failed_read_keeps_the_previous_blocks_and_says_why(app, host, feed_server):
    feed_server.files["/f.ics"] = FEED.encode()
    connection = connections.add_ics(host, url=feed_server.url("/f.ics"))
    sync.sync_one(connection.id)
    del feed_server.files["/f.ics"]

    result = sync.sync_one(connection.id)

    assert result.status == "error" and "no such feed (HTTP 404)" in result.error
    assert result.blocks == len(FEED_BUSY)
    assert blocks_of(connection.id) == FEED_BUSY
    db.session.expire_all()
    connection = db.session.get(Connection, connection.id)
    assert connection.status == "error" and connection.failures == 1
    assert connection.last_success_at is not None


def test_failures_back_off_up_to_an_hour(app, host, feed_server, pinned_clock):
    connection = connections.add_ics(host, url=feed_server.url("/missing.ics"))
    waits = []
    for _ in range(6):
        sync.sync_one(connection.id)
        db.session.expire_all()
        row = db.session.get(Connection, connection.id)
        waits.append(round((row.next_sync_at - row.last_attempt_at).total_seconds() / 60))
    assert waits == [10, 20, 40, 60, 60, 60]


def test_a_feed_over_the_size_limit_is_refused_in_words(app, host, feed_server, monkeypatch):
    monkeypatch.setattr(ics_feed, "MAX_FEED_BYTES", 1024 * 1024)
    feed_server.files["/big.ics"] = b"X" * (1024 * 1024 + 1)
    connection = connections.add_ics(host, url=feed_server.url("/big.ics"))

    result = sync.sync_one(connection.id)

    assert result.status == "error" and result.error == "the feed is larger than 1 MB"


def test_text_that_is_not_a_calendar_is_an_error(app, host, feed_server):
    feed_server.files["/page.ics"] = b"<html>Sign in</html>"
    connection = connections.add_ics(host, url=feed_server.url("/page.ics"))
    assert "not valid iCalendar" in sync.sync_one(connection.id).error


def test_the_address_is_checked_again_at_every_read(app, host, feed_server):
    connection = connections.add_ics(host, url=f"http://127.0.0.1:{feed_server.port}/f.ics")
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()  # saved while loopback was allowed, read after it is not

    result = sync.sync_one(connection.id)

    assert result.status == "error" and "127.0.0.1 is a loopback address" in result.error
    assert feed_server.requests == []


def test_sync_now_and_a_new_feed_address_on_the_pages(app, login, host, feed_server):
    feed_server.files["/old.ics"] = FEED.encode()
    feed_server.files["/new.ics"] = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nEND:VCALENDAR\r\n"
    connection = connections.add_ics(host, url=feed_server.url("/old.ics"))

    response = login.post(f"/hosts/{host.id}/connections/{connection.id}/sync")
    assert response.status_code == 303
    assert f"{len(FEED_BUSY)} busy time blocks" in login.get(response.location).text

    kept = login.post(
        f"/hosts/{host.id}/connections/{connection.id}/edit",
        data={"url": "", "label": "Google", "stale_policy": "busy"},
    )
    assert kept.status_code == 303
    assert connections.feed_address(db.session.get(Connection, connection.id)) == feed_server.url("/old.ics")

    refused = login.post(
        f"/hosts/{host.id}/connections/{connection.id}/edit",
        data={"url": "http://169.254.169.254/x.ics", "label": "Google", "stale_policy": "busy"},
    )
    assert refused.status_code == 422 and "link-local" in refused.text
    login.post(
        f"/hosts/{host.id}/connections/{connection.id}/edit",
        data={"url": feed_server.url("/new.ics"), "label": "Google", "stale_policy": "busy"},
    )
    login.post(f"/hosts/{host.id}/connections/{connection.id}/sync")
    assert blocks_of(connection.id) == []
    assert feed_server.requests[-1] == "/new.ics"


def test_pages_of_unknown_hosts_and_connections_are_404(app, login, host, make_host, feed_server):
    other = make_host()
    connection = connections.add_ics(host, url=feed_server.url("/f.ics"))
    assert login.get("/hosts/999/connections/").status_code == 404
    assert login.get(f"/hosts/{other.id}/connections/{connection.id}/edit").status_code == 404
    assert login.post(f"/hosts/{other.id}/connections/{connection.id}/remove").status_code == 404
    assert db.session.get(Connection, connection.id) is not None
