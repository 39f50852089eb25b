"""No working secret URL in any log line: `/book/…`, `/booking/…`, `/feeds/hosts/…` and `/hooks/<id>/…` lose
their secret part.

One function, `redact()`, rewrites a log message; `install()` runs it on every log record the process
creates (through the log record factory), so the request log of `flask dev` (werkzeug), gunicorn's
access and error logs and the app's own loggers all pass through it, including loggers added later.
The path keeps its shape (`/booking/[redacted]/cancel`), and the query string of such a path is
redacted too; a percent-encoded copy (`?next=%2Fbook%2F…`) and full URLs (a Referer) are caught the same
way. `RedactingFilter` is the same rule as a logging.Filter, for a logging configuration of your own.
"""

import logging
import re

from gunicorn.glogging import Logger as _GunicornLogger

MASK = "[redacted]"
_STOP = r"\s\"'<>\\"  # where a path ends inside a log line
_SECRET_PATH = re.compile(
    rf"(?P<prefix>/(?:book|booking|feeds/hosts)/|/hooks/[^/?#{_STOP}]+/)"
    rf"(?P<secret>[^/?#{_STOP}]+)"
    rf"(?P<rest>[^?#{_STOP}]*)"
    rf"(?P<query>\?[^#{_STOP}]*)?"
)
_ENCODED_SECRET_PATH = re.compile(
    r"(?P<prefix>%2F(?:book|booking|feeds%2Fhosts)%2F|%2Fhooks%2F[^%/?#&\s]+%2F)(?P<secret>[^%/?#&\s\"'<>\\]+)",
    re.IGNORECASE,
)


def _mask_path(match: re.Match) -> str:
    query = f"?{MASK}" if match["query"] else ""
    return f"{match['prefix']}{MASK}{match['rest']}{query}"


def redact(text: str) -> str:
    """The text with the secret part (and query) of every secret path replaced by [redacted]."""
    if "/" not in text and "%" not in text:
        return text
    text = _ENCODED_SECRET_PATH.sub(lambda match: f"{match['prefix']}{MASK}", text)
    return _SECRET_PATH.sub(_mask_path, text)


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
