"""Internal notification email: tell an admin (or a fixed address) about the contact, with custom values.

The same subject, body, rendering and outbox as Send Email (actions/_email.py); kind "notification".
"""

from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from webapp.auth.models import User
from webapp.contacts.services import email_error
from webapp.extensions import db
from webapp.workflows.actions import _email
from webapp.workflows.actions.base import StepError
from webapp.workflows.formkit import int_or_none, text


class NotifyEmailForm(_email.MessageForm):
    admin_id = SelectField("Admin to notify", choices=[], validate_choice=False)
    to = StringField("Or another address", render_kw={"autocomplete": "off", "placeholder": "team@example.com"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        admins = db.session.scalars(select(User).order_by(User.email))
        self.admin_id.choices = [SelectChoice("", "Choose an admin…")] + [
            SelectChoice(str(user.id), user.email) for user in admins
        ]

    def load(self, step):
        super().load(step)
        self.admin_id.data = str((step.get("config") or {}).get("admin_id") or "")
        return self

    def config(self) -> dict:
        return {"admin_id": int_or_none(self.admin_id.data), "to": text(self.to), **self.message_config()}


class NotifyEmail(_email.EmailStep):
    TYPE = "notify_email"
    CATEGORY = "Communication"
    LABEL = "Internal notification email"
    DEFAULTS = {"admin_id": None, "to": "", "subject": "", "body": ""}
    FORM = NotifyEmailForm

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """An admin that exists or a valid address (one of the two); subject and body as for Send Email."""
        errors = {}
        admin_id, to = config.get("admin_id"), (config.get("to") or "").strip()
        if admin_id is None and not to:
            errors["admin_id"] = "Choose the admin to notify, or type an address below."
        elif admin_id is not None and to:
            errors["to"] = "Choose an admin or type an address, not both."
        elif admin_id is not None and (not isinstance(admin_id, int) or db.session.get(User, admin_id) is None):
            errors["admin_id"] = "That admin account no longer exists; choose another."
        elif to and (problem := email_error(to)):
            errors["to"] = problem
        errors.update(_email.check_message(config, earlier_steps, later_steps=later_steps, trigger_type=trigger_type))
        return errors

    def run(self, ctx) -> dict:
        """Queue the notification to the admin's current address, or the fixed one (uncommitted)."""
        config = ctx.config
        address = (config.get("to") or "").strip()
        if config.get("admin_id") is not None:
            admin = db.session.get(User, config["admin_id"])
            if admin is None:
                raise StepError("The admin to notify no longer exists.", permanent=True)
            address = admin.email
        if email_error(address):
            raise StepError(f"Cannot send to “{address}”: not a valid email address.", permanent=True)
        output = _email.queue(ctx, address, kind="notification", sender_name=ctx.values["workflow"]["sender_name"])
        return {"outbox_id": output["outbox_id"], "to": address, "subject": output["subject"]}


STEP = NotifyEmail()
