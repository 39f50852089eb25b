"""What the email steps share (Send Email, Internal notification email): the subject and body
fields, their check at save, rendering and queueing in the outbox, and waiting until it has sent.

Not a step type itself: EmailStep is the base class of the two.
"""

from datetime import datetime

from wtforms import StringField, TextAreaField

from webapp import tokens
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.mail.outbox import deliver_now, queue_email
from webapp.text import one_line, single_line_error
from webapp.workflows import merge
from webapp.workflows.actions.base import AfterFlush, StepError, StepType, outputs_of
from webapp.workflows.formkit import StepForm

SUBJECT_MAX = 200
BODY_MAX = 20_000


class MessageForm(StepForm):
    """Subject and message with the custom-value picker; a step's form adds its recipient fields."""

    cv_fields = ("subject", "body")  # where the custom-value picker inserts
    subject = StringField("Subject", render_kw={"data-cv-field": ""})
    body = TextAreaField("Message", render_kw={"rows": 8, "data-cv-field": ""})

    def message_config(self) -> dict:
        return {"subject": self.subject.data or "", "body": self.body.data or ""}


def check_message(config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
    """Subject (one line) and body present, not too long, every custom value known and from an earlier step."""
    errors = {}
    calendar = merge.has_calendar(earlier_steps, trigger_type)
    subject = config.get("subject") or ""
    if not subject.strip():
        errors["subject"] = "The email needs a subject."
    elif len(subject) > SUBJECT_MAX:
        errors["subject"] = f"The subject is longer than {SUBJECT_MAX} characters."
    elif error := single_line_error(subject, "The subject"):
        errors["subject"] = error
    elif problems := merge.check(
        subject, earlier_steps, later_steps=later_steps, calendar=calendar, outputs_of=outputs_of
    ):
        errors["subject"] = "; ".join(problems)
    body = config.get("body") or ""
    if not body.strip():
        errors["body"] = "The email needs a message."
    elif len(body) > BODY_MAX:
        errors["body"] = f"The message is longer than {BODY_MAX} characters."
    elif problems := merge.check(
        body, earlier_steps, later_steps=later_steps, calendar=calendar, outputs_of=outputs_of
    ):
        errors["body"] = "; ".join(problems)
    return errors


def queue(ctx, to: str, *, kind: str, sender_name: str, subject_prefix: str = "") -> dict:
    """Render the step's subject and body over the enrolment's values and queue the message (uncommitted,
    unflushed: its outbox_id is known after the engine's flush)."""
    config = ctx.config
    minter = tokens.Minter()  # this message's own markers: the only links it can ever reveal
    values = minter.fill(ctx.values)
    subject = subject_prefix + one_line(merge.render(config.get("subject", ""), ctx.values))
    text = merge.render(config.get("body", ""), values)
    message = queue_email(
        to,
        subject or "(no subject)",
        "workflow",
        {"body": text, "body_html": merge.text_to_html(text), "sender_name": sender_name},
        kind=kind,
        from_name=sender_name,
        minter=minter,
    )
    return {"outbox_id": AfterFlush(lambda: message.id), "subject": subject}


class EmailStep(StepType):
    """A step that queues one message and waits (poll) until the outbox has sent it: the engine sends it
    at once (expedite), the outbox retries with backoff when that fails, and when it gives up the
    enrolment fails with the server's reason."""

    EXPEDITES = True

    def poll(self, ctx, output) -> bool | datetime:
        """True once the message went out (or is held: no mail server); a message that failed fails the step.

        A message waiting for its retry (the server refused it, or was down) is looked at again when the
        outbox tries it next (its next_attempt_at), not every few seconds: the engine then sends it
        itself if no worker has yet (expedite), and goes on at once."""
        if output.get("delivered") in ("sent", "held"):
            return True  # expedite just sent it (the worker running this step)
        message = db.session.get(OutboxMessage, output.get("outbox_id"), populate_existing=True)
        if message is None:
            return True  # deleted by an admin: nothing left to wait for
        if message.status == "failed":
            raise StepError(f"The email to {message.to_addr} could not be sent: {message.last_error}", permanent=True)
        if message.status == "pending" and message.next_attempt_at > ctx.now:
            return message.next_attempt_at
        return message.status in ("sent", "held")

    def expedite(self, outputs: list[dict]) -> list[dict | None]:
        """Send the steps' queued messages now, in the worker running the steps, instead of waiting for the
        outbox. For each output: what to add to it for poll ({"delivered": status}) when its message left
        the queue, else None."""
        ids = [output.get("outbox_id") for output in outputs]
        left = deliver_now([i for i in ids if i])
        return [{"delivered": left[i]} if i in left else None for i in ids]
