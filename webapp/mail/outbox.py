"""The outbox: queue mail in the caller's transaction; the worker sends what is due, with retries.

The SMTP connection and the MIME writing are the sender's (sender.py)."""

import logging
import os
import smtplib
import socket
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from email.utils import make_msgid, parseaddr
from urllib.parse import urlsplit

from flask import current_app, render_template
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from webapp import claims, events, logs, paging, tokens
from webapp.audit import audit
from webapp.branding import services as branding
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail.models import STATUSES, OutboxMessage
from webapp.mail.sender import Sender, build_message, connection, describe_error
from webapp.worker import stopping

logger = logging.getLogger("oneslot.mail")

# Seconds to wait after the 1st, 2nd, … failed attempt; after the last one the message is "failed".
DEFAULT_RETRY_DELAYS = (60, 5 * 60, 30 * 60, 2 * 60 * 60)
NO_SERVER = "not sent: no mail server configured"
TO_MAX = 254  # OutboxMessage.to_addr


# --- queueing ------------------------------------------------------------------------------------


def _one_line(name: str, value: str) -> str:
    # CR/LF (or any other line break or control character) in a header would let text add headers.
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value):
        raise ValueError(f"{name} must be a single line of text")
    return value.strip()


def _attachment(item: Mapping) -> dict:
    filename = _one_line("attachment filename", str(item["filename"]))
    mimetype = _one_line("attachment mimetype", str(item.get("mimetype") or "application/octet-stream"))
    if not isinstance(item["content"], str):
        raise ValueError("attachment content must be text (e.g. an .ics)")
    return {"filename": filename, "mimetype": mimetype, "content": item["content"]}


def new_message_id() -> str:
    """An RFC 5322 Message-ID on the public host's domain, e.g. <…@book.example.com>."""
    return make_msgid(domain=urlsplit(current_app.config["BASE_URL"]).hostname or "localhost")


def queue_email(
    to: str,
    subject: str,
    template: str,
    context: Mapping,
    *,
    attachments: Iterable[Mapping] = (),
    kind: str = "",
    booking_id: int | None = None,
    from_name: str = "",
    from_addr: str = "",
    minter: tokens.Minter | None = None,
    reply_to: str = "",
) -> OutboxMessage:
    """Render templates/email/<template>.txt/.html now and add the message to the session, uncommitted.

    The caller commits it in the same transaction as the change it belongs to (a booking, an
    enrolment step), so a request can never succeed while its email is lost. Secret links go in as
    tokens.LinkRef values in `context` (or as markers of `minter`, the message's own, when the caller
    rendered text with it already): they become URLs only when the worker sends the message.
    From: `from_name` and `from_addr` (a workflow's or a calendar's), else the branding's default
    sender, else (when sent) MAIL_DEFAULT_SENDER's; branding.sender() decides.
    """
    minter = minter or tokens.Minter()
    context = minter.fill(context)
    to = _one_line("to", to)
    subject = _one_line("subject", subject)
    if "@" not in parseaddr(to)[1]:
        raise ValueError(f"{to!r} is not an email address")
    if len(to) > TO_MAX:  # a long display name (two 100-character names, encoded) is dropped, not the mail
        to = parseaddr(to)[1]
    brand = branding.current()
    reply_to = _one_line("reply-to", reply_to)
    if reply_to and "@" not in parseaddr(reply_to)[1]:
        reply_to = ""  # a host's address is checked when saved: an odd one loses the header, not the mail
    if len(reply_to) > TO_MAX:
        reply_to = parseaddr(reply_to)[1]
    message = OutboxMessage(
        kind=kind or template,
        from_name=_one_line("sender name", from_name or brand.sender_name),
        from_addr=_one_line("sender address", from_addr or brand.sender_email),
        to_addr=to,
        reply_to=reply_to,
        subject=subject,
        text_body=render_template(f"email/{template}.txt", **{"subject": subject, **context}),
        html_body=render_template(f"email/{template}.html", **{"subject": subject, **context}),
        attachments=[_attachment(item) for item in attachments],
        status="pending",
        attempts=0,
        next_attempt_at=utcnow(),
        last_error="",
        booking_id=booking_id,
        message_id=new_message_id(),
    )
    used = minter.used_in([message.text_body, message.html_body, *(item["content"] for item in message.attachments)])
    message.secret_links, message.link_nonce = used, minter.nonce if used else ""
    db.session.add(message)
    return message


def queue_test_email(to: str) -> OutboxMessage:
    """Queue a short message an admin sends to check the SMTP settings; committed."""
    message = queue_email(
        to,
        "OneSlot test email",
        "test_message",
        {"base_url": current_app.config["BASE_URL"], "mail_server": current_app.config.get("MAIL_SERVER")},
        kind="test",
    )
    db.session.commit()
    audit("mail.test", outbox_id=message.id)
    return message


# --- claiming ------------------------------------------------------------------------------------


def worker_id() -> str:
    """Who holds a claim: host, process and thread (`make run` runs a worker thread beside the web server)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _due(now: datetime):
    return (
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
    )


def _lease(now: datetime, worker: str) -> dict:
    # WORKER_LEASE_SECONDS: the worker's heartbeat renews it while the worker lives (see webapp/claims.py).
    return {"locked_until": claims.lease_until(now), "locked_by": worker}


# What waits to be sent, by the same `due` (/readyz and /metrics): the index (status, next_attempt_at) answers it.
BACKLOG = claims.Backlog(_due, OutboxMessage.next_attempt_at)


def claim(limit: int, worker: str, now: datetime | None = None) -> list[int]:
    """Take up to `limit` due messages for `worker` and commit the claim; returns their ids (see webapp/claims.py)."""
    now = now or utcnow()
    oldest_first = (OutboxMessage.next_attempt_at, OutboxMessage.id)
    return claims.claim(OutboxMessage, _due(now), oldest_first, limit, _lease(now, worker))


def take(ids: Iterable[int], worker: str, now: datetime | None = None) -> list[int]:
    """Claim those of `ids` still due and unclaimed; commits, returns the winners."""
    now = now or utcnow()
    return claims.take(OutboxMessage, ids, _due(now), _lease(now, worker))


# --- sending -------------------------------------------------------------------------------------


def _permanent(exc: Exception) -> bool:
    # A 5xx for the recipient or the content will not change on a retry; a 4xx or a lost connection may.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500


def _unlock(message: OutboxMessage) -> None:
    message.locked_until = None
    message.locked_by = None


def _record_failure(message: OutboxMessage, exc: Exception) -> None:
    delays = current_app.config.get("MAIL_RETRY_DELAYS", DEFAULT_RETRY_DELAYS)
    message.attempts += 1
    message.last_error = describe_error(exc)[:2000]
    _unlock(message)
    if _permanent(exc) or message.attempts > len(delays):
        message.status = "failed"
        events.mail_failed.send(message)
        logger.warning(
            "mail failed outbox_id=%s attempts=%s error=%s",
            message.id,
            message.attempts,
            message.last_error,
            extra={"source": "outbox", "job_id": message.id},
        )
        return
    delay = delays[message.attempts - 1]
    message.next_attempt_at = utcnow() + timedelta(seconds=delay)
    events.mail_retried.send(message)
    logger.info(
        "mail retry outbox_id=%s attempts=%s in=%ss error=%s",
        message.id,
        message.attempts,
        delay,
        message.last_error,
        extra={"source": "outbox", "job_id": message.id},
    )


_OUTBOX = OutboxMessage.__table__
_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("sent_id"))
    .values(status="sent", sent_at=bindparam("sent_at"), attempts=bindparam("attempts"), last_error="")
    .values(locked_until=None, locked_by=None)
)


def _send_one(
    sender: Sender, message_id: int, worker: str, message: OutboxMessage | None = None, urls: dict | None = None
) -> str | None:
    """Send one claimed message and commit its new status; returns that status (None: not ours any more).

    `message` is the row as the claim just returned it; without it, the row is read again. `urls`: see
    build_message()."""
    claims.relaxed_commit()  # at worst a database crash makes a message go twice, never lose one
    if message is None:
        message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.status != "pending" or message.locked_by != worker:
        return None  # deleted, or another worker took over an expired claim
    until = claims.held_until(OutboxMessage, message.id, message.locked_until)  # or as the heartbeat renewed it
    if until is None or until <= utcnow():
        return None  # our claim ran out during a slow batch: another worker may hold it now
    try:
        sender.send(build_message(message, urls))
    except (smtplib.SMTPException, OSError) as exc:
        if stopping():
            # Cut by the worker's stop (interrupt_sends), or failing as it stops: not the server's
            # failure. Due again at once for another worker; if the server had taken it, it goes twice.
            _unlock(message)
            db.session.commit()
            logger.info("mail send interrupted by a stop outbox_id=%s: back in the queue", message.id)
            return "pending"
        _record_failure(message, exc)
    except Exception as exc:  # a bug (a template, a token loader): record it, keep the worker alive
        logger.exception("mail could not be built outbox_id=%s", message.id)
        _record_failure(message, exc)
    else:
        # One prepared UPDATE on the connection (no unit-of-work flush): this runs for every email sent.
        sent_id, kind, attempts, sent_at = message.id, message.kind, message.attempts + 1, utcnow()
        db.session.connection().execute(_SENT, {"sent_id": sent_id, "sent_at": sent_at, "attempts": attempts})
        now_stored = {"status": "sent", "sent_at": sent_at, "attempts": attempts, "last_error": ""}
        for key, value in {**now_stored, "locked_until": None, "locked_by": None}.items():
            set_committed_value(message, key, value)  # the object says what the row now does, with no flush
        events.mail_sent.send(message)
        # Committed one by one: a crash later in the batch never resends what already went out.
        db.session.commit()
        logger.info("mail sent outbox_id=%s kind=%s attempts=%s", sent_id, kind, attempts)
        return "sent"
    status = message.status
    db.session.commit()
    return status


def _hold(message_id: int, worker: str) -> None:
    message = db.session.get(OutboxMessage, message_id, populate_existing=True)
    if message is None or message.locked_by != worker:
        return
    message.status = "held"
    message.last_error = NO_SERVER
    _unlock(message)
    db.session.commit()
    logger.info("mail held outbox_id=%s (no MAIL_SERVER)", message_id)


def send_due(limit: int = 20) -> int:
    """Claim up to `limit` due messages and send them (or hold them without MAIL_SERVER); returns how many."""
    worker = worker_id()
    ids = claim(limit, worker)
    logs.done_ids(ids)  # the worker's line for this batch names them
    if not current_app.config.get("MAIL_SERVER"):
        for message_id in ids:
            _hold(message_id, worker)
        return len(ids)
    handled = 0
    with connection() as sender:
        for position, message_id in enumerate(ids):
            if stopping():  # between two messages: the rest go back to the queue for another worker
                claims.release(OutboxMessage, ids[position:], worker)
                break
            _send_one(sender, message_id, worker)
            handled += 1
    return handled  # the worker's batch line counts what was handled, not what a stop handed back


def deliver_now(message_ids: Iterable[int]) -> dict[int, str]:
    """Send queued messages at once, those due and held by no other worker (the engine, right after Send
    Email steps committed them), on one connection. Returns {id: status} for those that left the queue
    (sent, held, or failed for good)."""
    worker = worker_id()
    now = utcnow()
    with claims.kept_loaded():  # the rows the claim returned are not read again after each commit
        # Claimed and loaded in one statement: a row another worker holds, or that is not due, is left out.
        taken = claims.take_rows(OutboxMessage, message_ids, _due(now), _lease(now, worker))
        if not current_app.config.get("MAIL_SERVER"):
            for message in taken:
                _hold(message.id, worker)
            return {message.id: "held" for message in taken}
        left = {}
        urls = tokens.load(link for message in taken for link in message.secret_links or [])  # one query a purpose
        with connection() as sender:
            for position, message in enumerate(taken):
                if stopping():  # between two messages: the rest stay queued, free for another worker
                    claims.release(OutboxMessage, [m.id for m in taken[position:]], worker)
                    break
                status = _send_one(sender, message.id, worker, message=message, urls=urls)
                if status is not None and status != "pending":
                    left[message.id] = status
        return left


def retry(message: OutboxMessage) -> bool:
    """Put a failed or held message back in the queue, due now; False if it was neither.

    Its attempts are kept: after a failed message's schedule is used up, a retry is one more attempt.
    """
    result = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status.in_(("failed", "held")))
        .values(status="pending", next_attempt_at=utcnow(), locked_until=None, locked_by=None),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    if result.rowcount:  # type: ignore[attr-defined]  # DML gives a CursorResult
        audit("mail.retry", outbox_id=message.id)
    return bool(result.rowcount)  # type: ignore[attr-defined]  # DML gives a CursorResult


# --- reading -------------------------------------------------------------------------------------


MESSAGE_ORDER = paging.newest_first(OutboxMessage.created_at, OutboxMessage.id)


def search(status: str | None, args, per_page: int) -> paging.Page:
    """One page of messages, newest first, optionally of one status (args: the request's cursor)."""
    query = select(OutboxMessage)
    if status in STATUSES:
        query = query.where(OutboxMessage.status == status)
    return paging.from_args(query, MESSAGE_ORDER, args, per_page)


def counts() -> dict[str | None, paging.Count]:
    """How many messages are in each status, and in all (the None key): each counted up to a cap."""
    result: dict[str | None, paging.Count] = {None: paging.count_upto(select(OutboxMessage.id))}
    for status in STATUSES:
        result[status] = paging.count_upto(select(OutboxMessage.id).where(OutboxMessage.status == status))
    return result


def redacted(message: OutboxMessage, text: str) -> str:
    """Stored text of a message as an admin may see it: its secret links shown as …/book/••••••••."""
    return message.minter.redact(text)
