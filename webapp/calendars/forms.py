"""The calendar settings form, with weekly ranges and date overrides as repeatable rows."""

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from webapp.branding.forms import SenderAddress
from webapp.calendars import services
from webapp.calendars.availability import range_errors
from webapp.calendars.models import WEEKDAYS
from webapp.i18n import DEFAULT as DEFAULT_LANGUAGE
from webapp.i18n import LANGUAGES
from webapp.text import SingleLine
from webapp.zones import resolve, unknown

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_minutes(value: str | None, is_end: bool = False) -> int | None:
    """'09:30' -> 570; an end of '00:00' means midnight at the end of the day (1440)."""
    match = TIME_RE.match((value or "").strip())
    if not match:
        return None
    minutes = int(match[1]) * 60 + int(match[2])
    return 1440 if is_end and minutes == 0 else minutes


def hhmm(minutes: int | None) -> str:
    """570 -> '09:30'; 1440 -> '00:00' (an end at midnight)."""
    if minutes is None:
        return ""
    minutes %= 1440
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class TimeText(StringField):
    """A HH:MM field rendered as a native time picker."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"type": "time", "step": 300})
        super().__init__(label, validators, **kwargs)


def valid_time(form, field):
    if field.data and not TIME_RE.match(field.data.strip()):
        raise ValidationError("Use a time like 09:30.")


class RangeForm(Form):
    start = TimeText("From", [DataRequired("Enter a start time."), valid_time])
    end = TimeText("Until", [DataRequired("Enter an end time."), valid_time])

    def minutes(self) -> tuple[int | None, int | None]:
        return parse_minutes(self.start.data), parse_minutes(self.end.data, is_end=True)


class OverrideForm(Form):
    day = DateField("Date", [DataRequired("Pick a date.")])
    closed = BooleanField("Closed all day")
    start = TimeText("From", [valid_time])
    end = TimeText("Until", [valid_time])

    def minutes(self) -> tuple[int | None, int | None]:
        return parse_minutes(self.start.data), parse_minutes(self.end.data, is_end=True)


def _optional_int(label, minimum, maximum, message, default=None):
    return IntegerField(label, [Optional(), NumberRange(minimum, maximum, message)], default=default)


class CalendarForm(FlaskForm):
    name = StringField("Name", [DataRequired("Give the calendar a name."), Length(max=120), SingleLine()])
    slug = StringField(
        "Slug",
        [
            Optional(),
            Length(max=80),
            Regexp(r"^[a-z0-9]+(-[a-z0-9]+)*$", message="Use lower-case letters, digits and dashes."),
        ],
    )
    description = TextAreaField("Description", [Length(max=5000)])
    location = StringField("Location", [Length(max=500), SingleLine()])
    # Rendered as the zone picker (macros.html); takes the picker's value, a city or an IANA name.
    timezone = StringField("Time zone", [DataRequired("Choose a time zone.")], default="UTC")
    duration = IntegerField(
        "Meeting duration (minutes)",
        [InputRequired("Enter a duration in minutes."), NumberRange(5, 24 * 60, "Between 5 and 1440 minutes.")],
        default=30,
    )
    slot_interval = _optional_int("Slot interval (minutes)", 5, 24 * 60, "Between 5 and 1440 minutes.")
    buffer_before = IntegerField(
        "Buffer before (minutes)", [Optional(), NumberRange(0, 24 * 60, "Between 0 and 1440 minutes.")], default=0
    )
    buffer_after = IntegerField(
        "Buffer after (minutes)", [Optional(), NumberRange(0, 24 * 60, "Between 0 and 1440 minutes.")], default=0
    )
    min_notice = IntegerField(
        "Minimum notice (minutes)", [Optional(), NumberRange(0, 365 * 24 * 60, "Zero or more minutes.")], default=0
    )
    window_days = _optional_int("Booking window (days ahead)", 1, 730, "Between 1 and 730 days.", default=60)
    max_per_day = _optional_int("Maximum bookings per day", 1, 1000, "At least 1, or leave empty for no limit.")
    seats = IntegerField(
        "Seats per slot",
        [InputRequired("Enter at least 1 seat."), NumberRange(1, 1000, "Between 1 and 1000.")],
        default=1,
    )
    confirmation_message = TextAreaField("Confirmation message", [Length(max=5000)])
    change_cutoff_hours = IntegerField(
        "Changes allowed until (hours before the start)",
        [Optional(), NumberRange(0, 24 * 90, "Between 0 and 2160 hours.")],
        default=0,
    )
    notify_email = EmailField("Notify this address of bookings", [Optional(), Email(), Length(max=254)])
    sender_name = StringField("Sender name", [Length(max=100, message="At most 100 characters."), SingleLine()])
    sender_email = StringField(
        "Sender address",
        [Length(max=254, message="At most 254 characters."), SenderAddress()],
        render_kw={"inputmode": "email", "spellcheck": "false"},
    )
    allow_other_email = BooleanField("Invitees may book with another email")
    rearm_on_cancel = BooleanField("After a cancellation, the same link may book again")
    rearm_on_no_show = BooleanField("After a no-show, the same link may book again")
    language = SelectField(
        "Booking pages' language",
        choices=[SelectChoice(code, label) for code, label in LANGUAGES.items()],
        default=DEFAULT_LANGUAGE,
    )
    mon = FieldList(FormField(RangeForm), label=WEEKDAYS[0])
    tue = FieldList(FormField(RangeForm), label=WEEKDAYS[1])
    wed = FieldList(FormField(RangeForm), label=WEEKDAYS[2])
    thu = FieldList(FormField(RangeForm), label=WEEKDAYS[3])
    fri = FieldList(FormField(RangeForm), label=WEEKDAYS[4])
    sat = FieldList(FormField(RangeForm), label=WEEKDAYS[5])
    sun = FieldList(FormField(RangeForm), label=WEEKDAYS[6])
    date_overrides = FieldList(FormField(OverrideForm), label="Date overrides")

    def __init__(self, *args, calendar_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_id = calendar_id
        self.day_errors: dict[str, list[str]] = {}

    def days(self):
        """(key, label, field list) for the seven weekdays."""
        return [(key, WEEKDAYS[i], self[key]) for i, key in enumerate(DAY_KEYS)]

    def validate_timezone(self, field):
        typed = (field.data or "").strip()
        zone = resolve(typed)
        if zone is None:
            raise ValidationError(unknown(typed))
        field.data = zone

    def validate_slug(self, field):
        if field.data and services.slug_taken(field.data, self.calendar_id):
            raise ValidationError("Another calendar already uses this slug.")

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        for key, _label, rows in self.days():
            if problems := self._day_problems([row.form.minutes() for row in rows]):
                self.day_errors[key] = problems
                ok = False
        by_date: dict = {}
        for row in self.date_overrides:
            form = row.form
            if form.day.data is None:
                continue
            if not form.closed.data:
                start, end = form.minutes()
                if start is None or end is None:
                    form.start.errors = [*form.start.errors, "Enter the hours, or tick Closed all day."]
                    ok = False
                    continue
                by_date.setdefault(form.day.data, []).append((start, end))
        for day, ranges in by_date.items():
            if problems := range_errors(ranges):
                self.day_errors[f"override-{day.isoformat()}"] = problems
                ok = False
        return ok

    @staticmethod
    def _day_problems(ranges):
        if any(start is None or end is None for start, end in ranges):
            return []  # the row itself already says what is wrong
        return range_errors(ranges)

    def weekly(self) -> dict[int, list[tuple[int, int]]]:
        """Validated weekly ranges for the service."""
        return {i: [row.form.minutes() for row in self[key]] for i, key in enumerate(DAY_KEYS)}

    def override_rows(self):
        """Validated overrides as (date, start, end); None minutes for a closed day."""
        rows = []
        for row in self.date_overrides:
            form = row.form
            if form.closed.data:
                rows.append((form.day.data, None, None))
            else:
                rows.append((form.day.data, *form.minutes()))
        return rows

    def settings(self) -> dict:
        """Validated scalar settings for the service."""
        data = {key: self[key].data for key in services.SETTINGS}
        for key in ("buffer_before", "buffer_after", "min_notice", "change_cutoff_hours"):
            data[key] = data[key] or 0
        data["slug"] = data["slug"] or None
        data["description"] = data["description"] or ""
        data["location"] = (data["location"] or "").strip()
        data["confirmation_message"] = data["confirmation_message"] or ""
        data["notify_email"] = (data["notify_email"] or "").strip().lower()
        data["sender_name"] = (data["sender_name"] or "").strip()
        data["sender_email"] = (data["sender_email"] or "").strip()
        data["allow_other_email"] = bool(data["allow_other_email"])
        data["rearm_on_cancel"] = bool(data["rearm_on_cancel"])
        data["rearm_on_no_show"] = bool(data["rearm_on_no_show"])
        data["language"] = data["language"] or DEFAULT_LANGUAGE
        return data

    def load(self, calendar):
        """Fill the rows from a saved calendar (for GET)."""
        for i, key in enumerate(DAY_KEYS):
            for r in (r for r in calendar.ranges if r.weekday == i):
                self[key].append_entry({"start": hhmm(r.start_minute), "end": hhmm(r.end_minute)})
        for o in calendar.overrides:
            self.date_overrides.append_entry(
                {"day": o.day, "closed": o.closed, "start": hhmm(o.start_minute), "end": hhmm(o.end_minute)}
            )

    def edit_rows(self, action: str) -> bool:
        """Apply an 'add-mon' / 'remove-mon-2' / 'add-override' button; True when one was applied."""
        match = re.fullmatch(r"(add|remove)-(\w+?)(?:-(\d+))?", action or "")
        if not match or match[2] not in (*DAY_KEYS, "override"):
            return False
        rows = self.date_overrides if match[2] == "override" else self[match[2]]
        if match[1] == "add":
            if rows is self.date_overrides:
                rows.append_entry({"closed": True})
            else:
                last_end = rows.entries[-1].form.end.data if rows.entries else None
                start = last_end if last_end and last_end != "00:00" else "09:00"
                rows.append_entry({"start": start, "end": hhmm(min((parse_minutes(start) or 540) + 60, 1440))})
        elif match[3] is not None:
            index = int(match[3])
            rows.entries = [e for e in rows.entries if not e.id.endswith(f"-{index}")]
        return True
