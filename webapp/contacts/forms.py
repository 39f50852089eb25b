"""Contact forms: details, inline tags, CSV upload."""

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import EmailField, StringField, TelField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from webapp.contacts import services
from webapp.text import SingleLine


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _phone(form, field):
    if error := services.phone_error(field.data or ""):
        raise ValidationError(error)


class ContactForm(FlaskForm):
    first_name = StringField(
        "First name", [Length(max=100), SingleLine()], filters=[_strip], render_kw={"autocomplete": "off"}
    )
    last_name = StringField(
        "Last name", [Length(max=100), SingleLine()], filters=[_strip], render_kw={"autocomplete": "off"}
    )
    email = EmailField(
        "Email",
        [
            DataRequired("Enter an email address."),
            Length(max=254),
            Email("Enter a valid email address, like ada@example.com."),
        ],
        filters=[_strip],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    phone = TelField("Phone", [_phone], filters=[_strip], render_kw={"autocomplete": "off"})

    def __init__(self, *args, contact_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.contact_id = contact_id
        # The contact that already has the email, so the page can link to it.
        self.existing = None

    def validate_email(self, field):
        if field.errors:  # refused by the field's own validators: nothing to look up
            return
        if existing := services.find_by_email(field.data, exclude_id=self.contact_id):
            self.existing = existing
            raise ValidationError("A contact with this email already exists.")

    def details(self) -> dict:
        """The validated contact fields."""
        return {key: self[key].data or "" for key in services.FIELDS}


class NewContactForm(ContactForm):
    tags = StringField(
        "Tags", filters=[_strip], render_kw={"placeholder": "e.g. customer, newsletter", "autocomplete": "off"}
    )

    def validate_tags(self, field):
        _names, errors = services.parse_tags(field.data or "")
        if errors:
            raise ValidationError(" ".join(errors))

    def tag_names(self) -> list[str]:
        """The validated tag names."""
        return services.split_tags(self.tags.data or "")


class TagForm(FlaskForm):
    names = StringField(
        "Add tags", filters=[_strip], render_kw={"placeholder": "e.g. vip, webinar-2025", "autocomplete": "off"}
    )

    def validate_names(self, field):
        names, errors = services.parse_tags(field.data or "")
        if errors:
            raise ValidationError(" ".join(errors))
        if not names:
            raise ValidationError("Type a tag name; separate several with commas.")

    def tag_names(self) -> list[str]:
        """The validated tag names."""
        return services.split_tags(self.names.data or "")


class ImportForm(FlaskForm):
    file = FileField("CSV file", [FileRequired("Choose a CSV file to import.")], render_kw={"accept": ".csv,text/csv"})
