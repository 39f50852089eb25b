"""Send Email: a text body with custom values, its HTML version generated, queued in the outbox.

The step waits (poll) until the outbox has sent the message: the engine sends it at once (expedite),
the outbox retries with backoff when that fails, and when it gives up the enrolment fails with the
server's reason.
"""

from email.utils import formataddr

from webapp.contacts.services import email_error
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.mail.services import deliver_now, queue_email
from webapp.workflows import merge

TYPE = "send_email"
CATEGORY = "Communication"
LABEL = "Send Email"
DEFAULTS = {"to": "", "subject": "", "body": ""}
OUTPUTS: dict[str, str] = {}
SUBJECT_MAX = 200
BODY_MAX = 20_000


def validate(config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
    """Subject and body present; every custom value known and from an earlier step; a fixed 'to' is an address."""
    errors = {}
    calendar = merge.has_calendar(earlier_steps, trigger_type)
    to = (config.get("to") or "").strip()
    if to and (problem := email_error(to)):
        errors["to"] = problem
    subject = config.get("subject") or ""
    if not subject.strip():
        errors["subject"] = "The email needs a subject."
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = f"The subject is longer than {SUBJECT_MAX} characters."
    elif "\n" in subject or "\r" in subject:
        errors["subject"] = "The subject is one line."
    elif problems := merge.check(subject, earlier_steps, later_steps=later_steps, calendar=calendar):
        errors["subject"] = "; ".join(problems)
    body = config.get("body") or ""
    if not body.strip():
        errors["body"] = "The email needs a message."
    elif len(body) > BODY_MAX:
        errors["body"] = f"The message is longer than {BODY_MAX} characters."
    elif problems := merge.check(body, earlier_steps, later_steps=later_steps, calendar=calendar):
        errors["body"] = "; ".join(problems)
    return errors


def custom_values(step) -> list[tuple[str, str]]:
    """An email offers no values to later steps."""
    return []


def run(ctx) -> dict:
    """Render the subject and body over the enrolment's values and queue the message (uncommitted)."""
    from webapp.workflows.actions import StepError

    config = ctx.config
    address = (config.get("to") or "").strip() or ctx.contact.email
    if email_error(address):
        raise StepError(f"Cannot send to “{address}”: not a valid email address.", permanent=True)
    to = formataddr((merge.one_line(ctx.contact.name), address)) if not config.get("to") else address
    subject = merge.one_line(merge.render(config.get("subject", ""), ctx.values))
    to, address, subject = _test_run(ctx, to, address, subject)
    text = merge.render(config.get("body", ""), ctx.values)
    message = queue_email(
        to,
        subject or "(no subject)",
        "workflow",
        {"body": text, "body_html": merge.text_to_html(text), "sender_name": ctx.values["workflow"]["sender_name"]},
        kind="workflow",
        from_name=ctx.values["workflow"]["sender_name"],
    )
    db.session.flush()
    return {"outbox_id": message.id, "to": address, "subject": subject}


def _test_run(ctx, to: str, address: str, subject: str) -> tuple[str, str, str]:
    """A test run's email goes to the admin who started it (unless they chose the contact), subject "[Test] …"."""
    if not getattr(ctx.enrolment, "is_test", False):
        return to, address, subject
    if not ctx.event.get("test_send_to_contact") and ctx.event.get("test_mail_to"):
        to = address = ctx.event["test_mail_to"]
    return to, address, f"[Test] {subject}"


def poll(ctx, output) -> bool:
    """True once the message went out (or is held: no mail server); a message that failed fails the step."""
    from webapp.workflows.actions import StepError

    message = db.session.get(OutboxMessage, output.get("outbox_id"), populate_existing=True)
    if message is None:
        return True  # deleted by an admin: nothing left to wait for
    if message.status == "failed":
        raise StepError(f"The email to {message.to_addr} could not be sent: {message.last_error}", permanent=True)
    return message.status in ("sent", "held")


def expedite(output) -> bool:
    """Send the queued message now, in the worker running the step, instead of waiting for the outbox."""
    return bool(output.get("outbox_id")) and deliver_now(output["outbox_id"])
