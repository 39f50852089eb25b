"""Start-up, configuration, health, security headers, error pages, CSRF and the access guard."""

import re

import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import make_app
from tests.helpers import ROOT
from webapp import config

# api.openapi: the API's description holds no data, so tools read it without a key.
PUBLIC = {
    "static",
    "core.healthz",
    "core.readyz",
    "metrics.metrics",  # its own bearer token (tests/integration/app/test_metrics.py)
    "auth.login",
    "api.openapi",
    "branding.logo",
    "branding.theme",
    "hosts.photo",
}


def test_healthz_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_healthz_503_when_database_unreachable(client, monkeypatch):
    from webapp.extensions import db

    def broken(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr(db.session, "execute", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_healthz_503_with_a_database_that_is_down(tmp_path):
    app = make_app(tmp_path, ENV_VARS={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_no_inline_scripts_or_handlers_in_pages(login):
    html = login.get("/calendars/new").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script> would be blocked by the CSP"
    assert not re.search(r"\son[a-z]+=", html), "inline event handlers would be blocked by the CSP"
    assert 'style="' not in html


def test_session_cookie_settings(app):
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_secure_cookies_follow_an_https_base_url(tmp_path):
    app = make_app(tmp_path, ENV_VARS={"BASE_URL": "https://book.example.com"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


def test_404_is_a_friendly_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "There is nothing at this address." in response.text
    assert "Traceback" not in response.text


def test_500_never_shows_a_traceback(own_app, admin):
    @own_app.get("/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    own_app.config["PROPAGATE_EXCEPTIONS"] = False
    client = own_app.test_client()
    client.post("/login", data={"email": admin.email, "password": "correct horse battery"})
    response = client.get("/boom-for-test")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "secret internals" not in response.text and "Traceback" not in response.text


def test_post_without_csrf_token_is_refused(tmp_path):
    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    from tests.conftest import empty_tables
    from webapp.extensions import db

    with app.app_context():
        empty_tables()
        from webapp.auth.services import create_admin

        create_admin("admin@example.com", "correct horse battery")
        client = app.test_client()
        response = client.post("/login", data={"email": "admin@example.com", "password": "correct horse battery"})
        assert response.status_code == 400
        assert "This form has expired" in response.text
        # With the token from the page, the same sign-in works.
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text)[1]
        response = client.post(
            "/login", data={"email": "admin@example.com", "password": "correct horse battery", "csrf_token": token}
        )
        assert response.status_code == 303
        # An HTMX request carries the token as a header; without it, refused.
        assert client.post("/calendars/new", data={"name": "x"}, headers={"HX-Request": "true"}).status_code == 400
        ok = client.post(
            "/calendars/new",
            data={"action": "add-mon"},
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )
        assert ok.status_code == 200
        db.session.remove()
        db.drop_all()


def _url_for_rule(rule) -> str:
    url = rule.rule
    for arg in rule.arguments:
        url = url.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "x").replace(f"<path:{arg}>", "x")
    return url


def test_every_private_endpoint_sends_anonymous_users_to_login(app, client):
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint not in PUBLIC and r.endpoint.split(".")[0] not in {"booking", "hooks", "feeds"}
    ]
    # The JSON API signs nobody in: without an API key every endpoint answers 401 in JSON.
    api = [r for r in rules if r.endpoint.startswith("api.")]
    private = [r for r in rules if not r.endpoint.startswith("api.")]
    assert len(private) > 10 and len(api) >= 8
    assert client.get("/api/v1/openapi.json").status_code == 200
    for rule in api:
        url = _url_for_rule(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method)
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.is_json and response.json["error"], (method, url)
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), (method, url)
    for rule in private:
        url = _url_for_rule(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(url, method=method)
            assert response.status_code == 302, (method, url, response.status_code)
            assert response.location.startswith("/login?next="), (method, url)
            json_response = client.open(url, method=method, headers={"Accept": "application/json"})
            assert json_response.status_code == 401, (method, url)
            assert json_response.json == {"error": "authentication required"}


def test_htmx_request_of_an_expired_session_redirects_the_page(client, hx):
    response = client.get("/calendars/", headers=hx)
    assert response.headers["HX-Redirect"].startswith("/login")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DATABASE_URL": "mysql://x@y/z"}, "mysql is not supported"),
        ({"DATABASE_URL": "not a url"}, "is not a database URL"),
        ({"BASE_URL": "example.com"}, "must be an absolute http(s) URL"),
        ({"MAIL_PORT": "smtp"}, "MAIL_PORT='smtp' is not a whole number"),
        ({"MAIL_USE_TLS": "maybe"}, "is not a yes/no value"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too short"),
        ({"SECRET_KEY": "change-me-to-64-random-hex-characters"}, "SECRET_KEY is still the example's placeholder"),
        ({"METRICS_TOKEN": "CHANGEME-0123456789abcdef"}, "METRICS_TOKEN is still the example's placeholder"),
        ({"ENCRYPTION_KEY": "replace-me-with-32-characters!!"}, "ENCRYPTION_KEY is still the example's placeholder"),
        ({"SECRET_KEY_FALLBACKS": "0123456789abcdef0123,change_me_please_now"}, "SECRET_KEY_FALLBACKS is still"),
    ],
)
def test_bad_setting_stops_start_up_with_one_line(tmp_path, env, message):
    with pytest.raises(SystemExit) as stopped:
        make_app(tmp_path, ENV_VARS=env)
    text = str(stopped.value)
    assert text.startswith("OneSlot cannot start: ") and message in text
    assert "\n" not in text


def test_secret_key_is_generated_once_and_kept(tmp_path):
    first = config.load({}, tmp_path)["SECRET_KEY"]
    second = config.load({}, tmp_path)["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_defaults(tmp_path):
    settings = config.load({}, tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'oneslot.db'}"
    assert settings["BASE_URL"] == "http://127.0.0.1:5000"
    assert settings["MAIL_SERVER"] == ""


def test_postgres_urls_use_psycopg(tmp_path):
    settings = config.load({"DATABASE_URL": "postgresql://u:p@db/oneslot"}, tmp_path)
    assert settings["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/oneslot"


def test_postgres_connections_time_out_and_keep_alive(tmp_path):
    """A server that stops answering costs seconds, not libpq's minutes (see test_outage.py's black hole)."""
    options = config.load({"DATABASE_URL": "postgresql://u@db/oneslot"}, tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5, **config.PG_KEEPALIVES}}
    assert config.PG_KEEPALIVES["keepalives"] == 1 and config.PG_KEEPALIVES["tcp_user_timeout"] <= 15_000

    env = {
        "DATABASE_URL": "postgresql://u@db/oneslot?connect_timeout=30&keepalives_idle=60",
        "DATABASE_CONNECT_TIMEOUT": "3",
    }
    options = config.load(env, tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["connect_args"] == {
        key: value for key, value in config.PG_KEEPALIVES.items() if key != "keepalives_idle"
    }
    assert (
        config.load({"DATABASE_CONNECT_TIMEOUT": "3", "DATABASE_URL": "postgresql://u@db/x"}, tmp_path)[
            "SQLALCHEMY_ENGINE_OPTIONS"
        ]["connect_args"]["connect_timeout"]
        == 3
    )
    # SQLite has no connection to time out: libpq's options would be refused by sqlite3.connect().
    assert config.load({}, tmp_path)["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": True}


@pytest.mark.parametrize("raw", ["soon", "1", "-5"])
def test_a_bad_connect_timeout_stops_start_up(tmp_path, raw):
    with pytest.raises(config.ConfigError, match="DATABASE_CONNECT_TIMEOUT"):
        config.load({"DATABASE_CONNECT_TIMEOUT": raw}, tmp_path)


def test_gunicorn_serves_wsgi_app(tmp_path):
    """`gunicorn wsgi:app` serves the app (a real server, a real request)."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import wait_until_up

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "SECRET_KEY": "gunicorn-test-secret-key", "DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen([gunicorn, "-w", "1", "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", server)
    finally:
        server.terminate()
        server.wait(10)
