"""Log lines an operator can search: text (the default) or one JSON object a line (`LOG_FORMAT=json`).

`configure(fmt)` sets up the process's handler once, for `flask serve`, `flask worker` and gunicorn
(`GunicornLogger`, named in gunicorn.conf.py, so gunicorn's own error lines share the format). JSON
lines come from python-json-logger; a text line escapes the control characters of its message
(`TextLineFormatter`), so text a stranger typed never starts a line of its own. Every line passes
logredact (its record factory, and the handler's `RedactingFilter`), in both formats.

`init_app(app)` gives every request an id (an incoming sane `X-Request-ID`, else a new one), returns
it as `X-Request-ID` on every response, errors too, puts it on every record logged while the request
runs (`RequestIdFilter`: the audit, mail and error lines say which request they belong to), and logs
one `oneslot.request` line per request: the access log. gunicorn's own access log is off
(gunicorn.conf.py), so a deployment has one line per request in either format.

`batch(source)` is the worker's line per batch: what the source did, the ids it reported through
`done_ids()`, and how long it took.
"""

import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, Response, g, has_request_context, request, request_started
from pythonjsonlogger.json import JsonFormatter

from webapp import logredact

REQUEST_LOGGER = logging.getLogger("oneslot.request")
WORKER_LOGGER = logging.getLogger("oneslot.worker")
HEADER = "X-Request-ID"
# What a client may send as its request id: it lands in our logs and headers, so nothing else.
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# A batch line lists this many ids at most (and says how many there were).
MAX_IDS = 20
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"
# What could end a text line or hide in it: C0 and C1 controls (CR, LF, NEL, ESC…), U+2028 and U+2029.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# The colours werkzeug's development server puts on its own lines (by status): dropped, not escaped.
_WERKZEUG_COLOURS = re.compile(r"\x1b\[[0-9;]*m")
# The app's own files and the load balancer's health checks: a line each would drown the page
# requests. Logged all the same when they fail.
QUIET_ENDPOINTS = {"static", "core.healthz", "core.readyz", "metrics.metrics"}
_MARK = "_oneslot_handler"
_ENVIRON_ID = "oneslot.request_id"
_ENVIRON_STARTED = "oneslot.request_started"


# --- request ids ---------------------------------------------------------------------------------


def sane_request_id(value: str | None) -> str | None:
    """The client's request id when it is safe to keep (≤ 128 of [A-Za-z0-9._:-]), else None."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return None


def request_id() -> str | None:
    """This request's id (made on first use), or None outside a request."""
    if not has_request_context():
        return None
    # Kept in the request's environ, not in g: an app context (and its g) may outlive one request.
    found = request.environ.get(_ENVIRON_ID)
    if found is None:
        found = sane_request_id(request.headers.get(HEADER)) or uuid.uuid4().hex
        request.environ[_ENVIRON_ID] = found
    return found


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (None outside a request) and `request_tag` (" [id]" for the text format)."""

    def filter(self, record: logging.LogRecord) -> bool:
        found = getattr(record, "request_id", None) or request_id()
        record.request_id = found
        record.request_tag = f" [{found}]" if found else ""
        return True


# --- formats -------------------------------------------------------------------------------------


class JsonLineFormatter(JsonFormatter):
    """python-json-logger's formatter with our field names; a traceback is redacted like the message."""

    def __init__(self):
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(request_id)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601 in UTC, what log search tools read without a pattern
            reserved_attrs=[*JsonFormatter().reserved_attrs, "request_tag"],
        )

    def formatException(self, ei) -> str:
        return logredact.redact(str(super().formatException(ei)))


def one_line(text: str) -> str:
    """The text with every control character written as its escape (`\\n`, `\\r`, `\\x1b`, `\\u2028`)."""
    return _CONTROLS.sub(lambda match: match[0].encode("unicode_escape").decode("ascii"), text)


class TextLineFormatter(logging.Formatter):
    """TEXT_FORMAT, one line a record whatever the message holds.

    A path, an email address or a workflow name is someone else's text: with a line break in it, it
    would end our line and start one of its own (a forged audit line). The message is escaped; a
    traceback still follows on its own lines, indented by Python, as operators expect."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        if record.name == "werkzeug":
            line = _WERKZEUG_COLOURS.sub("", line)
        return one_line(line)


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT `fmt` ("text" or "json")."""
    return JsonLineFormatter() if fmt == "json" else TextLineFormatter()


def make_handler(fmt: str, stream=None) -> logging.Handler:
    """A handler writing `fmt` lines (to stderr by default), with request ids and redaction."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    handler.addFilter(RequestIdFilter())
    handler.addFilter(logredact.RedactingFilter())
    setattr(handler, _MARK, fmt)
    return handler


def configure(fmt: str = "text") -> None:
    """Send every log line of this process (ours, werkzeug's) to stderr in `fmt`; once, idempotent.

    A process whose root logger already has a handler of someone else's (a test's, an embedding
    server's) keeps it: only the app's level is set then."""
    logredact.install()
    app_logger = logging.getLogger("oneslot")
    if app_logger.level == logging.NOTSET:
        app_logger.setLevel(logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(make_handler(fmt))
        return
    for handler in root.handlers:
        if hasattr(handler, _MARK):
            handler.setFormatter(formatter(fmt))


class GunicornLogger(logredact.GunicornLogger):
    """gunicorn's logger (redacted, webapp/logredact.py) writing our format, from LOG_FORMAT.

    gunicorn sets this up before the app loads, so the setting is read from the environment here."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        fmt = "json" if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json" else "text"
        configure(fmt)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(formatter(fmt))
                if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
                    handler.addFilter(RequestIdFilter())


# --- the request line ----------------------------------------------------------------------------


def _start(_app: Flask, **_extra) -> None:
    """Flask's request_started: before every before_request hook, so a request that one of them fails
    (the admin's loader while the database is away) still has its start time."""
    request.environ[_ENVIRON_STARTED] = time.perf_counter()
    request_id()


def _admin_id() -> int | None:
    """The signed-in admin's id when this request already loaded them: logging never queries."""
    user = g.get("_login_user")
    if user is not None and getattr(user, "is_authenticated", False):
        return user.id
    return None


def _finish(response: Response) -> Response:
    """Return the request id and log the request's line."""
    rid = request_id()
    if rid:
        response.headers[HEADER] = rid
    if request.endpoint in QUIET_ENDPOINTS and response.status_code < 400:
        return response
    started = request.environ.get(_ENVIRON_STARTED)
    duration_ms = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    path = logredact.redact(request.path)
    fields = {
        "method": request.method,
        "endpoint": request.endpoint,
        "path": path,
        "status": response.status_code,
        "duration_ms": duration_ms,
        "admin_id": _admin_id(),
        "remote_addr": request.remote_addr,
    }
    REQUEST_LOGGER.info(
        "%s %s %s %sms endpoint=%s admin=%s from=%s",
        request.method,
        path,
        response.status_code,
        duration_ms,
        request.endpoint,
        fields["admin_id"],
        request.remote_addr,
        extra=fields,
    )
    return response


def init_app(app: Flask) -> None:
    """Request ids and the request line: started by the request_started signal, ahead of every hook."""
    request_started.connect(_start, app)
    app.after_request(_finish)


# --- the worker's batch line ---------------------------------------------------------------------

_batch_ids: ContextVar[list | None] = ContextVar("oneslot_batch_ids", default=None)


def done_ids(ids: Iterable) -> None:
    """A task source tells which jobs its batch took (outbox ids, enrolment ids); outside a batch, nothing."""
    found = _batch_ids.get()
    if found is not None:
        found.extend(ids)


@contextmanager
def batch(source: str) -> Iterator[list]:
    """Times one source's batch; the caller appends the count it returned, and one line is logged if any."""
    ids: list = []
    result: list = []
    token = _batch_ids.set(ids)
    started = time.perf_counter()
    try:
        yield result
    finally:
        _batch_ids.reset(token)
    count = result[0] if result else 0
    if count:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        shown = ", ".join(str(i) for i in ids[:MAX_IDS]) + (
            f" (+{len(ids) - MAX_IDS} more)" if len(ids) > MAX_IDS else ""
        )
        WORKER_LOGGER.info(
            "%s: %d task(s) done in %sms ids=[%s]",
            source,
            count,
            duration_ms,
            shown,
            extra={"source": source, "count": count, "job_ids": ids[:MAX_IDS], "duration_ms": duration_ms},
        )
