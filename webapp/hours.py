"""Weekly hours as people type them: HH:MM fields, a row of one range, minutes since midnight.

Shared by the calendar editor (`calendars/forms.py`) and a host's own hours (`hosts/forms.py`); the
ranges of one day are checked by the slot engine's own `range_errors` (pure, like `params`' use of it)."""

import re

from wtforms import FieldList, Form, FormField, StringField
from wtforms.validators import DataRequired, ValidationError

from webapp.calendars.availability import range_errors

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")

__all__ = [
    "DAY_KEYS",
    "TIME_RE",
    "WEEKDAYS",
    "RangeForm",
    "TimeText",
    "day_problems",
    "hhmm",
    "parse_minutes",
    "valid_time",
]


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


def day_problems(ranges) -> list[str]:
    """What is wrong with one day's ranges together (overlaps, end before start); a row with a bad time
    already says so itself."""
    if any(start is None or end is None for start, end in ranges):
        return []
    return range_errors(ranges)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class WeeklyHours:
    """The seven weekdays' ranges of a form: the calendar editor's weekly availability and a host's own
    hours (templates/_weekly.html writes their rows). Mixed into a FlaskForm."""

    mon = FieldList(FormField(RangeForm), label=WEEKDAYS[0])
    tue = FieldList(FormField(RangeForm), label=WEEKDAYS[1])
    wed = FieldList(FormField(RangeForm), label=WEEKDAYS[2])
    thu = FieldList(FormField(RangeForm), label=WEEKDAYS[3])
    fri = FieldList(FormField(RangeForm), label=WEEKDAYS[4])
    sat = FieldList(FormField(RangeForm), label=WEEKDAYS[5])
    sun = FieldList(FormField(RangeForm), label=WEEKDAYS[6])

    def days(self):
        """(key, label, field list) for the seven weekdays."""
        return [(key, WEEKDAYS[i], self[key]) for i, key in enumerate(DAY_KEYS)]
