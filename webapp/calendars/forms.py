"""The calendar settings form, with weekly ranges and date overrides as repeatable rows."""

import re
from dataclasses import dataclass

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
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
from webapp.extensions import db
from webapp.hosts.models import ROUND_ROBIN, SINGLE, Host
from webapp.hours import DAY_KEYS, TimeText, WeeklyHours, day_problems, hhmm, parse_minutes, valid_time
from webapp.i18n import DEFAULT as DEFAULT_LANGUAGE
from webapp.i18n import LANGUAGES
from webapp.text import SingleLine
from webapp.zones import KnownZone


class OverrideForm(Form):
    day = DateField("Date", [DataRequired("Pick a date.")])
    closed = BooleanField("Closed all day")
    start = TimeText("From", [valid_time])
    end = TimeText("Until", [valid_time])

    def minutes(self) -> tuple[int | None, int | None]:
        return parse_minutes(self.start.data), parse_minutes(self.end.data, is_end=True)


# Round robin's tie-break between hosts with as many recent bookings: higher first.
PRIORITIES = {1: "High", 0: "Medium", -1: "Low"}
HOST_CHOICES_MAX = 200  # hosts offered in the editor (active ones by name, plus the calendar's own)


@dataclass
class HostRow:
    """One host in the calendar editor's "Hosts" list, as shown or as posted."""

    id: int
    name: str
    email: str
    is_active: bool
    checked: bool = False
    priority: int = 0


def _host_choices(calendar) -> list[Host]:
    """The hosts the editor offers: the calendar's own (even inactive), then active ones by name."""
    own = list(calendar.hosts) if calendar is not None else []
    query = select(Host).where(Host.is_active.is_(True)).order_by(Host.name, Host.id).limit(HOST_CHOICES_MAX)
    return own + [host for host in db.session.scalars(query) if host not in own]


def _optional_int(label, minimum, maximum, message, default=None):
    return IntegerField(label, [Optional(), NumberRange(minimum, maximum, message)], default=default)


class CalendarForm(WeeklyHours, FlaskForm):
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
    timezone = StringField("Time zone", [DataRequired("Choose a time zone."), KnownZone()], default="UTC")
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
    assignment = RadioField(
        "Who the meeting is with",
        [Optional()],
        choices=[SelectChoice(key, label) for key, label in services.ASSIGNMENT_LABELS.items()],
        default=SINGLE,
    )
    date_overrides = FieldList(FormField(OverrideForm), label="Date overrides")

    def __init__(self, *args, calendar_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_id = calendar_id
        self.day_errors: dict[str, list[str]] = {}
        self.host_rows: list[HostRow] = []
        self.host_error: str | None = None
        self._own_host_ids: list[int] = []
        # The page's "Hosts" section posts hosts_section=1; without it (the API, an old form) hosts stay.
        self.hosts_posted = False

    # --- hosts ---------------------------------------------------------------------------------

    def load_hosts(self, calendar=None, default_host_id: int | None = None) -> None:
        """GET: the calendar's hosts ticked in their order (a new calendar: the default host), then the others."""
        priorities = {link.host_id: link.priority for link in calendar.host_links} if calendar is not None else {}
        ticked = set(priorities) if calendar is not None else {default_host_id}
        self._own_host_ids = list(priorities)
        self.host_rows = [
            HostRow(h.id, h.name, h.email, h.is_active, h.id in ticked, max(-1, min(1, priorities.get(h.id, 0))))
            for h in _host_choices(calendar)
        ]
        if calendar is not None:
            self.assignment.data = calendar.assignment

    def read_hosts(self, formdata, calendar=None) -> None:
        """POST: the rows in the order posted, with their ticks and priorities, so nothing typed is lost."""
        self._own_host_ids = [link.host_id for link in calendar.host_links] if calendar is not None else []
        by_id = {host.id: host for host in _host_choices(calendar)}
        order = [int(v) for v in formdata.getlist("host_order") if v.isdigit() and int(v) in by_id]
        order = list(dict.fromkeys(order)) + [host_id for host_id in by_id if host_id not in order]
        ticked = {int(v) for v in formdata.getlist("host_ids") if v.isdigit()}
        self.hosts_posted = formdata.get("hosts_section") == "1"
        self.host_rows = []
        for host_id in order:
            host = by_id[host_id]
            raw = formdata.get(f"priority-{host_id}", "0")
            priority = int(raw) if raw in ("1", "0", "-1") else 0
            self.host_rows.append(HostRow(host.id, host.name, host.email, host.is_active, host_id in ticked, priority))

    def move_host(self, action: str | None) -> bool:
        """Apply a 'host-up-3' / 'host-down-3' button; True when one was applied."""
        match = re.fullmatch(r"host-(up|down)-(\d+)", action or "")
        if not match:
            return False
        index = next((i for i, row in enumerate(self.host_rows) if row.id == int(match[2])), None)
        other = None if index is None else index + (-1 if match[1] == "up" else 1)
        if index is not None and other is not None and 0 <= other < len(self.host_rows):
            rows = self.host_rows
            rows[index], rows[other] = rows[other], rows[index]
        return True

    def host_settings(self):
        """(host ids in order, assignment, priorities) for the service; None when the hosts were not posted."""
        if not self.hosts_posted:
            return None
        chosen = [row for row in self.host_rows if row.checked]
        assignment = self.assignment.data or SINGLE
        priorities = {row.id: row.priority for row in chosen} if assignment == ROUND_ROBIN else {}
        return [row.id for row in chosen], assignment, priorities

    def validate_slug(self, field):
        if field.errors:  # refused by the field's own validators: nothing to look up
            return
        if field.data and services.slug_taken(field.data, self.calendar_id):
            raise ValidationError("Another calendar already uses this slug.")

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if (hosts := self.host_settings()) is not None:
            self.host_error = services.host_errors(hosts[0], hosts[1], allowed=self._own_host_ids)
            ok = ok and self.host_error is None
        for key, _label, rows in self.days():
            if problems := day_problems([row.form.minutes() for row in rows]):
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
