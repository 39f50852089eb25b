"""The branding page's forms."""

from email_validator import EmailNotValidError, validate_email
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, StringField
from wtforms.validators import Length, ValidationError

from webapp.branding.models import EMAIL_MAX, NAME_MAX, SENDER_NAME_MAX
from webapp.branding.services import DEFAULT_ACCENT, HEX_COLOUR
from webapp.text import SingleLine


def sender_address_error(value: str) -> str | None:
    """Why a sender address is refused (one ASCII address, no display name, no line break), or None."""
    try:
        validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return f"{exc} Enter one email address, like bookings@example.com."
    return None


class SenderAddress:
    """WTForms validator: an empty field passes; else sender_address_error()."""

    def __call__(self, form, field):
        value = (field.data or "").strip()
        if value and (error := sender_address_error(value)):
            raise ValidationError(error)
        field.data = value


class BrandingForm(FlaskForm):
    business_name = StringField(
        "Business name",
        [Length(max=NAME_MAX, message=f"At most {NAME_MAX} characters."), SingleLine("The business name")],
    )
    accent = StringField("Accent colour", default=DEFAULT_ACCENT, render_kw={"type": "color"})
    sender_name = StringField(
        "Sender name",
        [Length(max=SENDER_NAME_MAX, message=f"At most {SENDER_NAME_MAX} characters."), SingleLine("The sender name")],
        render_kw={"autocomplete": "off"},
    )
    sender_email = StringField(
        "Sender address",
        [Length(max=EMAIL_MAX, message=f"At most {EMAIL_MAX} characters."), SenderAddress()],
        render_kw={"autocomplete": "off", "inputmode": "email", "spellcheck": "false"},
    )
    powered_by = BooleanField("Show “Sent by OneSlot” in emails")

    def validate_accent(self, field):
        value = (field.data or "").strip().lower() or DEFAULT_ACCENT
        if not HEX_COLOUR.match(value):
            raise ValidationError("Pick a colour, or type one as #rrggbb (six hexadecimal digits).")
        field.data = value

    def settings(self) -> dict:
        """The validated values for services.save()."""
        return {
            "business_name": (self.business_name.data or "").strip(),
            "accent": self.accent.data,
            "sender_name": (self.sender_name.data or "").strip(),
            "sender_email": self.sender_email.data or "",
            "powered_by": bool(self.powered_by.data),
        }


class LogoForm(FlaskForm):
    logo = FileField(
        "Logo",
        [FileRequired("Choose an image file.")],
        render_kw={"accept": "image/png,image/jpeg,image/webp"},
    )
