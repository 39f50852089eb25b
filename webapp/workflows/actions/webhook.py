"""Outgoing webhook: POST a JSON body built from custom values to a URL, signed with HMAC-SHA256.

Headers: `X-OneSlot-Signature: sha256=<hex of HMAC-SHA256(secret, exact body bytes)>` and
`X-OneSlot-Delivery: <enrolment id>-<step id>` (the same on every retry, so receivers can drop
duplicates). Only http(s); never a link-local or unspecified address, nor the app itself
(BASE_URL's host and port): checked at save for a literal host, and at run time on the addresses
the name resolves to, which are then the ones connected to (no second lookup to trick).
Redirects are not followed. A non-2xx answer or a network error raises StepError: the engine
retries with backoff, then fails the enrolment with the reason.

http.client (the standard library under urllib) rather than requests: it lets the connection go
to the vetted address while TLS still checks the certificate for the host name.
"""

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
from urllib.parse import urlsplit

from flask import current_app
from wtforms import StringField, TextAreaField

from webapp import tokens
from webapp.workflows import merge
from webapp.workflows.formkit import StepForm, text

TYPE = "webhook"
EXTERNAL = True  # run() POSTs to another system: never in a batch transaction that might roll back
CATEGORY = "Integrations"
LABEL = "Outgoing webhook"
DEFAULT_BODY = """{
  "workflow": "{{ workflow.name }}",
  "contact": {
    "email": "{{ contact.email }}",
    "first_name": "{{ contact.first_name }}",
    "last_name": "{{ contact.last_name }}"
  }
}
"""
DEFAULTS = {"url": "", "body": DEFAULT_BODY, "secret": ""}
OUTPUTS: dict[str, str] = {}
URL_MAX = 2000
BODY_MAX = 20_000
RESPONSE_MAX = 1024  # bytes of the answer kept in the step run
DEFAULT_TIMEOUT = 10  # seconds; config WEBHOOK_TIMEOUT
# A sample value with a quote, a backslash and a line break: a value put in the body without quotes,
# or anything else that only works for tame values, fails the JSON check at save.
SAMPLE = 'Sample "value" \\ with\na line break'


class WebhookForm(StepForm):
    cv_fields = ("body",)
    url = StringField("URL", render_kw={"placeholder": "https://example.com/hooks/oneslot", "spellcheck": "false"})
    body = TextAreaField("JSON body", render_kw={"rows": 10, "data-cv-field": "", "spellcheck": "false"})

    def config(self) -> dict:
        # The secret is not a field: it stays as generated (or regenerated) and is never sent to the page.
        return {
            "url": text(self.url),
            "body": self.body.data or "",
            "secret": (self.step.get("config") or {}).get("secret", ""),
        }


FORM = WebhookForm


def new_secret() -> str:
    """A signing secret: 256 bits, hex."""
    return secrets.token_hex(32)


def new_config() -> dict:
    """A new step's config, with its own secret."""
    return {**DEFAULTS, "secret": new_secret()}


# --- addresses -------------------------------------------------------------------------------------


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def address_problem(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a webhook may not go to this address, or None (loopback is allowed)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    if ip.is_unspecified:
        return f"{ip} is an unspecified address"
    if ip.is_link_local:
        return f"{ip} is a link-local address"
    return None


def _app_address() -> tuple[str, int]:
    parts = urlsplit(current_app.config["BASE_URL"])
    return (parts.hostname or "").lower(), _port(parts)


def url_errors(url: str) -> str | None:
    """Why a URL cannot be a webhook's, judged without DNS (a literal address is checked here)."""
    if not url:
        return "Enter the URL to POST to."
    if len(url) > URL_MAX:
        return f"The URL is longer than {URL_MAX} characters."
    try:
        parts = urlsplit(url)
        port = _port(parts)
    except ValueError:
        return "That is not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http:// and https:// URLs can receive a webhook."
    if not parts.hostname:
        return "The URL needs a host, e.g. https://example.com/hook."
    if parts.username or parts.password:
        return "Leave the user name and password out of the URL: the signature proves who is calling."
    if (parts.hostname.lower(), port) == _app_address():
        return "A webhook cannot call OneSlot itself."
    try:
        ip = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return None  # a name: checked after resolving it, when the step runs
    if problem := address_problem(ip):
        return f"{problem}: webhooks cannot reach it."
    return None


def vetted_addresses(host: str, port: int) -> list[tuple]:
    """Resolve the host and check every address; returns (family, sockaddr) pairs to connect to."""
    from webapp.workflows.actions import StepError

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise StepError(f"Could not resolve {host}: {exc}") from None
    app_host, app_port = _app_address()
    app_ips = set()
    if port == app_port:
        try:
            app_ips = {info[4][0] for info in socket.getaddrinfo(app_host, app_port, type=socket.SOCK_STREAM)}
        except OSError:
            app_ips = set()
    vetted = []
    for family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if problem := address_problem(ip):
            raise StepError(f"{host} resolves to {problem}: webhooks cannot reach it.", permanent=True)
        if sockaddr[0] in app_ips:
            raise StepError(f"{host}:{port} is OneSlot itself: a webhook cannot call it.", permanent=True)
        vetted.append((family, sockaddr))
    return vetted


# --- saving ----------------------------------------------------------------------------------------


def sample_values(earlier_steps) -> dict:
    """Values shaped like a real enrolment's, each one awkward for JSON, to test-render a body at save."""
    from webapp.workflows.actions import outputs_of

    steps = {}
    for step in earlier_steps:
        if step.get("key"):
            steps[step["key"]] = dict.fromkeys(outputs_of(step), SAMPLE)
    return {
        "contact": dict.fromkeys(merge.CONTACT_VALUES, SAMPLE),
        "calendar": {"name": SAMPLE, "duration": 30},
        "steps": steps,
        "workflow": dict.fromkeys(merge.WORKFLOW_VALUES, SAMPLE),
    }


def body_error(body: str, earlier_steps, later_steps, trigger_type) -> str | None:
    """Custom values known and earlier; rendered with sample values, the body must be JSON."""
    if not body.strip():
        return "Write the JSON body to send."
    if len(body) > BODY_MAX:
        return f"The body is longer than {BODY_MAX} characters."
    calendar = merge.has_calendar(earlier_steps, trigger_type)
    if problems := merge.check(body, earlier_steps, later_steps=later_steps, calendar=calendar):
        return "; ".join(problems)
    rendered = merge.render_json(body, sample_values(earlier_steps))
    try:
        json.loads(rendered)
    except json.JSONDecodeError as exc:
        return (
            f"The body is not valid JSON once values are inserted: {exc.msg} (line {exc.lineno}, column {exc.colno}). "
            'Each value is inserted as text: put it inside quotes, e.g. "{{ contact.email }}".'
        )
    return None


def validate(config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
    """An http(s) URL that may be called; a body that is JSON with values inserted; a secret."""
    errors = {}
    if problem := url_errors((config.get("url") or "").strip()):
        errors["url"] = problem
    if problem := body_error(config.get("body") or "", earlier_steps, later_steps, trigger_type):
        errors["body"] = problem
    if not config.get("secret"):
        errors["secret"] = "The webhook has no signing secret: make a new one."
    return errors


def custom_values(step) -> list[tuple[str, str]]:
    """A webhook offers no values to later steps."""
    return []


# --- running ---------------------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """The X-OneSlot-Signature header's value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _connection(parts, addresses, timeout: float) -> http.client.HTTPConnection:
    """A connection to the URL's host that only ever connects to the vetted addresses."""
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, _port(parts), timeout=timeout)

    def connect_vetted(_address, timeout=None, source_address=None):
        last = None
        for family, sockaddr in addresses:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                last = exc
        raise last or OSError("no address to connect to")

    # http.client connects through this hook (TLS then wraps the socket for the host name).
    conn._create_connection = connect_vetted
    return conn


def post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int, str]:
    """POST once; returns the status and the first RESPONSE_MAX bytes of the answer (as text)."""
    parts = urlsplit(url)
    addresses = vetted_addresses(parts.hostname, _port(parts))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _connection(parts, addresses, timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read(RESPONSE_MAX).decode("utf-8", "replace")
    finally:
        conn.close()


def run(ctx) -> dict:
    """Build the body, sign it and POST it; a non-2xx answer or a network error raises StepError (retried)."""
    from webapp.workflows.actions import StepError

    config = ctx.config
    url = (config.get("url") or "").strip()
    if problem := url_errors(url):
        raise StepError(problem, permanent=True)
    minter = tokens.Minter()  # the body's own links become URLs; marker-like text from contacts stays text
    text = merge.render_json(config.get("body") or "", minter.fill(ctx.values))
    body = minter.resolve(text, tokens.load(minter.links)).encode()
    delivery = f"{ctx.enrolment.id}-{ctx.step.get('id', '')}"
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "OneSlot-Webhook/1",
        "X-OneSlot-Signature": signature(config.get("secret") or "", body),
        "X-OneSlot-Delivery": delivery,
    }
    timeout = current_app.config.get("WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT)
    try:
        status, answer = post(url, body, headers, timeout)
    except StepError:
        raise
    except (OSError, http.client.HTTPException) as exc:
        raise StepError(f"Could not reach {url}: {exc or type(exc).__name__}") from None
    if not 200 <= status < 300:
        raise StepError(f"HTTP {status} from {url}: {answer}")
    return {
        "url": url,
        "delivery": delivery,
        "status": status,
        "response": answer,
        "summary": f"HTTP {status} from {url}",
    }
