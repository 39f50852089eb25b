"""The sender: SMTP connections (one per batch, verified TLS, a timeout) and the MIME writing of an
outbox row into the bytes that go on the wire. What to send, when, and what a failure means for the
row is the outbox's business (outbox.py)."""

import functools
import smtplib
import socket
import ssl
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email import policy
from email.charset import QP, Charset
from email.generator import BytesGenerator
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr
from io import BytesIO

from flask import current_app
from flask_mail import Connection, Message

from webapp import tokens
from webapp.branding import services as branding
from webapp.extensions import mail
from webapp.mail.models import OutboxMessage


class ConnectError(OSError):
    """The SMTP server could not be reached, or refused the greeting, STARTTLS or login."""


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The verified TLS context, built once: loading the system's CA certificates takes ~0.1 s."""
    return ssl.create_default_context()


# The SMTP sessions open in this process, for interrupt_sends().
_open_hosts: "weakref.WeakSet[smtplib.SMTP]" = weakref.WeakSet()


def interrupt_sends() -> None:
    """Cut every SMTP session of this process (from another thread): a send blocked on a silent server
    fails at once instead of after MAIL_TIMEOUT. The worker calls it when a stop is overdue."""
    for host in list(_open_hosts):
        sock = getattr(host, "sock", None)
        if sock is not None:
            with suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # the plain socket's: under TLS too


class _Connection(Connection):
    """Flask-Mail's connection with a timeout (a silent server must not hang the worker) and verified TLS."""

    def configure_host(self):
        timeout = current_app.config.get("MAIL_TIMEOUT", 30)
        if self.mail.use_ssl:
            host = smtplib.SMTP_SSL(timeout=timeout, context=_tls_context())
        else:
            host = smtplib.SMTP(timeout=timeout)
        _open_hosts.add(host)  # before connecting: a server that never greets can be cut too
        host._host = self.mail.server  # as SMTP(server, port) sets it: STARTTLS and SMTPS verify the certificate for it
        code, greeting = host.connect(self.mail.server, self.mail.port)
        if code != 220:  # what smtplib.SMTP(server, port) checks
            host.close()
            raise smtplib.SMTPConnectError(code, greeting)
        host.set_debuglevel(int(self.mail.debug))
        if self.mail.use_tls:
            host.starttls(context=_tls_context())
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host


class Sender:
    """One SMTP connection for a batch, reopened after an error; a failed connect fails the whole batch."""

    def __init__(self):
        self.connection: _Connection | None = None
        self.connect_error: Exception | None = None

    def send(self, message: Message) -> None:
        if self.connect_error:
            raise self.connect_error
        if self.connection is None:
            # Read the settings now, not at start-up: tests and a re-configured app see the current ones.
            state = mail.init_mail(current_app.config, current_app.debug, current_app.testing)
            try:
                self.connection = _Connection(state).__enter__()  # type: ignore[arg-type]  # Flask-Mail types it Mail; it reads _Mail's settings
            except (smtplib.SMTPException, OSError) as exc:
                where = f"{state.server}:{state.port}"
                self.connect_error = ConnectError(f"cannot connect to {where}: {describe_error(exc)}")
                raise self.connect_error from exc
        try:
            self.connection.send(message)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.connection is not None and self.connection.host is not None:
            # The message was accepted before QUIT: a failing QUIT must not count as a failed send.
            with suppress(smtplib.SMTPException, OSError):
                self.connection.host.quit()
        self.connection = None


_local = threading.local()


@contextmanager
def connection() -> Iterator[Sender]:
    """One SMTP connection for every message sent inside the block (opened at the first send, closed at the end).

    The worker wraps a batch in it, so the engine's Send Email steps and the outbox share one connection.
    """
    current = getattr(_local, "sender", None)
    if current is not None:  # nested: the outer block owns the connection
        yield current
        return
    _local.sender = Sender()
    try:
        yield _local.sender
    finally:
        _local.sender.close()
        _local.sender = None


def content_type(mimetype: str) -> str:
    """A stored mimetype as a Content-Type header: text gets charset=utf-8."""
    # Flask-Mail splits the type on "/" into MIMEBase(maintype, "subtype; params").
    if mimetype.count("/") != 1:
        mimetype = "application/octet-stream"
    if mimetype.startswith("text/") and "charset" not in mimetype:
        mimetype += "; charset=utf-8"
    return mimetype


def _from_address(from_name: str, from_addr: str = "") -> str:
    """The message's sender name and address (queued: a workflow's, a calendar's or the branding's),
    each in place of MAIL_DEFAULT_SENDER's when set."""
    default = current_app.config["MAIL_DEFAULT_SENDER"]
    if not from_name and not from_addr:
        return default
    name, address = parseaddr(default)
    return formataddr((from_name or name, from_addr or address))


class _SMTPWriting(policy.Compat32):
    """Writes a message exactly as email.policy.SMTP does (its header folding, CRLF line ends), but reads
    headers the compat32 way. Flask-Mail builds compat32 MIME parts and serialises them under
    policy.SMTP, which parses a header into a structured object each time the generator reads it: half
    of the cost of a message. Folding is delegated to policy.SMTP, so the bytes are the same
    (tests/integration/mail/test_mail.py compares them)."""

    linesep = "\r\n"
    mangle_from_ = False

    def fold(self, name, value):
        return policy.SMTP.fold(name, value)

    def fold_binary(self, name, value):
        return policy.SMTP.fold_binary(name, value)


SMTP_WRITING = _SMTPWriting()


class _Writer(BytesGenerator):
    """The standard generator, except that a new MIME boundary is checked against the parts with a
    substring test instead of a regular expression compiled for each (random) boundary. A boundary
    found anywhere in the parts is replaced, not only one on a line of its own: at least as safe."""

    @classmethod
    def _make_boundary(cls, text=None):
        boundary = super()._make_boundary()  # random, unchecked
        if text is None:
            return boundary
        candidate, counter = boundary, 0
        while (b"--" + candidate.encode() if isinstance(text, bytes) else "--" + candidate) in text:
            candidate, counter = f"{boundary}.{counter}", counter + 1
        return candidate


_QUOTED_PRINTABLE = Charset("utf-8")
_QUOTED_PRINTABLE.body_encoding = QP
MAX_LINE_OCTETS = 998  # RFC 5321: a server refuses longer lines ("500 Line too long")


ITIP_TYPE = "text/calendar"
ITIP_FILE_TYPE = "application/ics"


def itip_method(mimetype: str) -> str | None:
    """The iTIP method of a stored attachment's mimetype ("text/calendar; method=REQUEST"), or None."""
    kind, _, params = mimetype.partition(";")
    if kind.strip().lower() != ITIP_TYPE:
        return None
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "method" and value.strip().isalpha():
            return value.strip().upper()
    return None


class OutgoingMessage(Message):
    """Flask-Mail's message, serialised without re-parsing its headers (see _SMTPWriting and _Writer).

    An iTIP invitation (set_invitation) goes in twice, as Google Calendar and Thunderbird send one and
    Outlook reads one: a `text/calendar; method=…` part beside the text and HTML in the
    multipart/alternative (the first child of multipart/mixed, where Outlook looks), and the same
    file as an `application/ics` attachment for clients that only offer attachments.
    """

    itip: tuple[str, str] | None = None  # (method, iCalendar text)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Images the HTML shows by Content-ID (the branding's logo): (cid, mimetype, bytes).
        self.related: list[tuple[str, str, bytes]] = []

    def set_invitation(self, method: str, content: str, filename: str) -> None:
        self.itip = (method, content)
        self.alts["calendar"] = content
        self.attach(filename, ITIP_FILE_TYPE, content.encode())

    def _mimetext(self, text, subtype="plain"):
        # Flask-Mail sends UTF-8 text as 8bit, line by line; a part with a longer line (a 2,000-character
        # cancel reason typed on one line) goes quoted-printable, which wraps it losslessly.
        if subtype == "calendar" and self.itip is not None:
            part = MIMEText(text, _subtype="calendar", _charset="utf-8")
            part.replace_header("Content-Type", f"text/calendar; method={self.itip[0]}; charset=UTF-8")
            return part
        if text and any(len(line.encode()) > MAX_LINE_OCTETS for line in text.splitlines()):
            return MIMEText(text, _subtype=subtype, _charset=_QUOTED_PRINTABLE)
        return super()._mimetext(text, subtype)

    def _message(self):
        """Flask-Mail's message; with inline images, its HTML part becomes a multipart/related of the
        HTML and the images, as mail clients expect for `cid:` references."""
        message = super()._message()
        if self.related and self.html:
            alternative = message.get_payload()[0]  # multipart/mixed: the alternative comes first
            parts = alternative.get_payload()
            for index, part in enumerate(parts):
                if part.get_content_type() == "text/html":
                    related = MIMEMultipart("related")
                    related.attach(part)
                    for cid, mimetype, data in self.related:
                        image = MIMEImage(data, _subtype=mimetype.partition("/")[2])
                        image.add_header("Content-ID", f"<{cid}>")
                        image.add_header("Content-Disposition", "inline", filename="logo." + mimetype.partition("/")[2])
                        related.attach(image)
                    parts[index] = related
                    break
        return message

    def as_bytes(self) -> bytes:
        out = BytesIO()
        _Writer(out, mangle_from_=False, policy=SMTP_WRITING).flatten(self._message())
        return out.getvalue()


def build_message(message: OutboxMessage, urls: dict | None = None) -> Message:
    """The email as sent: the message's own markers become working URLs here, and only here.

    `urls`: the links' URLs already looked up (tokens.load) for a batch of messages."""
    urls = tokens.load(message.secret_links or [], urls)
    minter = message.minter
    sent = OutgoingMessage(
        subject=message.subject,
        recipients=[message.to_addr],
        body=minter.resolve(message.text_body, urls),
        html=minter.resolve(message.html_body, urls) if message.html_body else None,
        sender=_from_address(message.from_name, message.from_addr),
        reply_to=message.reply_to or None,
    )
    sent.msgId = message.message_id
    if sent.html and f'src="cid:{branding.LOGO_CID}"' in sent.html:
        brand = branding.current()
        # Today's logo (one query per version and process); a logo removed since leaves the alt text.
        logo = branding.logo_bytes(brand.version) if brand.has_logo else None
        if logo is not None:
            sent.related.append((branding.LOGO_CID, logo[1], logo[0]))
    for item in message.attachments or []:
        content = minter.resolve(item["content"], urls)
        method = itip_method(item["mimetype"])
        if method is not None and sent.itip is None:
            sent.set_invitation(method, content, item["filename"])
        else:
            sent.attach(item["filename"], content_type(item["mimetype"]), content.encode())
    return sent


def describe_error(exc: Exception) -> str:
    """What went wrong, as the SMTP server said it: '451 4.3.0 Try again later'."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{code} {reply.decode(errors='replace')} ({addr})" for addr, (code, reply) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{exc.smtp_code} {reply}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
