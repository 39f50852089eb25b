"""No working secret URL in any log line: `/book/…`, `/booking/…`, `/feeds/hosts/…` and `/hooks/<id>/…` lose
their secret part.

One function, `redact()`, rewrites a log message; `install()` runs it on every log record the process
creates (through the log record factory), so the request log of `flask dev` (werkzeug), gunicorn's
access and error logs and the app's own loggers all pass through it, including loggers added later.
The path keeps its shape (`/booking/[redacted]/cancel`), and the query string of such a path is
redacted too; a percent-encoded copy (`?next=%2Fbook%2F…`) and full URLs (a Referer) are caught the same
way. So are mangled spellings that a server still routes (`/booking//<token>` gets a 308 to the page) or
that someone typed: any case, repeated slashes, dot segments, escaped letters (`/%62ooking/…`); after the
prefix, the first real segment and every later one but the routes' ACTIONS are redacted. `RedactingFilter`
is the same rule as a logging.Filter, for a logging configuration of your own.
"""

import logging
import re

from gunicorn.glogging import Logger as _GunicornLogger

MASK = "[redacted]"
# What may follow a link's token in the app's routes (tests/integration/hardening/test_log_redaction.py
# checks this against the url map): every other segment after a secret prefix is redacted.
ACTIONS = frozenset({"cancel", "invite.ics", "reschedule", "resend"})
_STOP = r"\s\"'<>\\"  # where a path ends inside a log line
_SLASH = r"(?:/|%2F)"  # a separator, also percent-encoded (`?next=%2Fbooking%2F…`)
_SEGMENT_CHAR = rf"(?:(?!%2F)[^/?#{_STOP}])"
# The prefix in any spelling a server still routes or a person may have typed: repeated slashes,
# any case, dot segments after it (`/booking//t`, `/BOOKING/t`, `/booking/./t`).
_SECRET_PATH = re.compile(
    rf"(?P<prefix>{_SLASH}+(?:book|booking|feeds{_SLASH}+hosts|hooks{_SLASH}+{_SEGMENT_CHAR}+)(?={_SLASH}))"
    rf"(?P<tail>[^?#{_STOP}]*)"
    rf"(?P<query>\?[^#{_STOP}]*)?",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(rf"({_SLASH})", re.IGNORECASE)
# %41 is A: escapes of unreserved characters name the same path (RFC 3986, 6.2.2.2), `/%62ooking/…` too.
_UNRESERVED_ESCAPE = re.compile(r"%(?:2[DEde]|3[0-9]|[46][1-9A-Fa-f]|[57][0-9Aa]|5[Ff]|7[Ee])")


def _mask_path(match: re.Match) -> str:
    """The secret path with its token (the first segment that is not empty or a dot segment) and every
    later segment but ACTIONS replaced, and its query string too."""
    parts = _SEPARATOR.split(match["tail"])  # [text before the first separator, separator, segment, …]
    masked = False
    for index in range(2, len(parts), 2):
        segment = parts[index]
        if segment in ("", ".", ".."):
            continue
        if segment != MASK and (not masked or segment.lower() not in ACTIONS):
            parts[index] = MASK
        masked = True
    if not masked:
        return match[0]
    query = f"?{MASK}" if match["query"] else ""
    return f"{match['prefix']}{''.join(parts)}{query}"


def _decode_unreserved(text: str) -> str:
    return _UNRESERVED_ESCAPE.sub(lambda escape: chr(int(escape[0][1:], 16)), text)


def redact(text: str) -> str:
    """The text with the secret part (and query) of every secret path replaced by [redacted].

    A text with a secret path comes back with the escapes of unreserved characters decoded (what the
    path matched); any other text comes back as it was."""
    if "/" not in text and "%" not in text:
        return text
    plain = _decode_unreserved(text) if "%" in text else text
    masked = _SECRET_PATH.sub(_mask_path, plain)
    return masked if masked != plain else text


def redact_record(record: logging.LogRecord) -> None:
    """Rewrite a record in place: its message (arguments merged in) and any traceback text."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it as usual when the record is emitted
        return
    clean = redact(message)
    if clean != message:
        record.msg, record.args = clean, ()
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


class RedactingFilter(logging.Filter):
    """A logging.Filter that redacts secret paths and lets every record through."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def install() -> None:
    """Redact every log record this process creates from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts_secret_paths", False):
        return

    def redacting_factory(*args, **kwargs):
        record = factory(*args, **kwargs)
        redact_record(record)
        return record

    redacting_factory.redacts_secret_paths = True  # type: ignore[attr-defined]  # mypy has no function attributes
    logging.setLogRecordFactory(redacting_factory)


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger with secret paths redacted from the access and error logs (see gunicorn.conf.py)."""

    def setup(self, cfg) -> None:
        install()
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())
