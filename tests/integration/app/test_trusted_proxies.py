"""TRUSTED_PROXIES decides what the app believes of X-Forwarded-*: with 0 (the default) nothing, so a
client cannot pick the address the rate limiter counts; with N, the last N hops' values."""

import pytest
from flask import request

from tests.conftest import make_app

SPOOFED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example.test",
}


def seen_by(app, headers: dict, remote_addr: str = "127.0.0.9") -> dict:
    """What the app saw of one request to /healthz: address, scheme, host, and the response's headers."""
    seen = {}

    @app.after_request
    def record(response):
        seen.update(addr=request.remote_addr, scheme=request.scheme, host=request.host, secure=request.is_secure)
        return response

    response = app.test_client().get(
        "/healthz", headers=headers, environ_base={"REMOTE_ADDR": remote_addr}, base_url="http://book.local"
    )
    seen["hsts"] = response.headers.get("Strict-Transport-Security")
    return seen


def test_forwarded_headers_are_ignored_by_default(tmp_path):
    app = make_app(tmp_path)
    assert app.config["TRUSTED_PROXIES"] == 0
    seen = seen_by(app, SPOOFED)
    assert seen == {"addr": "127.0.0.9", "scheme": "http", "host": "book.local", "secure": False, "hsts": None}


def test_one_trusted_proxy_gives_the_clients_address_scheme_and_host(tmp_path):
    app = make_app(tmp_path, ENV_VARS={"TRUSTED_PROXIES": "1"})
    # What nginx sends: the client's own (forged) X-Forwarded-For, then the address nginx saw appended.
    headers = {**SPOOFED, "X-Forwarded-For": "203.0.113.7, 198.51.100.20", "X-Forwarded-Host": "book.example.test"}
    seen = seen_by(app, headers)
    assert seen["addr"] == "198.51.100.20"  # the last hop, added by the proxy: not the forged first one
    assert seen["scheme"] == "https" and seen["secure"] is True
    assert seen["host"] == "book.example.test"
    assert seen["hsts"] == "max-age=31536000"


def test_two_trusted_proxies_take_two_hops(tmp_path):
    app = make_app(tmp_path, ENV_VARS={"TRUSTED_PROXIES": "2"})
    seen = seen_by(app, {"X-Forwarded-For": "203.0.113.7, 198.51.100.20, 10.0.0.5", "X-Forwarded-Proto": "https, http"})
    assert seen["addr"] == "198.51.100.20"
    assert seen["scheme"] == "https"


@pytest.mark.parametrize(("trusted", "one_count"), [("0", True), ("1", False)])
def test_the_rate_limit_counts_the_address_the_setting_decides(tmp_path, trusted, one_count):
    """With 0, changing X-Forwarded-For on every request does not escape the limit of the one peer;
    with 1, each forwarded client has its own count."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, ENV_VARS={"TRUSTED_PROXIES": trusted})
    client = app.test_client()
    statuses = []
    for n in range(64):
        response = client.get(
            "/feeds/hosts/no-such-feed.ics",
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
            environ_base={"REMOTE_ADDR": "127.0.0.9"},
        )
        statuses.append(response.status_code)
    if one_count:  # the feed allows 60 a minute
        assert statuses[:60] == [404] * 60 and set(statuses[60:]) == {429}
    else:
        assert set(statuses) == {404}
