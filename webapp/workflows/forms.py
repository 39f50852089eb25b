"""The editor's forms: name, trigger, one form per step type, settings."""

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.calendars.models import Calendar
from webapp.contacts.models import normalize_tag
from webapp.extensions import db
from webapp.workflows.services import BOOKING_EVENTS, TRIGGER_TYPES


def calendar_choices(blank: str) -> list[tuple[str, str]]:
    """Every calendar that is not archived, for a select; `blank` labels the empty choice."""
    calendars = db.session.scalars(select(Calendar).where(Calendar.archived_at.is_(None)).order_by(Calendar.name))
    return [("", blank)] + [(str(c.id), c.name) for c in calendars]


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class Form(FlaskForm):
    """CSRFProtect checks every POST (the token rides in a field or the HTMX header); many forms share a page."""

    class Meta:
        csrf = False


class NameForm(Form):
    name = StringField("Name", [DataRequired("Give the workflow a name."), Length(max=200)])


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TriggerForm(Form):
    trigger_type = SelectField("What enrols contacts", choices=[("", "Choose a trigger…"), *TRIGGER_TYPES.items()])
    tag = StringField("Tag", render_kw={"list": "known-tags", "autocomplete": "off", "spellcheck": "false"})
    events = MultiCheckbox("Booking events", choices=list(BOOKING_EVENTS.items()), validate_choice=False)
    calendar_id = SelectField("Calendar", choices=[], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_id.choices = calendar_choices("Any calendar")

    def load(self, workflow):
        """Fill from the saved trigger (for GET)."""
        config = workflow.trigger_config or {}
        self.trigger_type.data = workflow.trigger_type or ""
        self.tag.data = config.get("tag", "")
        self.events.data = list(config.get("events") or ["made"])
        self.calendar_id.data = str(config.get("calendar_id") or "")
        return self

    def config(self) -> dict:
        """The trigger's config for the service."""
        kind = self.trigger_type.data
        if kind == "tag_added":
            return {"tag": normalize_tag(self.tag.data or "")}
        if kind == "booking_event":
            return {"events": list(self.events.data or []), "calendar_id": _int_or_none(self.calendar_id.data)}
        if kind in ("link_opened", "link_expired"):  # like booking_event, without events
            return {"calendar_id": _int_or_none(self.calendar_id.data)}
        return {}


class GenerateLinkForm(Form):
    calendar_id = SelectField("Calendar", choices=[], validate_choice=False)
    expires_in = StringField("Expires after (empty: never)", render_kw={"inputmode": "numeric", "size": 4})
    expires_unit = SelectField("Unit", choices=[("hours", "hours"), ("days", "days")], validate_choice=False)
    key = StringField("Key (used in custom values)", render_kw={"spellcheck": "false", "autocomplete": "off"})
    existing = RadioField(
        "If the contact already holds an active link for that calendar",
        choices=[("reuse", "Reuse it"), ("revoke", "Revoke it and issue a new one")],
        default="reuse",
        validate_choice=False,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_id.choices = calendar_choices("Choose a calendar…")

    def load(self, step):
        config = step.get("config") or {}
        self.calendar_id.data = str(config.get("calendar_id") or "")
        expires_in = config.get("expires_in")
        self.expires_in.data = "" if expires_in is None else str(expires_in)
        self.expires_unit.data = config.get("expires_unit") or "days"
        self.existing.data = config.get("existing") or "reuse"
        self.key.data = step.get("key") or ""
        return self

    def config(self) -> dict:
        return {
            "calendar_id": _int_or_none(self.calendar_id.data),
            # Not a number: passed on as typed, so the step's own check names the problem.
            "expires_in": _int_or_none(self.expires_in.data)
            if (self.expires_in.data or "").strip().isdigit()
            else ((self.expires_in.data or "").strip() or None),
            "expires_unit": self.expires_unit.data or "days",
            "existing": self.existing.data or "reuse",
        }


class SendEmailForm(Form):
    cv_fields = ("subject", "body")  # where the custom-value picker inserts
    to = StringField("To", render_kw={"placeholder": "The contact", "autocomplete": "off"})
    subject = StringField("Subject", render_kw={"data-cv-field": ""})
    body = TextAreaField("Message", render_kw={"rows": 8, "data-cv-field": ""})

    def load(self, step):
        config = step.get("config") or {}
        for name in ("to", "subject", "body"):
            self[name].data = config.get(name) or ""
        return self

    def config(self) -> dict:
        return {"to": (self.to.data or "").strip(), "subject": self.subject.data or "", "body": self.body.data or ""}


STEP_FORMS = {"generate_link": GenerateLinkForm, "send_email": SendEmailForm}


def step_form(step: dict, formdata=None):
    """The form of a step's type, prefixed by its id so many cards share one page; None if it has none."""
    form_class = STEP_FORMS.get(step.get("type"))
    if form_class is None:
        return None
    prefix = f"s{step['id']}-"
    if formdata is None:
        return form_class(formdata=None, prefix=prefix).load(step)
    return form_class(formdata=formdata, prefix=prefix)


def step_key(form, step: dict) -> str:
    """The key the form submits (only steps whose values later steps use have one)."""
    return (form.key.data or "").strip() if "key" in form else step.get("key", "")


def show_errors(form, errors: dict[str, str]) -> list[str]:
    """Put each message beside its field; returns the ones that belong to no field."""
    loose = []
    for name, message in errors.items():
        if form is not None and name in form:
            form[name].errors = [message]
        else:
            loose.append(message)
    return loose


class SettingsForm(Form):
    allow_reentry = BooleanField("Allow re-entry (a contact may go through this workflow more than once)")
    sender_name = StringField("Sender name", [Length(max=100)], render_kw={"placeholder": "OneSlot"})
