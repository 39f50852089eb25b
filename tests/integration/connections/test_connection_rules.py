"""Saving a connection: addresses refused by the outbound policy without any network traffic, bad input
answered with a clear message and nothing saved, what was typed kept (but never the password); and a
CalDAV read connecting only to the address it checked."""

import socket

import pytest
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.hosts import connections, sync
from webapp.hosts.models import Connection

REFUSED = [
    ("http://10.0.0.1/dav/", "10.0.0.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("https://calendar.localhost/dav/", "127.0.0.1 is a loopback address"),
    ("http://localhost:5232/", "127.0.0.1 is a loopback address"),
    ("http://[::1]:5232/", "::1 is a loopback address"),
]


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to connect or resolve a name fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network traffic at save time: {args!r}")

    real = socket.getaddrinfo

    def numeric_only(host, *args, **kwargs):
        if kwargs.get("flags", 0) & socket.AI_NUMERICHOST or (len(args) > 3 and args[3] & socket.AI_NUMERICHOST):
            return real(host, *args, **kwargs)
        refuse(host)

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)


def count():
    return db.session.scalar(select(func.count()).select_from(Connection))


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_internal_addresses_are_refused_when_saved_without_connecting(app, login, host, url, why, no_network):
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()
    caldav = login.post(
        f"/hosts/{host.id}/connections/caldav",
        data={"url": url, "username": "sam", "password": "pw-typed-secret", "label": "Work"},
    )
    feed = login.post(f"/hosts/{host.id}/connections/ics", data={"url": url})

    for response in (caldav, feed):
        assert response.status_code == 422
        assert why in response.text and "OUTBOUND_ALLOWED_NETWORKS" in response.text
    assert f'value="{url}"' in caldav.text.replace("&amp;", "&") and 'value="Work"' in caldav.text
    assert "pw-typed-secret" not in caldav.text
    assert count() == 0


def test_a_private_host_name_is_judged_when_read_not_saved(app, host, monkeypatch):
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()
    connection = connections.add_ics(host, url="https://calendar.corp.example/feed.ics")  # a name: not judged yet
    real = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda name, *a, **k: (
            real("10.1.2.3", *a, **k)
            if name == "calendar.corp.example" and not k.get("flags", 0) & socket.AI_NUMERICHOST
            else real(name, *a, **k)
        ),
    )

    result = sync.sync_one(connection.id)

    assert result.status == "error"
    assert "10.1.2.3 is a private address (the address of calendar.corp.example)" in result.error


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"url": "ftp://example.com/"}, "url", "starting with https:// or http://"),
        ({"url": ""}, "url", "Enter the address."),
        ({"url": "https://sam:pw@example.com/"}, "url", "Leave the username and password out"),
        ({"url": "https://example.com/", "username": ""}, "username", "Enter the username"),
        ({"url": "https://example.com/", "password": ""}, "password", "Enter the password"),
        ({"url": "https://example.com/", "stale_policy": "maybe"}, "stale_policy", "Choose"),
        ({"url": "https://example.com/", "label": "x" * 201}, "label", "under 200 characters"),
    ],
)
def test_bad_input_says_what_to_fix_and_saves_nothing(app, host, data, field, message):
    values = {"url": "", "username": "sam", "password": "pw", **data}
    with pytest.raises(connections.Invalid) as caught:
        connections.add_caldav(host, **values)
    assert message in caught.value.fields[field]
    assert count() == 0


def test_chosen_calendars_must_be_on_the_accounts_server(app, host):
    with pytest.raises(connections.Invalid) as caught:
        connections.add_caldav(
            host,
            url="https://dav.example.com/",
            username="sam",
            password="pw",
            calendar_urls=["https://elsewhere.example.com/cal/"],
            write_calendar_url="http://dav.example.com/cal/",
        )
    assert set(caught.value.fields) == {"calendar_urls", "write_calendar_url"}


def test_caldav_connects_only_to_the_address_it_checked(app, host, radicale, monkeypatch):
    # A rebinding DNS server: the first answer passes the check, any later one points elsewhere.
    port = int(radicale.url.rsplit(":", 1)[1].strip("/"))
    radicale.make_calendar("Work")
    real = socket.getaddrinfo
    asked = []

    def rebinding(name, *args, **kwargs):
        if kwargs.get("flags", 0) & socket.AI_NUMERICHOST:
            return real(name, *args, **kwargs)  # "is it a literal address?": no lookup
        if name == "dav.rebind.test":
            asked.append(name)
            return real("127.0.0.1" if len(asked) == 1 else "127.0.0.2", *args, **kwargs)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = connections.outbound.parse_networks("127.0.0.1/32")
    connection = connections.add_caldav(
        host, url=f"http://dav.rebind.test:{port}/", username=radicale.user, password=radicale.password
    )

    result = sync.sync_one(connection.id)

    assert result.status == "ok", result.error
    assert asked == ["dav.rebind.test"]  # resolved once, by the policy
