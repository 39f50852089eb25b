"""Logs (webapp/logs.py): request ids, one JSON line per request, the worker's batch line, secrets redacted."""

import io
import json
import logging
import re
import urllib.parse
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp import logs, worker
from webapp.extensions import db
from webapp.mail import outbox
from webapp.mail.models import OutboxMessage


@pytest.fixture
def json_lines():
    """Every line the process logs while the test runs, as the JSON handler writes them (parsed)."""
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    root = logging.getLogger()
    app_logger = logging.getLogger("oneslot")
    level = app_logger.level
    app_logger.setLevel(logging.INFO)
    root.addHandler(handler)

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    read.text = stream.getvalue  # type: ignore[attr-defined]
    yield read
    root.removeHandler(handler)
    app_logger.setLevel(level)


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "oneslot.request"]


def test_a_request_is_one_json_line_with_its_fields(login, admin, json_lines):
    response = login.get("/contacts/", headers={"X-Request-ID": "edge-7f3a.1:2"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "edge-7f3a.1:2"
    [line] = request_lines(json_lines())
    assert line["request_id"] == "edge-7f3a.1:2"
    assert line["method"] == "GET" and line["path"] == "/contacts/" and line["endpoint"] == "contacts.list"
    assert line["status"] == 200 and line["admin_id"] == admin.id and line["remote_addr"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and datetime.fromisoformat(line["time"]).utcoffset() == timedelta(0)
    assert "admin@example.com" not in json_lines.text()


def test_the_app_own_lines_carry_the_request_id(client, admin, json_lines):
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 303
    rid = response.headers["X-Request-ID"]
    [audit] = [line for line in json_lines() if line["logger"] == "oneslot.audit"]
    assert audit["message"].startswith("admin.login") and audit["request_id"] == rid
    assert request_lines(json_lines())[0]["request_id"] == rid


@pytest.mark.parametrize(
    "sent",
    ["two words", "x" * 129, "id;forged=1", "<script>", "ünïcode", ""],
    ids=["space", "too-long", "separator", "markup", "non-ascii", "empty"],
)
def test_an_insane_request_id_is_replaced(client, json_lines, sent):
    response = client.get("/login", headers={"X-Request-ID": sent})
    rid = response.headers["X-Request-ID"]
    assert rid != sent and re.fullmatch(r"[0-9a-f]{32}", rid)
    assert request_lines(json_lines())[0]["request_id"] == rid


def test_a_request_id_is_made_and_returned_on_errors_too(client, json_lines):
    first = client.get("/no/such/page")
    second = client.get("/contacts/", headers={"Accept": "application/json"})
    assert first.status_code == 404 and second.status_code == 401
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", rid) for rid in ids) and ids[0] != ids[1]
    lines = request_lines(json_lines())
    assert [(line["request_id"], line["status"], line["admin_id"]) for line in lines] == [
        (ids[0], 404, None),
        (ids[1], 401, None),
    ]
    assert lines[0]["endpoint"] is None and lines[1]["endpoint"] == "contacts.list"


def test_the_kept_id_is_the_longest_sane_one(client):
    sane = "a" * 128
    assert client.get("/login", headers={"X-Request-ID": sane}).headers["X-Request-ID"] == sane


def test_static_files_and_health_checks_are_not_logged_unless_they_fail(client, json_lines):
    assert client.get("/static/css/app.css").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert request_lines(json_lines()) == []
    assert client.get("/static/no-such-file.css").status_code == 404
    assert [line["path"] for line in request_lines(json_lines())] == ["/static/no-such-file.css"]


def test_a_json_line_never_holds_a_booking_token(client, make_link, json_lines, app):
    _, token = make_link()
    assert client.get(f"/book/{token}").status_code == 200
    assert client.get(f"/book/{token}?month=2031-01").status_code in (200, 400)
    try:
        raise ValueError(f"could not read /book/{token}/resend")
    except ValueError:
        app.logger.exception("while reading %s", f"/booking/{token}")
    text = json_lines.text()
    assert token not in text
    lines = json_lines()
    assert [line["path"] for line in request_lines(lines)] == ["/book/[redacted]", "/book/[redacted]"]
    [failure] = [line for line in lines if line["message"].startswith("while reading")]
    assert failure["message"] == "while reading /booking/[redacted]"
    assert "/book/[redacted]/resend" in failure["exc_info"]


def test_the_text_format_shows_the_request_id(client):
    stream = io.StringIO()
    handler = logs.make_handler("text", stream)
    logging.getLogger().addHandler(handler)
    logging.getLogger("oneslot").setLevel(logging.INFO)
    try:
        client.get("/login", headers={"X-Request-ID": "text-id-1"})
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("oneslot").setLevel(logging.NOTSET)
    [line] = [line for line in stream.getvalue().splitlines() if "oneslot.request" in line]
    assert " INFO oneslot.request [text-id-1]: GET /login 200 " in line and "endpoint=auth.login" in line


@pytest.fixture
def text_log():
    """What the process logs while the test runs, as the text handler writes it."""
    stream = io.StringIO()
    handler = logs.make_handler("text", stream)
    root, app_logger = logging.getLogger(), logging.getLogger("oneslot")
    level = app_logger.level
    app_logger.setLevel(logging.INFO)
    root.addHandler(handler)
    yield stream.getvalue
    root.removeHandler(handler)
    app_logger.setLevel(level)


FORGED = "2026-12-07 18:50:00,000 INFO oneslot.audit [id]: admin.password_change actor=1"


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("/login%0AFAKE", "/login\\nFAKE"),
        ("/login%0DFAKE", "/login\\rFAKE"),
        ("/login%0D%0AFAKE", "/login\\r\\nFAKE"),
        ("/login%E2%80%A8FAKE", "/login\\u2028FAKE"),
        ("/login%C2%85FAKE", "/login\\x85FAKE"),
        ("/login%1B%5B2JFAKE", "/login\\x1b[2JFAKE"),
        ("/x%0A" + urllib.parse.quote(FORGED), "/x\\n" + FORGED),
    ],
    ids=["lf", "cr", "crlf", "line-separator", "nel", "escape", "forged-line"],
)
def test_a_text_request_line_stays_one_line_whatever_the_path(client, text_log, sent, shown):
    assert client.get(sent).status_code == 404
    text = text_log()
    [line] = text.splitlines()  # splitlines() also ends a line at CR, U+2028 and U+0085
    assert f": GET {shown} 404 " in line and line.endswith(" from=127.0.0.1")
    assert text == line + "\n"


def test_a_text_line_escapes_what_its_arguments_hold(app, text_log):
    logging.getLogger("oneslot.audit").info("contact.create email=%s", f"eve@example.com\n{FORGED}")
    [line] = text_log().splitlines()
    assert line.endswith(f": contact.create email=eve@example.com\\n{FORGED}")


def test_werkzeug_colours_are_dropped_and_other_escapes_shown(app, text_log):
    logging.getLogger("werkzeug").warning('"%s" %s', "\x1b[33mGET /x HTTP/1.1\x1b[0m", 404)
    logging.getLogger("oneslot.audit").info("name=%s", "\x1b[33mEve")
    werkzeug, audit = text_log().splitlines()
    assert werkzeug.endswith(': "GET /x HTTP/1.1" 404') and audit.endswith(": name=\\x1b[33mEve")


def test_a_text_traceback_still_follows_on_its_own_lines(app, text_log):
    try:
        raise ValueError("broken\nvalue")
    except ValueError:
        logging.getLogger("oneslot.worker").exception("job %s failed\r\n", "x\u2029y")
    first, *trace = text_log().splitlines()
    assert first.endswith(": job x\\u2029y failed\\r\\n")
    assert trace[0] == "Traceback (most recent call last):" and trace[-2:] == ["ValueError: broken", "value"]


def test_a_worker_batch_is_one_line_with_its_job_ids(app, smtp_server, json_lines, monkeypatch):
    smtp_server.configure(app)
    monkeypatch.setattr(worker, "_SOURCES", {"outbox": outbox.send_due})
    for n in range(3):
        outbox.queue_email(f"p{n}@example.com", f"Hello {n}", "test_message", {"base_url": "x"})
    db.session.commit()
    ids = list(db.session.scalars(select(OutboxMessage.id)))
    assert worker.run_once(app) == 3
    [batch] = [line for line in json_lines() if line.get("source") == "outbox"]
    assert batch["logger"] == "oneslot.worker" and batch["count"] == 3 and sorted(batch["job_ids"]) == sorted(ids)
    assert isinstance(batch["duration_ms"], float) and batch["request_id"] is None
    assert worker.run_once(app) == 0
    assert len([line for line in json_lines() if line.get("source") == "outbox"]) == 1, "an idle round logs nothing"


def test_a_long_batch_names_its_first_ids(app, json_lines, monkeypatch):
    def source(limit):
        logs.done_ids(range(100, 100 + limit))
        return limit

    monkeypatch.setattr(worker, "_SOURCES", {"many": source})
    assert worker.run_once(app, limit=45) == 45
    [batch] = [line for line in json_lines() if line.get("source") == "many"]
    assert batch["job_ids"] == list(range(100, 100 + logs.MAX_IDS))
    assert batch["message"].endswith(f"(+{45 - logs.MAX_IDS} more)]")


def test_a_failed_job_is_one_line_with_its_source_and_id_and_no_traceback(app, json_lines, monkeypatch):
    from tests.conftest import free_port

    # Nothing listens at MAIL_PORT: the SMTP server is down, an expected failure retried later.
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=5)
    monkeypatch.setattr(worker, "_SOURCES", {"outbox": outbox.send_due})
    outbox.queue_email("ada@example.com", "Hello", "test_message", {"base_url": "x"})
    db.session.commit()
    [message_id] = db.session.scalars(select(OutboxMessage.id))
    worker.run_once(app)
    failures = [line for line in json_lines() if line.get("job_id") is not None]
    assert [(line["source"], line["job_id"], line["level"]) for line in failures] == [("outbox", message_id, "INFO")]
    assert failures[0]["message"].startswith(f"mail retry outbox_id={message_id} ")
    assert not any("exc_info" in line for line in json_lines())
