"""CalDAV accounts against a real Radicale server: the account's calendars found, busy time read from all
(or the chosen ones), the first calendar marked for bookings, the password sealed and never shown or
logged, a failing server leaving the previous blocks, and the stale policies."""

import base64
import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from tests.calendar_files import NOW, event
from tests.radicale import radicale_server
from webapp.extensions import db
from webapp.hosts import busy, connections, sync
from webapp.hosts.models import STALE_IGNORE, BusyBlock, Connection, Host


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def account(radicale):
    """Two new calendars in Radicale, each with one event: (work URL, home URL)."""
    work = radicale.make_calendar("Work")
    home = radicale.make_calendar("Home")
    radicale.put_event(work, event(f"w-{work[-13:-1]}", "20261005T150000Z", "20261005T160000Z", "Client call"))
    radicale.put_event(
        home,
        event(
            f"h-{home[-13:-1]}", "20261006T090000Z", "20261006T100000Z", "School run", "RRULE:FREQ=DAILY;COUNT=3\r\n"
        ),
    )
    return work, home


WORK_BUSY = [(utc(2026, 10, 5, 15), utc(2026, 10, 5, 16))]
HOME_BUSY = [(utc(2026, 10, d, 9), utc(2026, 10, d, 10)) for d in (6, 7, 8)]


def host_blocks(host_id):
    return [
        (b.start_at, b.end_at)
        for b in db.session.scalars(select(BusyBlock).where(BusyBlock.host_id == host_id).order_by(BusyBlock.start_at))
    ]


def add(host, radicale, **options):
    return connections.add_caldav(host, url=radicale.url, username=radicale.user, password=radicale.password, **options)


def test_a_new_account_reads_every_calendar_and_writes_into_the_first(app, host, radicale, account):
    work, home = account
    connection = add(host, radicale)

    result = sync.sync_one(connection.id)

    assert result.status == "ok", result.error
    db.session.expire_all()
    connection = db.session.get(Connection, connection.id)
    found = {c["url"]: c["name"] for c in connection.found_calendars}
    assert found[work] == "Work" and found[home] == "Home"
    assert connection.read_urls == []  # all of them, calendars added later included
    assert connection.write_url == connection.found_calendars[0]["url"]
    # The module's other tests add events to other calendars of the same account: look at this host's two.
    mine = [b for b in host_blocks(host.id) if b in WORK_BUSY + HOME_BUSY]
    assert mine == WORK_BUSY + HOME_BUSY
    assert set(WORK_BUSY + HOME_BUSY) <= set(busy.external([host.id], NOW, NOW + timedelta(days=30))[host.id])


def test_only_the_chosen_calendars_are_read(app, host, radicale, account):
    work, home = account
    connection = add(host, radicale, calendar_urls=[home], write_calendar_url=home)

    assert sync.sync_one(connection.id).status == "ok"

    assert host_blocks(host.id) == HOME_BUSY
    db.session.expire_all()
    assert db.session.get(Connection, connection.id).write_url == home


def test_choosing_calendars_on_the_page(app, login, host, radicale, account):
    work, home = account
    response = login.post(
        f"/hosts/{host.id}/connections/caldav",
        data={"url": radicale.url, "username": radicale.user, "password": radicale.password, "stale_policy": "busy"},
    )
    assert response.status_code == 303
    connection = db.session.scalars(select(Connection)).one()
    page = login.get(f"/hosts/{host.id}/connections/").text
    assert "Work" in page and "Home" in page and "Check for conflicts" in page

    response = login.post(
        f"/hosts/{host.id}/connections/{connection.id}/calendars", data={"read": [work], "write": work}
    )

    assert response.status_code == 303
    db.session.expire_all()
    connection = db.session.get(Connection, connection.id)
    assert connection.read_urls == [work] and connection.write_url == work
    assert host_blocks(host.id) == WORK_BUSY


def test_the_password_is_sealed_never_shown_never_logged(app, login, api, host, radicale, account, caplog):
    caplog.set_level(logging.DEBUG)
    response = login.post(
        f"/hosts/{host.id}/connections/caldav",
        data={"url": radicale.url, "username": radicale.user, "password": radicale.password},
    )
    assert response.status_code == 303
    connection = db.session.scalars(select(Connection)).one()
    basic = base64.b64encode(f"{radicale.user}:{radicale.password}".encode()).decode()

    row = db.session.execute(text("SELECT * FROM host_connections")).mappings().one()
    assert all(radicale.password not in str(value) for value in row.values())
    assert connections.account(connection).password == radicale.password
    shown = [
        login.get(f"/hosts/{host.id}/connections/").text,
        login.get(f"/hosts/{host.id}/connections/{connection.id}/edit").text,
        api.get(f"/api/v1/hosts/{host.id}/connections").text,
        api.post(f"/api/v1/hosts/{host.id}/connections/{connection.id}/sync").text,
    ]
    for text_shown in [*shown, caplog.text]:
        assert radicale.password not in text_shown and basic not in text_shown


def test_an_empty_password_on_edit_keeps_the_saved_one(app, login, host, radicale, account):
    connection = add(host, radicale)
    sealed = connection.secret

    response = login.post(
        f"/hosts/{host.id}/connections/{connection.id}/edit",
        data={
            "url": radicale.url,
            "username": radicale.user,
            "password": "",
            "label": "Mine",
            "stale_policy": "ignore",
        },
    )

    assert response.status_code == 303
    db.session.expire_all()
    connection = db.session.get(Connection, connection.id)
    assert connection.secret == sealed and connection.label == "Mine" and connection.stale_policy == STALE_IGNORE
    assert sync.sync_one(connection.id).status == "ok"


def test_a_wrong_password_is_an_error_in_words(app, login, host, radicale, account):
    connection = connections.add_caldav(host, url=radicale.url, username=radicale.user, password="wrong")

    result = sync.sync_one(connection.id)

    assert result.status == "error" and result.error == "the server refused the username or password"
    page = login.get(f"/hosts/{host.id}/connections/").text
    assert "the server refused the username or password" in page

    # The right password, saved on the edit page: read at once, the error gone.
    response = login.post(
        f"/hosts/{host.id}/connections/{connection.id}/edit",
        data={
            "label": connection.label,
            "stale_policy": connection.stale_policy,
            "url": radicale.url,
            "username": radicale.user,
            "password": radicale.password,
        },
    )
    assert response.status_code == 303
    page = login.get(response.location).text
    assert "was read:" in page and "the server refused the username or password" not in page
    assert db.session.get(Connection, connection.id).status == "ok"


def test_a_stopped_server_keeps_the_previous_blocks_then_the_stale_policy_decides(
    app, login, host, tmp_path, pinned_clock
):
    with radicale_server(tmp_path / "radicale") as server:
        calendar = server.make_calendar("Work")
        server.put_event(calendar, event("once", "20261005T150000Z", "20261005T160000Z"))
        connection = add(host, server)
        assert sync.sync_one(connection.id).status == "ok"
    # The server is gone.
    result = sync.sync_one(connection.id)

    assert result.status == "error" and result.error == "could not connect to the server"
    assert host_blocks(host.id) == WORK_BUSY
    page = login.get(f"/hosts/{host.id}/connections/").text
    assert "could not connect to the server" in page and "The last busy time read is kept" not in page
    span = (NOW + timedelta(days=1), NOW + timedelta(days=10))
    assert busy.external([host.id], *span)[host.id] == WORK_BUSY  # not stale yet

    pinned_clock.shift(timedelta(hours=7))  # past CALENDAR_STALE_AFTER_MINUTES (6 h)
    assert busy.external([host.id], *span)[host.id] == [span]  # "treat as busy": the whole span
    db.session.get(Connection, connection.id).stale_policy = STALE_IGNORE
    db.session.commit()
    assert busy.external([host.id], *span)[host.id] == []  # "ignore"


def test_removing_a_connection_deletes_its_busy_time_and_bumps_busy_seq(app, login, host, radicale, account):
    connection = add(host, radicale)
    sync.sync_one(connection.id)
    seq = db.session.get(Host, host.id).busy_seq
    assert "Remove “" in login.get(f"/hosts/{host.id}/connections/{connection.id}/remove").text

    response = login.post(f"/hosts/{host.id}/connections/{connection.id}/remove")

    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.scalars(select(Connection)).all() == []
    assert host_blocks(host.id) == []
    assert db.session.get(Host, host.id).busy_seq == seq + 1
