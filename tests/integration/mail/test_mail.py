"""The outbox: queueing, sending through a real SMTP server, retries, claims, and the "Sent mail" pages."""

import contextlib
import email
import email.policy
import html
import os
import random
import re
import socket
import threading
from datetime import timedelta

import pytest
from flask_mail import Message
from jinja2 import ChoiceLoader, DictLoader
from sqlalchemy import func, select, update

from tests.conftest import free_port, statements_run
from tests.helpers import reload
from webapp import tokens
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail import outbox, sender
from webapp.mail.models import OutboxMessage

ICS = "\r\n".join(
    ["BEGIN:VCALENDAR", "VERSION:2.0", "BEGIN:VEVENT", "SUMMARY:Intro call – café", "URL:{link}", "END:VEVENT"]
    + ["END:VCALENDAR", ""]
)
SALT = "0123456789abcdef0123456789abcdef"
GONE = "(This test link is gone.)"
ON_POSTGRES = bool(os.environ.get("TEST_DATABASE_URL"))


@pytest.fixture
def link_purpose(monkeypatch):
    """A secret-link purpose of the test's own: LinkRef("mailtest", 7) is a working link, other ids are gone."""
    monkeypatch.setattr(tokens, "_PURPOSES", dict(tokens._PURPOSES))
    found = {7: (SALT, tokens.stored_digest(SALT))}
    tokens.register("mailtest", "/mailtest/", lambda ids: {i: found[i] for i in ids if i in found}, GONE)
    return "mailtest"


@pytest.fixture
def templates(app):
    """An email template with a secret link in both parts."""
    app.jinja_env.loader = ChoiceLoader(
        [
            DictLoader(
                {
                    "email/t_link.txt": "Hello {{ name }},\nbook here: {{ link }}\n",
                    "email/t_link.html": '{% extends "email/_layout.html" %}{% block content %}'
                    '<p>Hello {{ name }}, <a href="{{ link }}">book here</a></p>{% endblock %}',
                }
            ),
            app.jinja_env.loader,
        ]
    )


@pytest.fixture
def smtp(app, smtp_server):
    smtp_server.configure(app)
    return smtp_server


def queue(to="ada@example.com", subject="Your link", **kwargs):
    kwargs.setdefault("kind", "test")
    message = outbox.queue_email(to, subject, "test_message", {"base_url": "http://x", "mail_server": ""}, **kwargs)
    db.session.commit()
    return message


def drain() -> int:
    total = 0
    while done := outbox.send_due(10):
        total += done
    return total


def make_due(message) -> None:
    """Time passes: the message's next attempt is now."""
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message.id).values(next_attempt_at=utcnow()),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


# --- queueing ------------------------------------------------------------------------------------


def test_queue_renders_both_parts_and_leaves_the_commit_to_the_caller(app):
    message = outbox.queue_email(
        "ada@example.com", "Hello", "test_message", {"base_url": "http://x", "mail_server": "smtp.example.com"}
    )
    assert message in db.session.new
    assert "test email from OneSlot" in message.text_body and "smtp.example.com" in message.text_body
    assert message.html_body.startswith("<!doctype html>") and "<title>Hello</title>" in message.html_body
    assert re.fullmatch(r"<[^<>@\s]+@127\.0\.0\.1>", message.message_id)
    # The caller's transaction rolls back: no email for a change that did not happen.
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    committed = queue()
    assert reload(committed).status == "pending" and committed.kind == "test"


def test_message_ids_are_unique(app):
    assert queue().message_id != queue().message_id


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("ada@example.com\r\nBcc: eve@example.com", "Hi"),
        ("ada@example.com", "Hi\nBcc: eve@example.com"),
        ("ada@example.com", "Hi\rthere"),
        ("ada@example.com", "Hi\u2028there"),
        ("not an address", "Hi"),
    ],
)
def test_header_injection_is_refused(app, to, subject):
    with pytest.raises(ValueError):
        outbox.queue_email(to, subject, "test_message", {})
    assert not db.session.new


LONG_SUBJECT = "Réservez votre créneau personnel maintenant, s'il vous plaît — André Müller-Lüdenscheidt, merci"


@pytest.mark.parametrize("subject", ["Your link", LONG_SUBJECT, "A plain ASCII subject that goes on " * 4])
@pytest.mark.parametrize("to", ["ada@example.com", "Zoë Ångström, a very long display name indeed <zoe@example.com>"])
@pytest.mark.parametrize("parts", ["text", "html", "html+ics"])
def test_sent_bytes_are_what_flask_mail_writes(app, subject, to, parts):
    """OutgoingMessage skips policy.SMTP's header re-parsing, and writes the same bytes as Flask-Mail."""
    fields = {"subject": subject, "recipients": [to], "body": "Héllo,\nFrom here: ." + "x" * 900 + "\n"}
    fields["sender"] = "Réné at OneSlot <noreply@localhost>"
    if parts != "text":
        fields["html"] = "<p>Héllo</p>\n" + "<p>y</p>" * 100 + "\n" + "<p>z</p>" * 100
    ours, theirs = sender.OutgoingMessage(**fields), Message(**fields)
    for message in (ours, theirs):
        message.date, message.msgId = 0, "<1@localhost>"
        if parts == "html+ics":
            message.attach("invité.ics", "text/calendar; charset=utf-8", ICS.encode())
    random.seed(7)  # the MIME boundaries are random
    written = ours.as_bytes()
    random.seed(7)
    assert written == theirs.as_bytes()
    assert b"\r\n" in written and b"\n" not in written.replace(b"\r\n", b"")


@pytest.mark.parametrize("subtype", ["plain", "html"])
def test_a_line_longer_than_smtp_allows_goes_quoted_printable(app, subtype):
    """RFC 5321 caps a line at 998 octets (servers answer "500 Line too long"); Flask-Mail writes UTF-8
    text as 8bit, line by line, so a long one-line paragraph (a cancel reason) is sent quoted-printable."""
    text = "Réason: " + "word " * 400 + "\n" + "short line\n"
    message = sender.OutgoingMessage(subject="Hi", recipients=["ada@example.com"], sender="a@localhost")
    message.body = text if subtype == "plain" else None
    message.html = text if subtype == "html" else None
    if subtype == "html":
        message.body = "plain"
    written = message.as_bytes()
    assert max(len(line) for line in written.split(b"\r\n")) <= 998
    parsed = email.message_from_bytes(written, policy=email.policy.default)
    part = parsed.get_body((subtype,))
    assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert part.get_content().replace("\r\n", "\n") == text


def test_a_boundary_that_occurs_in_the_text_is_not_used(app):
    random.seed(3)
    taken = sender._Writer._make_boundary()  # the first boundary the seeded generator draws
    message = sender.OutgoingMessage(subject="Hi", recipients=["ada@example.com"], sender="a@localhost")
    message.body, message.html = f"Quoted:\n--{taken}\nend", "<p>hi</p>"
    random.seed(3)
    written = message.as_bytes()
    assert f'boundary="{taken}.0"'.encode() in written and f'boundary="{taken}"'.encode() not in written


def test_attachment_filename_injection_is_refused(app):
    with pytest.raises(ValueError):
        outbox.queue_email(
            "ada@example.com",
            "Hi",
            "test_message",
            {},
            attachments=[{"filename": "a.ics\r\nX-Evil: 1", "mimetype": "text/calendar", "content": "x"}],
        )


# --- sending -------------------------------------------------------------------------------------


def test_worker_sends_text_html_and_attachment_with_working_links(app, smtp, link_purpose, templates, login):
    minter = tokens.Minter()  # the attachment is built with the message's own marker
    ics = ICS.replace("{link}", minter.marker(tokens.LinkRef(link_purpose, 7)))
    message = outbox.queue_email(
        "Ada Lovelace <ada@example.com>",
        "Book your call",
        "t_link",
        {"name": "Ada", "link": tokens.LinkRef(link_purpose, 7)},
        attachments=[{"filename": "invite.ics", "mimetype": "text/calendar", "content": ics}],
        kind="booking_link",
        minter=minter,
    )
    db.session.commit()
    real_url = tokens.url(link_purpose, SALT)
    assert real_url.startswith("http://127.0.0.1:5000/mailtest/") and "•" not in real_url

    assert outbox.send_due(10) == 1
    assert len(smtp.messages) == 1
    sent = smtp.messages[0]
    assert smtp.envelopes == [("noreply@localhost", ["ada@example.com"])]
    assert sent["Subject"] == "Book your call"
    assert sent["To"] == "Ada Lovelace <ada@example.com>"
    assert sent["Message-ID"] == message.message_id
    text = sent.get_body(("plain",)).get_content()
    html = sent.get_body(("html",)).get_content()
    assert f"book here: {real_url}" in text
    assert f'<a href="{real_url}">book here</a>' in html
    [part] = list(sent.iter_attachments())
    assert part.get_filename() == "invite.ics" and part.get_content_type() == "text/calendar"
    ics = part.get_content()
    assert "SUMMARY:Intro call – café" in ics and f"URL:{real_url}" in ics

    stored = reload(message)
    assert stored.status == "sent" and stored.attempts == 1 and stored.sent_at is not None
    assert stored.locked_by is None and stored.last_error == ""
    # The stored copy keeps the marker; every view of it shows the link redacted.
    assert f"⟦mailtest:7:{stored.link_nonce}⟧" in stored.text_body and real_url not in stored.html_body
    assert stored.secret_links == [["mailtest", 7]]
    token = real_url.rsplit("/", 1)[1]
    for path in (f"/mail/{message.id}", f"/mail/{message.id}/html", f"/mail/{message.id}/attachments/0", "/mail/"):
        page = login.get(path)
        assert page.status_code == 200, path
        assert token not in page.text, path
    assert "book here: http://127.0.0.1:5000/mailtest/••••••••" in login.get(f"/mail/{message.id}").text
    assert 'href="http://127.0.0.1:5000/mailtest/••••••••"' in login.get(f"/mail/{message.id}/html").text
    assert "URL:http://127.0.0.1:5000/mailtest/••••••••" in login.get(f"/mail/{message.id}/attachments/0").text


def test_a_link_whose_object_is_gone_is_not_sent_as_a_token(app, smtp, link_purpose, templates):
    outbox.queue_email("ada@example.com", "Hi", "t_link", {"name": "Ada", "link": tokens.LinkRef(link_purpose, 8)})
    db.session.commit()
    drain()
    text = smtp.messages[0].get_body(("plain",)).get_content()
    assert f"book here: {GONE}" in text and "/mailtest/" not in text


def test_delivering_a_batch_looks_its_links_up_in_one_query(app, smtp, monkeypatch, templates):
    asked = []
    monkeypatch.setattr(tokens, "_PURPOSES", dict(tokens._PURPOSES))
    found = (SALT, tokens.stored_digest(SALT))
    tokens.register("mailtest", "/mailtest/", lambda ids: asked.append(ids) or dict.fromkeys(ids, found), GONE)
    ids = []
    for n in range(4):
        message = outbox.queue_email(
            f"ada{n}@example.com", "Hi", "t_link", {"name": "Ada", "link": tokens.LinkRef("mailtest", 10 + n % 2)}
        )
        db.session.flush()
        ids.append(message.id)
    db.session.commit()
    assert set(outbox.deliver_now(ids).values()) == {"sent"}
    assert asked == [[10, 11]] and len(smtp.messages) == 4
    token = tokens.make_token("mailtest", SALT)
    assert all(token in message.get_body(("plain",)).get_content() for message in smtp.messages)


def test_delivering_a_batch_reads_no_message_twice(app, smtp):
    """The claim's UPDATE … RETURNING loads the messages; sending them reads none of them again."""
    ids = [queue(to=f"ada{n}@example.com").id for n in range(5)]
    with statements_run() as statements:
        assert set(outbox.deliver_now(ids).values()) == {"sent"}
    reads = [s for s in statements if s.startswith("SELECT") and "outbox_messages" in s]
    assert reads == [] and len(smtp.messages) == 5
    assert {reload(db.session.get(OutboxMessage, i)).status for i in ids} == {"sent"}


def test_without_a_mail_server_messages_are_held_and_shown(app, login):
    assert app.config["MAIL_SERVER"] == ""
    message = queue(subject="Held for later")
    assert outbox.send_due(10) == 1
    held = reload(message)
    assert held.status == "held" and held.last_error == "not sent: no mail server configured"
    assert held.attempts == 0 and held.locked_by is None
    # Held is not a retry loop: the worker leaves it alone.
    assert outbox.send_due(10) == 0
    listing = login.get("/mail/").text
    assert "Held for later" in listing and "badge-mail-held" in listing
    assert "not sent: no mail server configured" in listing
    assert "No mail server is set." in listing
    page = login.get(f"/mail/{message.id}").text
    assert "not sent: no mail server configured" in page and "Retry now" in page


def test_refused_twice_then_accepted_arrives_exactly_once(app, smtp):
    app.config["MAIL_RETRY_DELAYS"] = [0, 0, 0, 0]
    smtp.refuse(2)
    message = queue()
    assert drain() == 3
    assert len(smtp.refusals) == 2 and len(smtp.messages) == 1
    sent = reload(message)
    assert sent.status == "sent" and sent.attempts == 3 and sent.last_error == ""


def test_backoff_schedule_then_failed_with_the_smtp_error(app, smtp):
    smtp.refuse(100)
    message = queue()
    for attempt, delay in enumerate([60, 300, 1800, 7200], start=1):
        before = utcnow()
        assert outbox.send_due(10) == 1
        waiting = reload(message)
        assert waiting.status == "pending" and waiting.attempts == attempt
        assert waiting.last_error == "451 4.3.0 Mailbox busy, try again later"
        assert before + timedelta(seconds=delay) <= waiting.next_attempt_at <= utcnow() + timedelta(seconds=delay)
        assert outbox.send_due(10) == 0, "not due before its next attempt"
        make_due(message)
    assert outbox.send_due(10) == 1
    failed = reload(message)
    assert failed.status == "failed" and failed.attempts == 5
    assert failed.last_error == "451 4.3.0 Mailbox busy, try again later"
    assert len(smtp.refusals) == 5 and smtp.messages == []
    assert outbox.send_due(10) == 0


def test_a_permanent_refusal_fails_at_once(app, smtp):
    smtp.refuse(1, "550 5.1.1 No such user here")
    message = queue()
    outbox.send_due(10)
    failed = reload(message)
    assert failed.status == "failed" and failed.attempts == 1
    assert failed.last_error == "550 5.1.1 No such user here"


def test_a_refused_connection_is_retried(app):
    port = free_port()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SUPPRESS_SEND=False)
    message = queue()
    assert outbox.send_due(10) == 1
    waiting = reload(message)
    assert waiting.status == "pending" and waiting.attempts == 1
    assert waiting.last_error == f"cannot connect to 127.0.0.1:{port}: Connection refused"


def test_a_silent_server_times_out_once_for_the_whole_batch(app):
    """A server that accepts but never greets: one timeout fails the batch, not one timeout per message."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = []
    listener.settimeout(0.1)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                accepted.append(listener.accept()[0])

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        port = listener.getsockname()[1]
        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port, MAIL_SUPPRESS_SEND=False, MAIL_TIMEOUT=0.5)
        messages = [queue(), queue(), queue()]
        assert outbox.send_due(10) == 3
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert len(accepted) == 1
    for message in messages:
        waiting = reload(message)
        assert waiting.status == "pending" and waiting.attempts == 1
        assert waiting.last_error == f"cannot connect to 127.0.0.1:{port}: Connection unexpectedly closed: timed out"


def test_admin_retry_of_a_failed_message(app, smtp, login):
    app.config["MAIL_RETRY_DELAYS"] = []
    smtp.refuse(1)
    message = queue(subject="Try again")
    drain()
    assert reload(message).status == "failed"
    page = login.get(f"/mail/{message.id}").text
    assert "Retry now" in page and f'action="/mail/{message.id}/retry"' in page
    response = login.post(f"/mail/{message.id}/retry")
    assert response.status_code == 303 and response.location == f"/mail/{message.id}"
    queued = reload(message)
    assert queued.status == "pending" and queued.next_attempt_at <= utcnow()
    assert "back in the queue" in login.get(f"/mail/{message.id}").text
    assert drain() == 1
    sent = reload(message)
    assert sent.status == "sent" and sent.attempts == 2 and len(smtp.messages) == 1
    # A sent message is never sent again by a retry.
    assert outbox.retry(sent) is False
    login.post(f"/mail/{message.id}/retry")
    assert reload(message).status == "sent"
    assert "Retry now" not in login.get(f"/mail/{message.id}").text


def test_retry_from_the_list_keeps_the_filter(app, login):
    message = queue()
    outbox.send_due(10)
    response = login.post(f"/mail/{message.id}/retry", data={"back": "list", "status": "held"})
    assert response.status_code == 303 and response.location == "/mail/?status=held"
    assert reload(message).status == "pending"


# --- claims --------------------------------------------------------------------------------------


def test_an_expired_claim_is_picked_up_again(app, smtp):
    message = queue()
    assert outbox.claim(10, "crashed-worker") == [message.id]
    # The crashed worker's lease still holds: nobody else sends the message.
    assert outbox.send_due(10) == 0 and smtp.messages == []
    db.session.execute(
        update(OutboxMessage).values(locked_until=utcnow() - timedelta(seconds=1)),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    assert outbox.send_due(10) == 1
    assert len(smtp.messages) == 1 and reload(message).status == "sent"


def test_a_claim_that_ran_out_mid_batch_is_not_sent(app, smtp):
    """A batch so slow that a claim expired: that message is left for the next claim, not sent blindly."""
    message = queue()
    worker = outbox.worker_id()
    outbox.claim(10, worker)
    db.session.execute(
        update(OutboxMessage).values(locked_until=utcnow() - timedelta(seconds=1)),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    outbox._send_one(sender.Sender(), message.id, worker)
    assert smtp.messages == [] and reload(message).status == "pending"
    assert outbox.send_due(10) == 1 and len(smtp.messages) == 1


def test_a_claim_lasts_the_lease(app):
    app.config["WORKER_LEASE_SECONDS"] = 120
    message = queue()
    before = utcnow()
    outbox.claim(10, "w1")
    claimed = reload(message)
    assert claimed.locked_by == "w1"
    assert before + timedelta(seconds=120) <= claimed.locked_until <= utcnow() + timedelta(seconds=120)


def test_the_conditional_update_lets_one_claimer_win(app):
    """Two workers saw the same candidates; only the first UPDATE of each row counts."""
    ids = [queue().id for _ in range(3)]
    assert outbox.take(ids, "worker-a") == ids
    assert outbox.take(ids, "worker-b") == []
    assert {m.locked_by for m in db.session.scalars(select(OutboxMessage))} == {"worker-a"}


def test_concurrent_claimers_never_share_a_message(app):
    ids = {queue().id for _ in range(40)}
    db.session.remove()
    claims: dict[str, list[int]] = {}
    errors = []
    start = threading.Barrier(4)

    def claimer(name):
        with app.app_context():
            try:
                start.wait()
                taken = claims.setdefault(name, [])
                while batch := outbox.claim(3, name):
                    taken.extend(batch)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    every = [i for taken in claims.values() for i in taken]
    assert sorted(every) == sorted(ids), "each message claimed exactly once"


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only (TEST_DATABASE_URL)")
def test_postgres_claim_skips_rows_another_worker_holds(app):
    ids = [queue().id for _ in range(5)]
    with db.engine.connect() as other, other.begin():
        held = list(
            other.scalars(
                select(OutboxMessage.id).order_by(OutboxMessage.id).limit(2).with_for_update(skip_locked=True)
            )
        )
        assert held == ids[:2]
        # The other worker has not committed its claim yet: its rows are skipped, not waited for.
        assert outbox.claim(10, "w2") == ids[2:]
        assert outbox.claim(10, "w3") == []


def test_worker_once_command_sends_what_is_due(app, smtp):
    for n in range(3):
        queue(to=f"user{n}@example.com")
    db.session.remove()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert sorted(rcpt for _, [rcpt] in smtp.envelopes) == [f"user{n}@example.com" for n in range(3)]
    assert db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == 3


# --- pages ---------------------------------------------------------------------------------------


def test_pages_need_login(client, app):
    message = queue()
    for path in ("/mail/", f"/mail/{message.id}", f"/mail/{message.id}/html", f"/mail/{message.id}/attachments/0"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location, path
    assert client.post(f"/mail/{message.id}/retry").status_code == 302
    assert client.post("/mail/test", data={"to": "a@example.com"}).status_code == 302


def test_empty_list_explains_itself(login):
    html = login.get("/mail/").text
    assert "No mail yet" in html
    assert "once bookings are made" in html
    assert "Without a mail server (<code>MAIL_SERVER</code>), messages are kept here unsent" in html


def test_nav_links_to_sent_mail(login):
    html = login.get("/mail/").text
    assert '<a href="/mail/" aria-current="page">Sent mail</a>' in html


def test_list_shows_columns_and_filters_by_status(app, smtp, login):
    app.config["MAIL_RETRY_DELAYS"] = []
    sent = queue(to="sent@example.com", subject="Went out", kind="booking_confirmation")
    drain()
    smtp.refuse(1)
    failed = queue(to="failed@example.com", subject="Bounced")
    drain()
    pending = queue(to="pending@example.com", subject="Waiting")
    html = login.get("/mail/").text
    for text in ("sent@example.com", "Went out", "booking confirmation", "failed@example.com", "Waiting"):
        assert text in html
    assert "451 4.3.0 Mailbox busy, try again later" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html) and 'style="' not in html
    assert html.index("Waiting") < html.index("Bounced") < html.index("Went out"), "newest first"
    assert re.search(r'aria-current="page">All\s*<span class="count">3</span>', html)
    only_failed = login.get("/mail/?status=failed").text
    assert "Bounced" in only_failed and "Went out" not in only_failed and "Waiting" not in only_failed
    assert f'action="/mail/{failed.id}/retry"' in only_failed
    assert f'action="/mail/{sent.id}/retry"' not in html and f'action="/mail/{pending.id}/retry"' not in html
    assert "No held messages" in login.get("/mail/?status=held").text
    assert "Waiting" in login.get("/mail/?status=bogus").text, "an unknown status shows everything"


def test_filter_by_htmx_returns_the_fragment(app, login, hx):
    queue(subject="Fragment me")
    response = login.get("/mail/?status=pending", headers=hx)
    assert response.status_code == 200 and "Fragment me" in response.text
    assert "<html" not in response.text and "Send a test email" not in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_list_pages(app, login):
    app.config["PAGE_SIZE"] = 2
    for n in range(5):
        queue(subject=f"Message {n}")
    first = login.get("/mail/").text
    assert "Message 4" in first and "Message 3" in first and "Message 2" not in first
    older = re.search(r'href="(/mail/\?after=[^"]+)" hx-get="[^"]+" rel="next">Older', first)
    assert older and "Message 2" in login.get(html.unescape(older[1])).text
    assert re.search(r'href="/mail/\?after=[^"&]+&amp;status=pending"', login.get("/mail/?status=pending").text)
    assert "Message 4" in login.get("/mail/?page=3").text  # an old numbered address shows the first page


def test_message_page_shows_headers_text_attachments_and_framed_html(app, login):
    message = queue(
        subject="All the parts",
        attachments=[{"filename": "invite.ics", "mimetype": "text/calendar", "content": "BEGIN:VCALENDAR\r\n"}],
    )
    html = login.get(f"/mail/{message.id}").text
    assert "All the parts" in html and "ada@example.com" in html
    assert "OneSlot &lt;noreply@localhost&gt;" in html
    assert message.message_id.replace("<", "&lt;").replace(">", "&gt;") in html
    assert '<pre class="mail-text">This is a test email from OneSlot.' in html
    assert f'<iframe class="mail-html" src="/mail/{message.id}/html" sandbox' in html
    assert f'href="/mail/{message.id}/attachments/0" download>invite.ics</a>' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert not re.search(r"\son[a-z]+=", html) and 'style="' not in html
    download = login.get(f"/mail/{message.id}/attachments/0")
    assert download.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert download.headers["Content-Disposition"] == "attachment; filename=invite.ics"
    assert download.text == "BEGIN:VCALENDAR\r\n"
    assert login.get(f"/mail/{message.id}/attachments/1").status_code == 404
    assert login.get("/mail/999999").status_code == 404


def test_html_part_has_its_own_strict_headers(app, login):
    message = queue()
    response = login.get(f"/mail/{message.id}/html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox")
    assert "frame-ancestors 'self'" in csp and "script-src" not in csp
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "test email from OneSlot" in response.text
    # The page around it keeps the app's own policy.
    page = login.get(f"/mail/{message.id}")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


def test_test_email_form_defaults_to_the_admin_and_queues_a_message(app, login, admin):
    form = login.get("/mail/").text
    assert f'value="{admin.email}"' in form and 'action="/mail/test"' in form
    response = login.post("/mail/test", data={"to": "ops@example.com"})
    message = db.session.scalars(select(OutboxMessage)).one()
    assert response.status_code == 303 and response.location == f"/mail/{message.id}"
    assert message.kind == "test" and message.to_addr == "ops@example.com" and message.status == "pending"
    assert "MAIL_SERVER is not set" in login.get(response.location).text


def test_test_email_to_a_bad_address_is_refused(app, login):
    response = login.post("/mail/test", data={"to": "nobody"})
    assert response.status_code == 422
    assert "Enter a valid email address." in response.text
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_test_email_goes_out_through_the_worker(app, smtp, login):
    login.post("/mail/test", data={"to": "ops@example.com"})
    drain()
    [sent] = smtp.messages
    assert sent["Subject"] == "OneSlot test email"
    assert f"through {smtp.host}" in sent.get_body(("plain",)).get_content()
