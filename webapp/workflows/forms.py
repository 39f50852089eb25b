"""The editor's forms: name, trigger, settings; each step type's form is its FORM."""

from collections.abc import Mapping

from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from webapp.contacts.models import normalize_tag
from webapp.text import SingleLine
from webapp.workflows import actions
from webapp.workflows.formkit import Form, calendar_choices, choices_of, host_choices
from webapp.workflows.formkit import int_or_none as _int_or_none
from webapp.workflows.services import BOOKING_EVENTS, TRIGGER_TYPES


class NameForm(Form):
    name = StringField("Name", [DataRequired("Give the workflow a name."), Length(max=200)])


class MultiCheckbox(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class TriggerForm(Form):
    trigger_type = SelectField(
        "What enrols contacts", choices=[SelectChoice("", "Choose a trigger…"), *choices_of(TRIGGER_TYPES)]
    )
    tag = StringField("Tag", render_kw={"list": "known-tags", "autocomplete": "off", "spellcheck": "false"})
    events = MultiCheckbox("Booking events", choices=choices_of(BOOKING_EVENTS), validate_choice=False)
    calendar_id = SelectField("Calendar", choices=[], validate_choice=False)
    host_id = SelectField("Only for bookings with host", choices=[], validate_choice=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_id.choices = calendar_choices("Any calendar")
        self.host_id.choices = host_choices("Any host")

    def load(self, workflow):
        """Fill from the saved trigger (for GET)."""
        config = workflow.trigger_config or {}
        self.trigger_type.data = workflow.trigger_type or ""
        self.tag.data = config.get("tag", "")
        self.events.data = list(config.get("events") or ["made"])
        self.calendar_id.data = str(config.get("calendar_id") or "")
        self.host_id.data = str(config.get("host_id") or "")
        return self

    def config(self) -> dict:
        """The trigger's config for the service."""
        kind = self.trigger_type.data
        if kind == "tag_added":
            return {"tag": normalize_tag(self.tag.data or "")}
        if kind == "booking_event":
            config = {"events": list(self.events.data or []), "calendar_id": _int_or_none(self.calendar_id.data)}
            if host_id := _int_or_none(self.host_id.data):
                config["host_id"] = host_id
            return config
        if kind in ("link_opened", "link_expired"):  # like booking_event, without events
            return {"calendar_id": _int_or_none(self.calendar_id.data)}
        return {}


def step_form(step: Mapping, formdata=None):
    """The form of a step's type (its FORM), prefixed by its id so many cards share one page; None if it
    has none. The form knows the saved step, so config() can keep what the card does not edit."""
    step_type = actions.get(step.get("type", ""))
    form_class = step_type.FORM if step_type else None
    if form_class is None:
        return None
    prefix = f"s{step['id']}-"
    form = form_class(formdata=formdata, prefix=prefix)
    form.step = step
    return form.load(step) if formdata is None else form


def step_key(form, step: Mapping) -> str:
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
    sender_name = StringField("Sender name", [Length(max=100), SingleLine()], render_kw={"placeholder": "OneSlot"})
