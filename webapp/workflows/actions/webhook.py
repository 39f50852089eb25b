"""Outgoing webhook: POST a JSON body built from custom values to a URL, signed with HMAC-SHA256.

Headers: `X-OneSlot-Signature: sha256=<hex of HMAC-SHA256(secret, exact body bytes)>` and
`X-OneSlot-Delivery: <enrolment id>-<step id>` (the same on every retry, so receivers can drop
duplicates). Where it may go is webapp.outbound's policy: public addresses only (unless
OUTBOUND_ALLOWED_NETWORKS allows more), never OneSlot itself; checked at save and import for a
literal host, and again when sending, on the addresses the name resolves to, which are then the
only ones connected to. Redirects are not followed. A non-2xx answer or a network error raises
StepError: the engine retries with backoff, then fails the enrolment with the reason.

The signing secret is stored sealed (webapp.secretbox, a key derived from SECRET_KEY): the step's
config holds the encrypted value, opened only to sign a request or to show it once when made.
"""

import hashlib
import hmac
import json
import secrets
from urllib.parse import urlsplit

from flask import current_app
from wtforms import StringField, TextAreaField

from webapp import outbound, secretbox, tokens
from webapp.workflows import merge
from webapp.workflows.actions.base import StepError, StepType, outputs_of
from webapp.workflows.formkit import StepForm, text

DEFAULT_BODY = """{
  "workflow": "{{ workflow.name }}",
  "contact": {
    "email": "{{ contact.email }}",
    "first_name": "{{ contact.first_name }}",
    "last_name": "{{ contact.last_name }}"
  }
}
"""
URL_MAX = 2000
BODY_MAX = 20_000
DEFAULT_TIMEOUT = 10  # seconds; config WEBHOOK_TIMEOUT
PURPOSE = "webhook signing secret"  # what the secretbox key is derived for
ALLOW_HINT = "Only public addresses are reached, unless OUTBOUND_ALLOWED_NETWORKS allows the network."
UNREADABLE = (
    "The signing secret cannot be read with the current SECRET_KEY (was the key changed?): "
    "make a new secret on the step, give it to the receiver and publish again."
)
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


def new_secret() -> str:
    """A new signing secret (256 bits, hex), as the config stores it: sealed."""
    return secretbox.seal(secrets.token_hex(32), PURPOSE)


def reveal(config) -> str | None:
    """The signing secret in clear, to sign with or to show once; None when it cannot be read
    (sealed under a SECRET_KEY that is no longer current nor in SECRET_KEY_FALLBACKS)."""
    try:
        return secretbox.unseal(config.get("secret") or "", PURPOSE)
    except secretbox.SecretUnreadable:
        return None


# --- addresses -------------------------------------------------------------------------------------


def url_errors(url: str) -> str | None:
    """Why a URL cannot be a webhook's, judged without DNS (a literal address is checked here)."""
    if not url:
        return "Enter the URL to POST to."
    if len(url) > URL_MAX:
        return f"The URL is longer than {URL_MAX} characters."
    if any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        return "The URL cannot contain spaces or control characters (write a space as %20)."
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "That is not a valid URL."
    if parts.scheme not in ("http", "https"):
        return "Only http:// and https:// URLs can receive a webhook."
    if not parts.hostname:
        return "The URL needs a host, e.g. https://example.com/hook."
    try:
        parts.hostname.encode("idna")
    except UnicodeError:
        return "That host name is not valid."
    if parts.username or parts.password:
        return "Leave the user name and password out of the URL: the signature proves who is calling."
    if problem := outbound.host_problem(parts.hostname, port):
        return refusal(problem)
    return None


def refusal(problem: str) -> str:
    """The message for a URL the outbound policy refuses, with what the admin can do about it."""
    if problem.endswith(outbound.ITSELF):
        return f"{problem}: a webhook cannot call it."
    return f"{problem}: webhooks cannot reach it. {ALLOW_HINT}"


# --- saving ----------------------------------------------------------------------------------------


def sample_values(earlier_steps) -> dict:
    """Values shaped like a real enrolment's, each one awkward for JSON, to test-render a body at save."""
    steps = {}
    for step in earlier_steps:
        if step.get("key"):
            steps[step["key"]] = dict.fromkeys(outputs_of(step), SAMPLE)
    return {
        "contact": dict.fromkeys(merge.CONTACT_VALUES, SAMPLE),
        "calendar": {"name": SAMPLE, "duration": 30},
        "steps": steps,
        "workflow": dict.fromkeys(merge.WORKFLOW_VALUES, SAMPLE),
        "booking": {**dict.fromkeys(merge.BOOKING_VALUES, SAMPLE), "host": dict.fromkeys(merge.HOST_VALUES, SAMPLE)},
    }


def body_error(body: str, earlier_steps, later_steps, trigger_type) -> str | None:
    """Custom values known and earlier; rendered with sample values, the body must be JSON."""
    if not body.strip():
        return "Write the JSON body to send."
    if len(body) > BODY_MAX:
        return f"The body is longer than {BODY_MAX} characters."
    calendar = merge.has_calendar(earlier_steps, trigger_type)
    if problems := merge.check(body, earlier_steps, later_steps=later_steps, calendar=calendar, outputs_of=outputs_of):
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


# --- running ---------------------------------------------------------------------------------------


def signature(secret: str, body: bytes) -> str:
    """The X-OneSlot-Signature header's value for a body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Webhook(StepType):
    TYPE = "webhook"
    CATEGORY = "Integrations"
    LABEL = "Outgoing webhook"
    DEFAULTS = {"url": "", "body": DEFAULT_BODY, "secret": ""}
    EXTERNAL = True  # run() POSTs to another system: never in a batch transaction that might roll back
    FORM = WebhookForm
    new_secret = staticmethod(new_secret)
    reveal = staticmethod(reveal)

    def new_config(self, earlier_steps=()) -> dict:
        """A new step's config, with its own secret."""
        return {**self.DEFAULTS, "secret": new_secret()}

    def secret_hint(self, config) -> str:
        """How the editor shows that a secret is set without revealing it: its last 4 characters (empty when
        there is none, or it cannot be read: the card then says so)."""
        if not config.get("secret"):
            return ""
        plain = reveal(config)
        return f"••••••••{plain[-4:]}" if plain else ""

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """An http(s) URL that may be called; a body that is JSON with values inserted; a secret."""
        errors = {}
        if problem := url_errors((config.get("url") or "").strip()):
            errors["url"] = problem
        if problem := body_error(config.get("body") or "", earlier_steps, later_steps, trigger_type):
            errors["body"] = problem
        if not config.get("secret"):
            errors["secret"] = "The webhook has no signing secret: make a new one."
        elif reveal(config) is None:
            errors["secret"] = UNREADABLE
        return errors

    def run(self, ctx) -> dict:
        """Build the body, sign it and POST it; a non-2xx answer or a network error raises StepError (retried)."""
        config = ctx.config
        url = (config.get("url") or "").strip()
        if problem := url_errors(url):
            raise StepError(problem, permanent=True)
        secret = reveal(config)
        if secret is None:
            raise StepError(UNREADABLE, permanent=True)
        minter = tokens.Minter()  # the body's own links become URLs; marker-like text from contacts stays text
        text = merge.render_json(config.get("body") or "", minter.fill(ctx.values))
        body = minter.resolve(text, tokens.load(minter.links)).encode()
        delivery = f"{ctx.enrolment.id}-{ctx.step.get('id', '')}"
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "OneSlot-Webhook/1",
            "X-OneSlot-Signature": signature(secret, body),
            "X-OneSlot-Delivery": delivery,
        }
        timeout = current_app.config.get("WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT)
        try:
            answer = outbound.request("POST", url, body=body, headers=headers, timeout=timeout)
        except outbound.Refused as exc:
            raise StepError(refusal(str(exc)), permanent=True) from None
        except outbound.Unreachable as exc:
            raise StepError(f"Could not reach {url}: {exc}") from None
        said = f": {answer.text}" if answer.text else ""
        if not 200 <= answer.status < 300:
            raise StepError(f"HTTP {answer.status} from {url}{said}")
        return {
            "url": url,
            "delivery": delivery,
            "status": answer.status,
            "response": answer.text,
            "summary": f"HTTP {answer.status} from {url}",
        }


STEP = Webhook()
