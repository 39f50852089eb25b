"""Send Email: a text body with custom values, its HTML version generated, queued in the outbox.

The step waits (poll) until the outbox has sent the message: the engine sends it at once (expedite),
the outbox retries with backoff when that fails, and when it gives up the enrolment fails with the
server's reason.
"""

from email.utils import formataddr

from wtforms import StringField

from webapp.contacts.services import email_error
from webapp.text import one_line
from webapp.workflows.actions import _email
from webapp.workflows.actions.base import StepError


class SendEmailForm(_email.MessageForm):
    to = StringField("To", render_kw={"placeholder": "The contact", "autocomplete": "off"})

    def config(self) -> dict:
        return {"to": (self.to.data or "").strip(), **self.message_config()}


class SendEmail(_email.EmailStep):
    TYPE = "send_email"
    CATEGORY = "Communication"
    LABEL = "Send Email"
    DEFAULTS = {"to": "", "subject": "", "body": ""}
    FORM = SendEmailForm

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """Subject and body present; every custom value known and from an earlier step; a fixed 'to' is an address."""
        errors = {}
        to = (config.get("to") or "").strip()
        if to and (problem := email_error(to)):
            errors["to"] = problem
        errors.update(_email.check_message(config, earlier_steps, later_steps=later_steps, trigger_type=trigger_type))
        return errors

    def run(self, ctx) -> dict:
        """Render the subject and body over the enrolment's values and queue the message (uncommitted)."""
        config = ctx.config
        address = (config.get("to") or "").strip() or ctx.contact.email
        if email_error(address):
            raise StepError(f"Cannot send to “{address}”: not a valid email address.", permanent=True)
        to = formataddr((one_line(ctx.contact.name), address)) if not config.get("to") else address
        to, address, prefix = _test_run(ctx, to, address)
        sender_name = ctx.values["workflow"]["sender_name"]
        output = _email.queue(ctx, to, kind="workflow", sender_name=sender_name, subject_prefix=prefix)
        return {"outbox_id": output["outbox_id"], "to": address, "subject": output["subject"]}


def _test_run(ctx, to: str, address: str) -> tuple[str, str, str]:
    """A test run's email goes to the admin who started it (unless they chose the contact), subject "[Test] …"."""
    if not ctx.enrolment.is_test:
        return to, address, ""
    if not ctx.event.get("test_send_to_contact") and ctx.event.get("test_mail_to"):
        to = address = ctx.event["test_mail_to"]
    return to, address, "[Test] "


STEP = SendEmail()
