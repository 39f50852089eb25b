"""JSON in and out of API v1: objects as the API shows them, and request bodies checked for shape.

The rules themselves (what an email, a tag, a calendar or metadata may be) stay with the services
and the calendar form; this module only turns JSON into their input and their answers into JSON.
"""

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime

from flask import request, url_for
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from webapp import params
from webapp.booking import links
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars import services as calendars
from webapp.calendars.forms import DAY_KEYS, CalendarForm, hhmm
from webapp.calendars.models import Calendar
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact, normalize_tag
from webapp.hosts.forms import HostForm
from webapp.hosts.models import ASSIGNMENTS, CALDAV, SINGLE, Connection, Host

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Limits of the API's own (webapp/api/openapi.py states them in the document).
MAX_SLOT_DAYS = 62
MAX_EXPIRY_HOURS = 8760  # one year
MAX_PAGE = 500

# API name -> calendar form field; the API spells units out, the form and the model do not.
CALENDAR_FIELDS = {
    "name": "name",
    "slug": "slug",
    "description": "description",
    "location": "location",
    "timezone": "timezone",
    "duration_minutes": "duration",
    "slot_interval_minutes": "slot_interval",
    "buffer_before_minutes": "buffer_before",
    "buffer_after_minutes": "buffer_after",
    "min_notice_minutes": "min_notice",
    "booking_window_days": "window_days",
    "max_per_day": "max_per_day",
    "seats": "seats",
    "confirmation_message": "confirmation_message",
    "change_cutoff_hours": "change_cutoff_hours",
    "notify_email": "notify_email",
    "sender_name": "sender_name",
    "sender_email": "sender_email",
    "allow_other_email": "allow_other_email",
    "rearm_on_cancel": "rearm_on_cancel",
    "rearm_on_no_show": "rearm_on_no_show",
}
CALENDAR_INTEGERS = {
    "duration_minutes",
    "slot_interval_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "min_notice_minutes",
    "booking_window_days",
    "max_per_day",
    "seats",
    "change_cutoff_hours",
}
CALENDAR_BOOLEANS = {"allow_other_email", "rearm_on_cancel", "rearm_on_no_show"}
# What the "new calendar" page starts with, so a minimal request makes the same calendar.
CALENDAR_DEFAULTS = {"timezone": "UTC", "duration_minutes": 30, "seats": 1}
DEFAULT_AVAILABILITY = {key: [["09:00", "17:00"]] for key in DAY_KEYS[:5]}


class ApiError(Exception):
    """An answer other than success: HTTP status, a message, and per-field messages when there are some."""

    def __init__(self, status: int, message: str, fields: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = dict(fields or {})

    def body(self) -> dict:
        """The JSON error object."""
        return {"error": self.message, "fields": self.fields} if self.fields else {"error": self.message}


def invalid(fields: Mapping[str, str]) -> ApiError:
    """A 422 for per-field problems."""
    return ApiError(422, "Some fields are invalid; see fields.", fields)


# --- request bodies ------------------------------------------------------------------------------


def body(allowed: set[str]) -> dict:
    """The request's JSON object; 400 when it is not JSON or not an object, 422 for unknown fields."""
    try:
        data = request.get_json(force=True)  # force: a client that forgets Content-Type still works
    except BadRequest:
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    # Refusing unknown names catches typos ("duration" for "duration_minutes") instead of ignoring them.
    if unknown := sorted(set(data) - allowed):
        raise invalid({name: "Unknown field." for name in unknown})
    return data


def integer(value) -> bool:
    """True for a JSON integer (a bool is not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def positive_id(data: Mapping, name: str, errors: dict) -> int | None:
    """data[name] as an id, or None (with a message in errors when it is there but not an id)."""
    value = data.get(name)
    if value is None:
        return None
    if not integer(value) or not 0 < value < 2**31:
        errors[name] = "Must be a positive whole number (an id)."
        return None
    return value


def day(value: str | None, name: str, errors: dict) -> date | None:
    """A YYYY-MM-DD query argument, or None with a message in errors."""
    if not value:
        errors[name] = "Required, as YYYY-MM-DD."
        return None
    try:
        if not DATE_RE.match(value):
            raise ValueError
        return params.day(value)
    except params.OutOfRange as exc:
        errors[name] = str(exc)
    except ValueError:
        errors[name] = f"{value!r} is not a date like 2026-12-01."
    return None


def contact_input(data: Mapping) -> tuple[dict, list[str]]:
    """Contact fields and tag names from a request body, or a 422 listing every problem."""
    errors: dict[str, str] = {}
    fields: dict[str, str] = {}
    for key in contacts.FIELDS:
        if key not in data:
            continue
        value = "" if data[key] is None else data[key]
        if not isinstance(value, str):
            errors[key] = "Must be a string."
            continue
        value = value.strip()
        if key in contacts.NAME_FIELDS:
            if error := contacts.name_error(key, value):
                errors[key] = error
        elif len(value) > contacts.MAX_LENGTHS[key]:
            errors[key] = f"{contacts.LABELS[key]} is longer than {contacts.MAX_LENGTHS[key]} characters."
        fields[key] = value
    if "email" not in errors and (error := contacts.email_error(fields.get("email", ""))):
        errors["email"] = error
    if "phone" not in errors and (error := contacts.phone_error(fields.get("phone", ""))):
        errors["phone"] = error
    tags = data.get("tags")
    tags = [] if tags is None else tags  # null adds none; {} or "" is a mistake, not an empty list
    if not isinstance(tags, list) or not all(isinstance(name, str) for name in tags):
        errors["tags"] = "Must be a list of strings."
        tags = []
    elif problems := [error for name in tags if (error := contacts.tag_error(normalize_tag(name)))]:
        errors["tags"] = " ".join(problems)
    if errors:
        raise invalid(errors)
    return fields, tags


def calendar_form(data: Mapping, calendar: Calendar | None = None) -> CalendarForm:
    """The calendar page's own form filled from a request body and validated; 422 with its messages.
    With `calendar` (PATCH): what the body leaves out stays as the calendar has it."""
    errors: dict[str, str] = {}
    formdata: MultiDict[str, str] = MultiDict()
    start = CALENDAR_DEFAULTS
    if calendar is not None:
        current = calendar_json(calendar)
        start = {name: current[name] for name in CALENDAR_FIELDS}
        start["availability"] = current["availability"]
    for name, value in {**start, **data}.items():
        if name in ("availability", "host_ids", "assignment"):
            continue
        if value is None:
            if calendar is not None and name not in data:
                formdata[CALENDAR_FIELDS[name]] = ""  # a setting the calendar has cleared stays cleared
            continue
        if name in CALENDAR_INTEGERS and not integer(value):
            errors[name] = "Must be a whole number."
        elif name in CALENDAR_BOOLEANS:
            if not isinstance(value, bool):
                errors[name] = "Must be true or false."
            elif value:
                formdata[CALENDAR_FIELDS[name]] = "y"  # a checkbox: present when on
        elif name not in CALENDAR_INTEGERS and not isinstance(value, str):
            errors[name] = "Must be a string."
        else:
            formdata[CALENDAR_FIELDS[name]] = str(value)
    # null is the default, as for every other field; [] or "" is a mistake, not "no hours" ({} is).
    availability = data.get("availability")
    if availability is None:
        availability = DEFAULT_AVAILABILITY if calendar is None else start["availability"]
    if not isinstance(availability, dict):
        errors["availability"] = 'Must be an object like {"mon": [["09:00", "17:00"]]}.'
        availability = {}
    for key, ranges in availability.items():
        field = f"availability.{key}"
        if key not in DAY_KEYS:
            errors[field] = f"Unknown day; use {', '.join(DAY_KEYS)}."
        elif not isinstance(ranges, list) or not all(_is_range(r) for r in ranges):
            errors[field] = 'Must be a list of ["HH:MM", "HH:MM"] pairs.'
        else:
            for i, (start, end) in enumerate(ranges):
                formdata[f"{key}-{i}-start"], formdata[f"{key}-{i}-end"] = start, end
    form = CalendarForm(formdata=formdata, meta={"csrf": False}, calendar_id=calendar.id if calendar else None)
    if not form.validate() or errors:
        # Every problem at once; a field of the wrong type keeps its own message.
        raise invalid({**_form_errors(form), **errors})
    return form


def calendar_hosts(data: Mapping, calendar: Calendar | None = None):
    """(host ids, assignment, priorities) from a body's host_ids / assignment, or None when it sends neither;
    what it leaves out stays as the calendar has it. 422 for anything the calendar page would refuse."""
    host_ids, assignment = data.get("host_ids"), data.get("assignment")
    if host_ids is None and assignment is None:
        return None
    errors: dict[str, str] = {}
    if host_ids is None:
        host_ids = [link.host_id for link in calendar.host_links] if calendar is not None else []
    elif not isinstance(host_ids, list) or not all(integer(i) and 0 < i < 2**31 for i in host_ids):
        errors["host_ids"] = "Must be a list of host ids."
    if assignment is None:
        assignment = calendar.assignment if calendar is not None else SINGLE
    elif not isinstance(assignment, str) or assignment not in ASSIGNMENTS:
        errors["assignment"] = f"One of {', '.join(ASSIGNMENTS)}."
    if errors:
        raise invalid(errors)
    own = [link.host_id for link in calendar.host_links] if calendar is not None else []
    if message := calendars.host_errors(host_ids, assignment, allowed=own):
        raise invalid({"host_ids": message})
    priorities = {link.host_id: link.priority for link in calendar.host_links} if calendar is not None else {}
    return host_ids, assignment, priorities


def host_input(data: Mapping, host: Host | None = None) -> dict:
    """A host's name / email / timezone (and is_active on update) from a body, checked by the host page's
    form; 422 with every problem. With `host` (PATCH): only what the body sends changes."""
    errors: dict[str, str] = {}
    formdata: MultiDict[str, str] = MultiDict()
    for name in ("name", "email", "timezone"):
        value = data.get(name)
        if value is None:
            if host is not None:
                formdata[name] = getattr(host, name)
            elif name == "timezone":
                formdata[name] = "UTC"
        elif not isinstance(value, str):
            errors[name] = "Must be a string."
        else:
            formdata[name] = value
    if "is_active" in data and not isinstance(data["is_active"], bool):
        errors["is_active"] = "Must be true or false."
    form = HostForm(formdata=formdata, meta={"csrf": False}, host_id=host.id if host else None)
    if not form.validate() or errors:
        raise invalid({**{name: " ".join(messages) for name, messages in form.errors.items()}, **errors})
    changes = {name: value for name, value in form.changes().items() if host is None or name in data}
    if "is_active" in data:
        changes["is_active"] = data["is_active"]
    return changes


def _is_range(value) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(isinstance(t, str) for t in value)


def _form_errors(form: CalendarForm) -> dict[str, str]:
    to_api = {field: name for name, field in CALENDAR_FIELDS.items()}
    errors = {}
    for field, messages in form.errors.items():
        name = f"availability.{field}" if field in DAY_KEYS else to_api.get(field, field)
        errors[name] = " ".join(dict.fromkeys(_messages(messages)))
    for key, problems in form.day_errors.items():
        if key in DAY_KEYS:
            errors[f"availability.{key}"] = "; ".join(problems)
    return errors


def _messages(errors) -> list[str]:
    """The messages of a field, a day's rows ([{"start": [...]}, …]) or anything nested."""
    if isinstance(errors, str):
        return [errors]
    values = errors.values() if isinstance(errors, Mapping) else errors
    return [message for value in values for message in _messages(value)]


# --- answers -------------------------------------------------------------------------------------


def instant(moment: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC: 2026-12-01T15:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def contact_json(contact: Contact) -> dict:
    """A contact as one flat object."""
    return {
        "id": contact.id,
        "email": contact.email,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "phone": contact.phone,
        "tags": contact.tag_names,
        "created_at": instant(contact.created_at),
        "updated_at": instant(contact.updated_at),
    }


def calendar_json(calendar: Calendar) -> dict:
    """A calendar with its settings and weekly hours (an end of "00:00" is midnight)."""
    result = {name: getattr(calendar, field) for name, field in CALENDAR_FIELDS.items()}
    weekly: dict[str, list[list[str]]] = {key: [] for key in DAY_KEYS}
    for r in calendar.ranges:
        weekly[DAY_KEYS[r.weekday]].append([hhmm(r.start_minute), hhmm(r.end_minute)])
    result.update(
        id=calendar.id,
        status=calendar.status,
        availability=weekly,
        assignment=calendar.assignment,
        host_ids=[link.host_id for link in calendar.host_links],
        created_at=instant(calendar.created_at),
    )
    return result


def host_json(host: Host) -> dict:
    """A host: who they are, whether they are an admin, and their photo's public URL (null without one)."""
    photo = url_for("hosts.photo", host_id=host.id, version=host.photo_version, _external=True)
    return {
        "id": host.id,
        "name": host.name,
        "email": host.email,
        "timezone": host.timezone,
        "is_active": host.is_active,
        "is_admin": host.user_id is not None,
        "photo_url": photo if host.photo_type else None,
        "own_hours": host.own_hours,
        "created_at": instant(host.created_at),
        "updated_at": instant(host.updated_at),
    }


def link_json(link: OneTimeLink) -> dict:
    """A one-time link, with its URL and its state now."""
    return {
        "id": link.id,
        "url": links.url(link),
        "status": link.status,
        "calendar_id": link.calendar_id,
        "contact_id": link.contact_id,
        "source": link.source,
        "metadata": link.meta or {},
        "created_at": instant(link.created_at),
        "expires_at": instant(link.expires_at),
        "opened_at": instant(link.opened_at),
        "used_at": instant(link.used_at),
        "revoked_at": instant(link.revoked_at),
        "booking_id": link.booking_id,
    }


def booking_json(booking: Booking, link: OneTimeLink | None) -> dict:
    """A booking, with the one-time link that made it and that link's metadata (null without one)."""
    return {
        "id": booking.id,
        "calendar_id": booking.calendar_id,
        "contact_id": booking.contact_id,
        "start": instant(booking.start_at),
        "end": instant(booking.end_at),
        "status": booking.status,
        "name": booking.name,
        "email": booking.email,
        "timezone": booking.timezone,
        "notes": booking.notes,
        "created_at": instant(booking.created_at),
        "cancelled_at": instant(booking.cancelled_at),
        "one_time_link_id": link.id if link else None,
        "metadata": (link.meta or {}) if link else None,
        "host_ids": [row.host_id for row in booking.host_rows],
    }


# --- connected calendars -------------------------------------------------------------------------

CONNECTION_FIELDS = {
    "kind",
    "url",
    "username",
    "password",
    "calendar_urls",
    "write_calendar_url",
    "label",
    "stale_policy",
}


def connection_json(connection: Connection, blocks: int | None = None) -> dict:
    """A connected calendar as the API shows it: never its password, and for a feed only the URL's host."""
    result = {
        "id": connection.id,
        "host_id": connection.host_id,
        "kind": connection.kind,
        "label": connection.label,
        "server": connection.url,
        "status": connection.status,
        "error": connection.error or None,
        "stale_policy": connection.stale_policy,
        "last_success_at": instant(connection.last_success_at) if connection.last_success_at else None,
        "next_sync_at": instant(connection.next_sync_at) if connection.next_sync_at else None,
    }
    if connection.kind == CALDAV:
        result.update(
            username=connection.username,
            calendars=[
                {
                    "url": c["url"],
                    "name": c["name"],
                    "read": not connection.read_urls or c["url"] in connection.read_urls,
                }
                for c in connection.found_calendars or []
            ],
            calendar_urls=list(connection.read_urls or []),
            write_calendar_url=connection.write_url or None,
        )
    if blocks is not None:
        result["blocks"] = blocks
    return result
