"""The host pages' forms: who the host is, their photo, their own weekly hours and their time off."""

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, EmailField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from webapp.hosts import services
from webapp.hosts.models import NAME_MAX
from webapp.hours import DAY_KEYS, WeeklyHours, day_problems, hhmm, parse_minutes
from webapp.text import SingleLine
from webapp.zones import KnownZone


class HostForm(FlaskForm):
    name = StringField("Name", [DataRequired("Give the host a name."), Length(max=NAME_MAX), SingleLine()])
    email = EmailField(
        "Email",
        [DataRequired("Enter the host's email."), Email("Enter an email like sam@example.com."), Length(max=254)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],  # a pasted trailing space
    )
    # Rendered as the zone picker (macros.html); takes the picker's value, a city or an IANA name.
    timezone = StringField("Time zone", [DataRequired("Choose a time zone."), KnownZone()], default="UTC")

    def __init__(self, *args, host_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.host_id = host_id

    def validate_email(self, field):
        # WTForms runs this after the field's own validators even when they refused the value: only a
        # well-formed address is looked up (a NUL byte, say, is no text PostgreSQL compares).
        if field.errors:
            return
        if services.email_taken(field.data or "", self.host_id):
            raise ValidationError("Another host already has this email.")

    def changes(self) -> dict:
        """Validated fields for services.update_host / add_host."""
        return {"name": self.name.data.strip(), "email": self.email.data.strip(), "timezone": self.timezone.data}


class PhotoForm(FlaskForm):
    photo = FileField("Photo")


class ActionForm(FlaskForm):
    """A bare POST button (remove, deactivate, delete): only its CSRF token is checked."""


class HoursForm(WeeklyHours, FlaskForm):
    own_hours = BooleanField("Use this host's own working hours")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.day_errors: dict[str, list[str]] = {}

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        for key, _label, rows in self.days():
            if problems := day_problems([row.form.minutes() for row in rows]):
                self.day_errors[key] = problems
                ok = False
        return ok

    def weekly(self) -> dict[int, list[tuple[int, int]]]:
        """Validated weekly ranges for the service."""
        return {i: [row.form.minutes() for row in self[key]] for i, key in enumerate(DAY_KEYS)}

    def load(self, host) -> None:
        """Fill the rows from the host's saved hours; a host without any starts with weekdays 09:00–17:00."""
        self.own_hours.data = host.own_hours
        if not host.hours:
            for key in DAY_KEYS[:5]:
                self[key].append_entry({"start": "09:00", "end": "17:00"})
        for r in host.hours:
            self[DAY_KEYS[r.weekday]].append_entry({"start": hhmm(r.start_minute), "end": hhmm(r.end_minute)})

    def edit_rows(self, action: str | None) -> bool:
        """Apply an 'add-mon' / 'remove-mon-2' button; True when one was applied."""
        match = re.fullmatch(r"(add|remove)-(\w+?)(?:-(\d+))?", action or "")
        if not match or match[2] not in DAY_KEYS:
            return False
        rows = self[match[2]]
        if match[1] == "add":
            last_end = rows.entries[-1].form.end.data if rows.entries else None
            start = last_end if last_end and last_end != "00:00" else "09:00"
            rows.append_entry({"start": start, "end": hhmm(min((parse_minutes(start) or 540) + 60, 1440))})
        elif match[3] is not None:
            rows.entries = [e for e in rows.entries if not e.id.endswith(f"-{match[3]}")]
        return True


class TimeOffForm(FlaskForm):
    first_day = DateField("First day", [DataRequired("Pick the first day away.")])
    last_day = DateField("Last day", [Optional()])
    note = StringField("Note", [Length(max=services.NOTE_MAX), SingleLine()])

    def validate_last_day(self, field):
        if field.data and self.first_day.data and field.data < self.first_day.data:
            raise ValidationError("The last day is before the first day.")

    def days(self):
        """(first, last): one day when the last is left empty."""
        return self.first_day.data, self.last_day.data or self.first_day.data
