"""The public booking form."""

from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, ValidationError

from webapp import params
from webapp.booking.services import BOUND, FREE, OTHER
from webapp.calendars.forms import zone_names
from webapp.calendars.models import Calendar
from webapp.contacts.models import Contact
from webapp.contacts.services import find_by_email
from webapp.extensions import db
from webapp.i18n import _, _l
from webapp.text import SingleLine


def parse_instant(text: str | None) -> datetime | None:
    """'2026-12-01T15:00:00Z' -> an aware UTC datetime; None when it is not an ISO 8601 instant of a day served."""
    try:
        value = datetime.fromisoformat((text or "").strip())
        # Near year 1 or 9999 the conversion itself overflows; such a time is never a slot anyway.
        instant = value.astimezone(UTC) if value.tzinfo else None
    except (ValueError, OverflowError):
        return None
    return instant if instant and params.in_range(instant) else None


class BookForm(FlaskForm):
    """The invitee's details; `email_mode` (services.BOUND, OTHER, FREE) says whether an email is asked for."""

    start = HiddenField(_l("Time"), [DataRequired(_l("Pick a time."))])
    name = StringField(
        _l("Your name"),
        [
            DataRequired(_l("Tell us your name.")),
            Length(max=200, message=_l("A name is at most 200 characters.")),
            SingleLine(),
        ],
    )
    email = EmailField(_l("Email"), render_kw={"autocomplete": "email", "spellcheck": "false"})
    notes = TextAreaField(
        _l("Anything we should know? (optional)"), [Length(max=2000, message=_l("Notes are at most 2,000 characters."))]
    )
    timezone = HiddenField(_l("Time zone"))

    def __init__(self, *args, email_mode: str = FREE, **kwargs):
        super().__init__(*args, **kwargs)
        self.email_mode = email_mode
        if email_mode == OTHER:
            self.email.label.text = _l("Email (optional)")

    def validate_email(self, field):
        field.data = (field.data or "").strip()
        if self.email_mode == BOUND:
            field.data = ""  # the booking uses the contact's email, whatever the request carries
            return
        if not field.data:
            if self.email_mode == FREE:
                raise ValidationError(_("We need your email to send the confirmation."))
            return
        Length(max=254, message=_("An email address is at most 254 characters."))(self, field)
        Email(_("Enter a valid email address, like ada@example.com."))(self, field)

    def validate_start(self, field):
        if parse_instant(field.data) is None:
            raise ValidationError(_("Pick a time from the list."))

    def validate_timezone(self, field):
        if field.data not in zone_names():
            field.data = "UTC"

    def instant(self) -> datetime:
        """The chosen slot's start (after validation)."""
        instant = parse_instant(self.start.data)
        assert instant is not None, "validate_start refuses a start that is not an instant"
        return instant


class RescheduleForm(FlaskForm):
    start = HiddenField(_l("Time"), [DataRequired(_l("Pick a new time."))])
    timezone = HiddenField(_l("Time zone"))

    validate_start = BookForm.validate_start
    validate_timezone = BookForm.validate_timezone
    instant = BookForm.instant


class CancelForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (optional, shared with the organiser)"),
        [Length(max=2000, message=_l("A reason is at most 2,000 characters."))],
    )


def _id(value) -> int | None:
    """A posted id, or None when it names no row (so `coerce` never fails on it)."""
    try:
        return value if isinstance(value, int) else params.db_id(value or "")
    except ValueError:
        return None


EXPIRY_CHOICES = [
    SelectChoice(str(hours), label)
    for hours, label in ((0, "Never"), (24, "In 1 day"), (72, "In 3 days"), (168, "In 7 days"), (720, "In 30 days"))
]


class LinkForm(FlaskForm):
    """Generate a one-time link: a calendar and a contact (chosen by id, or typed as an email)."""

    calendar_id = SelectField("Calendar", coerce=_id, validate_choice=False)
    contact_id = HiddenField()
    contact_email = EmailField("Contact's email")
    expires_in_hours = SelectField("Link expires", coerce=int, choices=EXPIRY_CHOICES, default=0)
    origin = HiddenField(default="calendar")

    calendar = None
    contact = None

    def validate_calendar_id(self, field):
        self.calendar = db.session.get(Calendar, field.data or 0)
        if self.calendar is None:
            raise ValidationError("Choose a calendar.")
        if self.calendar.archived_at:
            raise ValidationError("This calendar is archived; links can no longer be made for it.")

    def validate_contact_email(self, field):
        if contact_id := _id(self.contact_id.data):
            self.contact = db.session.get(Contact, contact_id)
        elif field.data:
            self.contact = find_by_email(field.data)
            if self.contact is None:
                raise ValidationError("No contact has this email. Add them under Contacts first.")
        if self.contact is None and not field.errors:
            raise ValidationError("Choose a contact.")
