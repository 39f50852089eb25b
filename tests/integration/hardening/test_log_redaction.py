"""No working token in any log: real servers (`flask serve` as `make run` starts it, `flask dev`'s Werkzeug, and
gunicorn with the shipped gunicorn.conf.py) serve links, bookings and inbound webhooks, and their captured logs
hold none of the tokens used; plus the redaction rule itself."""

import io
import json
import logging
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

import pytest

from tests.conftest import free_port, iso, tomorrow_at, wait_until_up
from tests.helpers import ROOT
from webapp.logredact import ACTIONS, RedactingFilter, redact
from webapp.logs import make_handler

BIN = Path(sys.executable).parent


# --- the rule --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /book/Ab-c_12 HTTP/1.1" 200', '"GET /book/[redacted] HTTP/1.1" 200'),
        ("GET /book/Ab-c_12?month=2026-01&date=x HTTP/1.1", "GET /book/[redacted]?[redacted] HTTP/1.1"),
        ("POST /book/Ab-c_12/resend", "POST /book/[redacted]/resend"),
        ("GET /booking/Zz9/invite.ics?x=1", "GET /booking/[redacted]/invite.ics?[redacted]"),
        ("POST /hooks/12/s3cr3t HTTP/1.1", "POST /hooks/12/[redacted] HTTP/1.1"),
        (
            '"-" "https://book.example.com/booking/Zz9/cancel"',
            '"-" "https://book.example.com/booking/[redacted]/cancel"',
        ),
        ("GET /login?next=%2Fbooking%2FZz9%2Fcancel", "GET /login?next=%2Fbooking%2F[redacted]%2Fcancel"),
        ("GET /login?next=/booking/Zz9", "GET /login?next=/booking/[redacted]"),
        ("GET /calendars/3/links?page=2 HTTP/1.1", "GET /calendars/3/links?page=2 HTTP/1.1"),
        ("GET /booking/ HTTP/1.1", "GET /booking/ HTTP/1.1"),
        ("/book/[redacted]", "/book/[redacted]"),
        # Mangled spellings a server still routes (308 to the page) or a person typed: no token either.
        ("GET /booking//Zz9 HTTP/1.1", "GET /booking//[redacted] HTTP/1.1"),
        ("GET //book///Ab-c_12/resend", "GET //book///[redacted]/resend"),
        ("GET /BOOKING/Zz9/Cancel", "GET /BOOKING/[redacted]/Cancel"),
        ("GET /booking/./Zz9/cancel", "GET /booking/./[redacted]/cancel"),
        ("GET /booking/%2E/Zz9", "GET /booking/./[redacted]"),
        ("GET /booking/%2e%2e/booking/Zz9", "GET /booking/../[redacted]/[redacted]"),
        ("GET /booking/x/../Zz9/cancel?y=1", "GET /booking/[redacted]/../[redacted]/cancel?[redacted]"),
        ("GET /%62ooking/Zz9 HTTP/1.1", "GET /booking/[redacted] HTTP/1.1"),
        ("GET /booking%2FZz9%2Fcancel", "GET /booking%2F[redacted]%2Fcancel"),
        ("GET /feeds//HOSTS/Zz9.ics", "GET /feeds//HOSTS/[redacted]"),
        ("POST /hooks//12/s3cr3t", "POST /hooks//12/[redacted]"),
        ("POST /Hooks/12//s3cr3t/", "POST /Hooks/12//[redacted]/"),
        ("POST /hooks/./12/s3cr3t", "POST /hooks/./[redacted]/[redacted]"),
        # Admin paths stay as they are, escapes and all.
        ("GET /bookings/5/cancel?next=%2Fcontacts", "GET /bookings/5/cancel?next=%2Fcontacts"),
        ("GET /workflows/3/webhook-secret", "GET /workflows/3/webhook-secret"),
        ("GET /contacts/?q=%41da", "GET /contacts/?q=%41da"),
        ("GET //booking// HTTP/1.1", "GET //booking// HTTP/1.1"),
    ],
)
def test_redact_keeps_the_path_shape_and_drops_the_secret(line, expected):
    assert redact(line) == expected


def test_actions_are_what_the_routes_put_after_a_token(app):
    after_token = set()
    for rule in app.url_map.iter_rules():
        prefix, _, rest = rule.rule.partition(">")
        if prefix.startswith(("/book/<", "/booking/<", "/feeds/hosts/<", "/hooks/<")):
            after_token.update(part for part in rest.split("/") if part and "<" not in part)
    assert after_token == ACTIONS | {".ics"}  # the host feed's `<token>.ics`: one segment, redacted whole


def test_mangled_secret_urls_are_redacted_in_text_and_json_lines(client, make_link):
    _, token = make_link()
    streams = {fmt: io.StringIO() for fmt in ("text", "json")}
    handlers = [make_handler(fmt, stream) for fmt, stream in streams.items()]
    root, app_logger = logging.getLogger(), logging.getLogger("oneslot")
    app_logger.setLevel(logging.INFO)
    for handler in handlers:
        root.addHandler(handler)
    try:
        sent = {
            f"/booking//{token}": 308,
            f"/BOOKING/{token}": 404,
            f"/booking/%2E/{token}": 404,
            f"/book//{token}": 308,
            f"/Book/{token}/resend": 404,
            f"/booking/{token}//cancel": 308,
            f"/hooks//7/{token}": 405,  # the inbound webhook takes POST only
            f"/HOOKS/7/{token}": 404,
        }
        for path, status in sent.items():
            assert client.get(path).status_code == status, path
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        app_logger.setLevel(logging.NOTSET)
    text, lines = streams["text"].getvalue(), streams["json"].getvalue()
    assert token not in text and token not in lines
    paths = [json.loads(line)["path"] for line in lines.splitlines() if '"oneslot.request"' in line]
    assert paths == [
        "/booking//[redacted]",
        "/BOOKING/[redacted]",
        "/booking/./[redacted]",
        "/book//[redacted]",
        "/Book/[redacted]/resend",
        "/booking/[redacted]//cancel",
        "/hooks//7/[redacted]",
        "/HOOKS/7/[redacted]",
    ]
    assert all(f" {path} " in text for path in paths)


def test_every_logger_redacts_even_one_made_later(app, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("made.after.the.app").info("%s %s", "GET", "/booking/secretvalue/cancel")
    try:
        raise ValueError("while serving /book/othersecret")
    except ValueError:
        logging.getLogger("werkzeug").exception("Error on request")
    assert "secretvalue" not in caplog.text and "othersecret" not in caplog.text
    assert "/booking/[redacted]/cancel" in caplog.text and "/book/[redacted]" in caplog.text


def test_the_filter_rewrites_a_record_for_logging_configurations():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("/hooks/4/abc",), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "/hooks/4/[redacted]"


# --- real servers ----------------------------------------------------------------------------------


class Browser:
    """urllib with cookies: what a person's browser sends, on loopback only."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def send(self, path, form=None, payload=None, headers=None):
        """(status, final URL, body text) of one request."""
        data, headers = None, dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
        if payload is not None:
            data = json.dumps(payload).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self.opener.open(request, timeout=20) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.url, error.read().decode()


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)[1]


def prepare(tmp_path, port) -> tuple[dict, dict]:
    """A migrated SQLite database with a calendar, an API key and a published inbound-webhook workflow."""
    env = {
        **os.environ,
        "SECRET_KEY": "log-redaction-test-secret-key",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
    )

    from webapp import create_app
    from webapp.api import keys
    from webapp.calendars import services as calendars
    from webapp.extensions import db
    from webapp.workflows import services as workflows

    app = create_app({"ENV_VARS": env, "INSTANCE_PATH": str(tmp_path / "instance")})
    with app.app_context():
        calendar = calendars.create_calendar(
            {"name": "Intro call", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
        )
        workflow = workflows.create_workflow("From the form", "webhook")
        workflow.steps = [
            {"id": "s-link", "type": "generate_link", "key": "booking_link", "config": {"calendar_id": calendar.id}}
        ]
        db.session.commit()
        workflows.publish(workflow)
        made = {
            "calendar_id": calendar.id,
            "workflow_id": workflow.id,
            "hook_secret": workflows.regenerate_secret(workflow),
            "api_key": keys.create_key("log test")[1],
        }
        db.session.remove()
        db.engine.dispose()
    return env, made


def exercise(base: str, made: dict) -> list[str]:
    """Make a link, open it, book it, use the manage link, call the inbound webhook; the tokens used."""
    api = {"Authorization": f"Bearer {made['api_key']}"}
    browser = Browser(base)
    status, _, text = browser.send(
        "/api/v1/one-time-links", payload={"calendar_id": made["calendar_id"], "email": "ada@example.com"}, headers=api
    )
    assert status == 201, text
    link_path = json.loads(text)["url"].removeprefix(base)
    link_token = link_path.rsplit("/", 1)[1]

    status, _, page = browser.send(link_path)
    assert status == 200, page
    slot = tomorrow_at(10)
    assert browser.send(f"{link_path}?month={slot:%Y-%m}&date={slot:%Y-%m-%d}")[0] == 200
    form = {"csrf_token": csrf_token(page), "start": iso(slot), "name": "Ada", "email": "ada@example.com"}
    status, manage_url, manage_page = browser.send(link_path, form=form, headers={"Referer": base + link_path})
    assert status == 200 and "/booking/" in manage_url, manage_page
    manage_path = manage_url.removeprefix(base).split("?")[0]
    manage_token = manage_path.rsplit("/", 1)[1]

    # The confirmation page's own assets are fetched with it as the Referer (gunicorn logs the Referer).
    assert browser.send("/static/css/app.css", headers={"Referer": manage_url})[0] == 200
    assert browser.send(f"{manage_path}/invite.ics")[0] == 200
    assert browser.send(f"{manage_path}/reschedule?month={slot:%Y-%m}")[0] == 200
    # Used: the browser that booked is sent back to its confirmation (a 303, then the page).
    status, back_url, _ = browser.send(link_path)
    assert status == 200 and back_url.removeprefix(base).split("?")[0] == manage_path
    assert browser.send(f"/login?next={urllib.parse.quote(manage_path, safe='')}")[0] == 200
    status, _, text = browser.send(f"{manage_path}/cancel", form={"csrf_token": csrf_token(manage_page)})
    assert status == 200, text

    hook = f"/hooks/{made['workflow_id']}/{made['hook_secret']}"
    status, _, text = Browser(base).send(hook, payload={"email": "grace@example.com", "first_name": "Grace"})
    assert status == 202, text
    wrong_secret = "not-the-secret-" + made["hook_secret"][:8]
    assert (
        Browser(base).send(f"/hooks/{made['workflow_id']}/{wrong_secret}", payload={"email": "x@example.com"})[0] == 404
    )
    return [link_token, manage_token, made["hook_secret"], wrong_secret, made["api_key"]]


def serve_and_check(tmp_path, command: list, extra_env: dict | None = None) -> str:
    port = free_port()
    env, made = prepare(tmp_path, port)
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [part.format(port=port) for part in command],
            cwd=ROOT,
            env={**env, **(extra_env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, server, log)
        tokens = exercise(base, made)
    finally:
        server.terminate()
        server.wait(20)
    text = log.read_text()
    assert server.returncode == 0, f"SIGTERM should stop the server cleanly:\n{text}"
    for token in tokens:
        assert token not in text, f"a token is in the log:\n{text}"
    # Some secret paths were logged, redacted: the log is the request log, not an empty file.
    assert text.count("/book/[redacted]") >= 3 and "/booking/[redacted]/cancel" in text, text
    assert f"/hooks/{made['workflow_id']}/[redacted]" in text
    return text


@pytest.mark.slow
def test_the_make_run_server_log_holds_no_token(tmp_path):
    # make run's metrics directory (instance/prometheus) is shared by every run of this checkout: one of its own.
    metrics = tmp_path / "prometheus"
    metrics.mkdir()
    text = serve_and_check(
        tmp_path,
        [str(BIN / "flask"), "--app", "wsgi", "serve", "--port", "{port}"],
        {"PROMETHEUS_MULTIPROC_DIR": str(metrics)},
    )
    # gunicorn's access log is off: the app's own request line (webapp/logs.py) is the request log.
    assert "oneslot.request" in text and "/booking/[redacted]/invite.ics" in text


@pytest.mark.slow
def test_the_gunicorn_json_log_holds_no_token(tmp_path):
    text = serve_and_check(
        tmp_path, [str(BIN / "gunicorn"), "-w", "1", "-b", "127.0.0.1:{port}", "wsgi:app"], {"LOG_FORMAT": "json"}
    )
    # The shipped gunicorn.conf.py: gunicorn's error lines and the app's request lines, all JSON; no
    # access log of gunicorn's beside the app's one line per request.
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    requests = [line for line in lines if line["logger"] == "oneslot.request"]
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    assert not any(line["logger"] == "gunicorn.access" for line in lines)
    assert {"/booking/[redacted]", "/booking/[redacted]/cancel", "/book/[redacted]"} <= {r["path"] for r in requests}
    assert all(len(r["request_id"]) == 32 and r["remote_addr"] == "127.0.0.1" for r in requests)


@pytest.mark.slow
def test_the_make_dev_server_log_holds_no_token(tmp_path):
    # Werkzeug's request log (the development server of `make dev`).
    text = serve_and_check(tmp_path, [str(BIN / "flask"), "--app", "wsgi", "dev", "--port", "{port}"])
    assert '"GET /booking/[redacted]/invite.ics HTTP/1.1" 200' in text and "?[redacted]" in text
