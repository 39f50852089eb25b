"""Sign-in and account forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from webapp.auth import services
from webapp.auth.models import MIN_PASSWORD_LENGTH, NAME_MAX
from webapp.text import SingleLine
from webapp.zones import KnownZone


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired()], render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in")
    next = HiddenField()
    # The browser's zone (app.js fills it): saved as the admin's at sign-in while they have none.
    timezone = HiddenField(render_kw={"data-browser-zone": ""})


class PasswordForm(FlaskForm):
    current = PasswordField(
        "Current password", validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )
    new = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat new password",
        validators=[DataRequired(), EqualTo("new", "The two new passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )


class NameForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[
            DataRequired("Give the name invitees should read, e.g. Sam Rivera."),
            Length(max=NAME_MAX, message=f"A name has at most {NAME_MAX} characters."),
            SingleLine("Your name"),
        ],
        render_kw={"autocomplete": "name"},
    )


class AdminForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email()])
    password = PasswordField(
        "Password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH)],
        render_kw={"autocomplete": "new-password"},
    )

    def validate_email(self, field):
        if field.errors:  # refused by the field's own validators: nothing to look up
            return
        if services.find_by_email(field.data):
            raise ValidationError("An admin with this email already exists.")


class ZoneForm(FlaskForm):
    """The admin's own time zone: the picker's value, a city ('New York') or an IANA name."""

    timezone = StringField("Your time zone", [KnownZone()])
    proposed = HiddenField()  # "1": the browser's zone, from the banner admin pages show while none is set
    next = HiddenField()
