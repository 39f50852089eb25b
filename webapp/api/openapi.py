"""The OpenAPI 3.1 description of API v1, served at /api/v1/openapi.json.

Built here from the same limits the views and the calendar form enforce (ids, lengths, ranges,
page sizes), so the document cannot drift from them; docs/api.md tells the story with examples.
tests/integration/api/test_api_schema.py runs schemathesis against a live server with it: every answer
must match, and no input may get a 5xx.
"""

from webapp.api.schemas import MAX_EXPIRY_HOURS, MAX_PAGE, MAX_SLOT_DAYS
from webapp.booking.links import MAX_META_BYTES
from webapp.booking.services import REASON_MAX
from webapp.calendars.availability import FIRST_DAY, LAST_DAY
from webapp.calendars.forms import DAY_KEYS
from webapp.contacts import services as contacts
from webapp.extensions import MAX_ID
from webapp.hosts.connections import LABEL_MAX, PASSWORD_MAX, URL_MAX, USERNAME_MAX
from webapp.hosts.models import ASSIGNMENTS, NAME_MAX
from webapp.paging import MAX_CURSOR

ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
INSTANT = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$", "examples": ["2026-12-07T15:00:00Z"]}
MAYBE_INSTANT = {"oneOf": [INSTANT, {"type": "null"}]}
DAY = {"type": "string", "format": "date", "examples": ["2026-12-07"]}
HHMM = {"type": "string", "pattern": r"^\d{2}:\d{2}$"}
METADATA = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": f"A flat object of strings, at most {MAX_META_BYTES} bytes as UTF-8 JSON.",
}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {"oneOf": [schema, {"type": "null"}]}


def _int(minimum: int, maximum: int, nullable: bool = False) -> dict:
    schema = {"type": "integer", "minimum": minimum, "maximum": maximum}
    return _nullable(schema) if nullable else schema


def _object(properties: dict, required=None, closed: bool = True) -> dict:
    schema: dict[str, object] = {"type": "object", "properties": properties}
    schema["required"] = sorted(properties) if required is None else sorted(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


# One line of visible text (webapp/text.py): no line break, control character or direction override.
SINGLE_LINE = {
    "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069]*$",
    "description": "One line of visible text: line breaks, control characters and direction overrides are refused.",
}
# Settings of a calendar: what POST takes, and (with nulls where the admin may clear them) what GET shows.
CALENDAR_SETTINGS = {
    "name": {"type": "string", "minLength": 1, "maxLength": 120, **SINGLE_LINE},
    "slug": {
        "type": "string",
        "maxLength": 80,
        "pattern": "^([a-z0-9]+(-[a-z0-9]+)*)?$",
        "description": "The public address part; empty or not sent: made from the name.",
    },
    "description": {"type": "string", "maxLength": 5000},
    "location": {"type": "string", "maxLength": 500, **SINGLE_LINE},
    "timezone": _ref("TimeZone"),
    "duration_minutes": _int(5, 1440),
    "slot_interval_minutes": _int(5, 1440, nullable=True),
    "buffer_before_minutes": _int(0, 1440),
    "buffer_after_minutes": _int(0, 1440),
    "min_notice_minutes": _int(0, 365 * 24 * 60),
    "booking_window_days": _int(1, 730, nullable=True),
    "max_per_day": _int(1, 1000, nullable=True),
    "seats": _int(1, 1000),
    "change_cutoff_hours": _int(0, 2160),
    "confirmation_message": {"type": "string", "maxLength": 5000},
    "notify_email": {"type": "string", "maxLength": 254},
    "sender_name": {
        "type": "string",
        "maxLength": 100,
        **SINGLE_LINE,
        "description": "Whom this calendar's mail is from; empty: the branding's sender name, else the server's.",
    },
    "sender_email": {
        "type": "string",
        "maxLength": 254,
        "description": "The address this calendar's mail is from (one your mail server may send as); empty: the"
        " branding's, else MAIL_DEFAULT_SENDER's.",
    },
    "allow_other_email": {
        "type": "boolean",
        "description": "Invitees may book a contact's link with another email (the contact is then told).",
    },
    "rearm_on_cancel": {
        "type": "boolean",
        "description": "Links made from now on book again after their booking is cancelled.",
    },
    "rearm_on_no_show": {
        "type": "boolean",
        "description": "Links made from now on book again after their booking is marked a no-show.",
    },
}
AVAILABILITY = {
    "type": "object",
    "description": 'Weekly hours: {"mon": [["09:00", "17:00"]], …}; an end of "00:00" is midnight.',
    "properties": {
        key: {
            "type": "array",
            "items": {"type": "array", "items": HHMM, "minItems": 2, "maxItems": 2},
        }
        for key in DAY_KEYS
    },
    "additionalProperties": False,
}

HOST_IDS = {
    "type": "array",
    "items": ID,
    "description": "The calendar's hosts, in order: exactly one for single, at least one otherwise; active hosts.",
}
ASSIGNMENT = {
    "enum": list(ASSIGNMENTS),
    "description": "single: one host; round_robin: one available host per booking; collective: every host attends.",
}
HOST_SETTINGS = {
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX, **SINGLE_LINE},
    "email": {"type": "string", "maxLength": 254, "format": "email", "description": "Unique among hosts (any case)."},
    "timezone": _ref("TimeZone"),
}

SCHEMAS = {
    # Not an enum of the ~600 zones: it would slow every client that validates against this document.
    "TimeZone": {"type": "string", "description": "An IANA time zone, e.g. Europe/London.", "examples": ["UTC"]},
    "Error": _object(
        {
            "error": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        required=["error"],
    ),
    "Contact": _object(
        {
            "id": ID,
            "email": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "phone": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "created_at": INSTANT,
            "updated_at": INSTANT,
        }
    ),
    "ContactInput": _object(
        {
            "email": {"type": "string", "maxLength": contacts.MAX_LENGTHS["email"], "format": "email"},
            "first_name": _nullable({"type": "string", "maxLength": contacts.MAX_LENGTHS["first_name"], **SINGLE_LINE}),
            "last_name": _nullable({"type": "string", "maxLength": contacts.MAX_LENGTHS["last_name"], **SINGLE_LINE}),
            "phone": _nullable(
                {"type": "string", "maxLength": contacts.MAX_LENGTHS["phone"], "pattern": r"^[0-9 +\-().]*$"}
            ),
            "tags": _nullable({"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 64}}),
        },
        required=["email"],
    ),
    "Calendar": _object(
        {
            "id": ID,
            **CALENDAR_SETTINGS,
            "slug": {"type": "string"},
            "availability": AVAILABILITY,
            "status": {"enum": ["active", "inactive", "archived"]},
            "assignment": ASSIGNMENT,
            "host_ids": {"type": "array", "items": ID},
            "created_at": INSTANT,
        }
    ),
    # null leaves a setting at its default, as if it were not sent.
    "CalendarInput": _object(
        {
            **{name: schema if name == "name" else _nullable(schema) for name, schema in CALENDAR_SETTINGS.items()},
            "availability": _nullable(AVAILABILITY),
            "host_ids": _nullable(HOST_IDS),
            "assignment": _nullable(ASSIGNMENT),
        },
        required=["name"],
    ),
    # PATCH: what is not sent stays; null puts a setting back to its default, as in CalendarInput.
    "CalendarUpdate": _object(
        {
            **{name: _nullable(schema) for name, schema in CALENDAR_SETTINGS.items()},
            "availability": _nullable(AVAILABILITY),
            "host_ids": _nullable(HOST_IDS),
            "assignment": _nullable(ASSIGNMENT),
        },
        required=[],
    ),
    "Host": _object(
        {
            "id": ID,
            "name": {"type": "string"},
            "email": {"type": "string"},
            "timezone": {"type": "string"},
            "is_active": {"type": "boolean"},
            "is_admin": {"type": "boolean", "description": "The host is an admin (every admin is a host)."},
            "photo_url": _nullable({"type": "string", "description": "Public; a new photo gets a new URL."}),
            "own_hours": {"type": "boolean"},
            "created_at": INSTANT,
            "updated_at": INSTANT,
        }
    ),
    "HostInput": _object(
        {**HOST_SETTINGS, "timezone": _nullable(_ref("TimeZone"))},
        required=["name", "email"],
    ),
    "HostUpdate": _object(
        {
            **{name: _nullable(schema) for name, schema in HOST_SETTINGS.items()},
            "is_active": {"type": "boolean", "description": "false: no calendar offers the host any more."},
        },
        required=[],
    ),
    "HostList": _object(
        {
            "hosts": {"type": "array", "items": _ref("Host")},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            "next": _nullable({"type": "string", "maxLength": MAX_CURSOR}),
        }
    ),
    "CalendarList": _object({"calendars": {"type": "array", "items": _ref("Calendar")}}),
    "Slots": _object(
        {
            "calendar_id": ID,
            "timezone": {"type": "string"},
            "start": DAY,
            "end": DAY,
            "slots": {
                "type": "array",
                "items": _object({"start": INSTANT, "end": INSTANT, "seats_left": {"type": "integer", "minimum": 1}}),
            },
        }
    ),
    "Link": _object(
        {
            "id": ID,
            "url": {"type": "string", "description": "The personal booking URL: a secret."},
            "status": {"enum": ["active", "opened", "used", "expired", "revoked"]},
            "calendar_id": ID,
            "contact_id": _nullable(ID),
            "source": {"type": "string"},
            "metadata": METADATA,
            "created_at": INSTANT,
            "expires_at": MAYBE_INSTANT,
            "opened_at": MAYBE_INSTANT,
            "used_at": MAYBE_INSTANT,
            "revoked_at": MAYBE_INSTANT,
            "booking_id": _nullable(ID),
        }
    ),
    "LinkInput": _object(
        {
            "calendar_id": ID,
            "contact_id": ID,
            "email": {"type": "string", "format": "email", "description": "Instead of contact_id: found or created."},
            "expires_in_hours": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_EXPIRY_HOURS},
            "metadata": METADATA,
        },
        required=["calendar_id"],
    ),
    "Booking": _object(
        {
            "id": ID,
            "calendar_id": ID,
            "contact_id": _nullable(ID),
            "start": INSTANT,
            "end": INSTANT,
            "status": {"enum": ["confirmed", "cancelled"]},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "timezone": {"type": "string"},
            "notes": {"type": "string"},
            "created_at": INSTANT,
            "cancelled_at": MAYBE_INSTANT,
            "one_time_link_id": _nullable(ID),
            "metadata": _nullable(METADATA),
            "host_ids": {
                "type": "array",
                "items": ID,
                "description": "The hosts the meeting is with (one, or every host of a collective calendar); "
                "empty for a calendar without hosts.",
            },
        }
    ),
    "Connection": _object(
        {
            "id": ID,
            "host_id": ID,
            "kind": {"enum": ["caldav", "ics"]},
            "label": {"type": "string"},
            "server": {"type": "string", "description": "CalDAV: the server's address; ICS: only the feed's host."},
            "status": {"enum": ["pending", "ok", "error"]},
            "error": _nullable({"type": "string"}),
            "stale_policy": {"enum": ["busy", "ignore"]},
            "last_success_at": MAYBE_INSTANT,
            "next_sync_at": MAYBE_INSTANT,
            "username": {"type": "string"},
            "calendars": {
                "type": "array",
                "items": _object({"url": {"type": "string"}, "name": {"type": "string"}, "read": {"type": "boolean"}}),
            },
            "calendar_urls": {"type": "array", "items": {"type": "string"}},
            "write_calendar_url": _nullable({"type": "string"}),
            "blocks": {"type": "integer", "minimum": 0, "description": "After a sync: the busy blocks it holds."},
        },
        required=[
            "id",
            "host_id",
            "kind",
            "label",
            "server",
            "status",
            "error",
            "stale_policy",
            "last_success_at",
            "next_sync_at",
        ],
    ),
    "ConnectionInput": _object(
        {
            "kind": {"enum": ["caldav", "ics"]},
            "url": {
                "type": "string",
                "minLength": 1,
                "maxLength": URL_MAX,
                "description": "CalDAV: the server's address; ICS: the feed's (secret) address, webcal:// accepted.",
            },
            "username": {"type": "string", "minLength": 1, "maxLength": USERNAME_MAX, "description": "CalDAV only."},
            "password": {
                "type": "string",
                "minLength": 1,
                "maxLength": PASSWORD_MAX,
                "description": "CalDAV only; stored encrypted, never shown again.",
            },
            "calendar_urls": {
                "type": "array",
                "items": {"type": "string"},
                "description": "CalDAV only: the calendars to read busy time from (default: all the account's).",
            },
            "write_calendar_url": {
                "type": "string",
                "description": "CalDAV only: the calendar bookings are added to (default: the first found).",
            },
            "label": {"type": "string", "maxLength": LABEL_MAX},
            "stale_policy": {"enum": ["busy", "ignore"], "description": "When it can't be read for a while."},
        },
        required=["kind", "url"],
    ),
    "ConnectionList": _object({"connections": {"type": "array", "items": _ref("Connection")}}),
    "CancelInput": _object(
        {"reason": {"type": "string", "maxLength": REASON_MAX, "description": "Sent to the invitee."}},
        required=[],
    ),
    "BookingList": _object(
        {
            "bookings": {"type": "array", "items": _ref("Booking")},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
            "offset": {"type": "integer", "minimum": 0, "maximum": MAX_ID},
            # Pass it back as ?after= for the page after this one; null on the last page.
            "next": _nullable({"type": "string", "maxLength": MAX_CURSOR}),
        }
    ),
}

ERRORS = {
    "400": "The body is not valid JSON, or not a JSON object.",
    "401": "No API key, or one that is unknown or revoked.",
    "404": "No such object.",
    "409": "The request conflicts with the object's state.",
    "413": "The body is too large.",
    "422": "A field is missing or invalid: see `fields`.",
}


def _answer(description: str, schema: dict) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict:
    return {code: {"$ref": f"#/components/responses/E{code}"} for code in ("401", *codes)}


def _body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: dict, required: bool = False, description: str = "") -> dict:
    parameter = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _day(name: str) -> dict:
    day = {**DAY, "description": f"A day from {FIRST_DAY} to {LAST_DAY}."}
    return _query(name, day, required=True)


PATHS = {
    "/contacts": {
        "post": {
            "operationId": "contacts_upsert",
            "summary": "Create a contact, or update the one with this email (any case).",
            "requestBody": _body("ContactInput"),
            "responses": {
                "200": _answer("Updated: the contact with this email.", _ref("Contact")),
                "201": _answer("Created.", _ref("Contact")),
                **_errors("400", "413", "422"),
            },
        },
        "get": {
            "operationId": "contacts_find",
            "summary": "The contact with this email (any case).",
            "parameters": [_query("email", {"type": "string", "minLength": 1}, required=True)],
            "responses": {"200": _answer("The contact.", _ref("Contact")), **_errors("404", "422")},
        },
    },
    "/calendars": {
        "get": {
            "operationId": "calendars_list",
            "summary": "Every calendar, archived ones last.",
            "responses": {"200": _answer("The calendars.", _ref("CalendarList")), **_errors()},
        },
        "post": {
            "operationId": "calendars_create",
            "summary": "A new calendar, checked as the calendar page checks it.",
            "requestBody": _body("CalendarInput"),
            "responses": {"201": _answer("Created.", _ref("Calendar")), **_errors("400", "413", "422")},
        },
    },
    "/calendars/{calendar_id}": {
        "get": {
            "operationId": "calendars_show",
            "summary": "One calendar.",
            "parameters": [_path_id("calendar_id")],
            "responses": {"200": _answer("The calendar.", _ref("Calendar")), **_errors("404")},
        },
        "patch": {
            "operationId": "calendars_update",
            "summary": "Change what the body sends (settings, availability, host_ids, assignment); the rest stays.",
            "parameters": [_path_id("calendar_id")],
            "requestBody": _body("CalendarUpdate"),
            "responses": {"200": _answer("The calendar.", _ref("Calendar")), **_errors("400", "404", "413", "422")},
        },
    },
    "/hosts": {
        "get": {
            "operationId": "hosts_list",
            "summary": "Hosts by name, a page at a time.",
            "parameters": [
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100}),
                _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0}),
                _query(
                    "after",
                    {"type": "string", "maxLength": MAX_CURSOR},
                    description="The previous page's next: the page after it (not with offset).",
                ),
            ],
            "responses": {"200": _answer("One page of hosts.", _ref("HostList")), **_errors("422")},
        },
        "post": {
            "operationId": "hosts_create",
            "summary": "A new host (a team member who does not sign in).",
            "requestBody": _body("HostInput"),
            "responses": {"201": _answer("Created.", _ref("Host")), **_errors("400", "413", "422")},
        },
    },
    "/hosts/{host_id}": {
        "get": {
            "operationId": "hosts_show",
            "summary": "One host.",
            "parameters": [_path_id("host_id")],
            "responses": {"200": _answer("The host.", _ref("Host")), **_errors("404")},
        },
        "patch": {
            "operationId": "hosts_update",
            "summary": "Change a host's name, email, timezone or is_active; the rest stays.",
            "parameters": [_path_id("host_id")],
            "requestBody": _body("HostUpdate"),
            "responses": {"200": _answer("The host.", _ref("Host")), **_errors("400", "404", "413", "422")},
        },
    },
    "/calendars/{calendar_id}/slots": {
        "get": {
            "operationId": "calendars_slots",
            "summary": f"Open slots whose start falls on the days start..end (at most {MAX_SLOT_DAYS} days).",
            "parameters": [
                _path_id("calendar_id"),
                _day("start"),
                _day("end"),
                _query(
                    "timezone",
                    {"anyOf": [_ref("TimeZone"), {"const": ""}]},
                    description="The zone the days are read in; empty or not sent: the calendar's.",
                ),
            ],
            "responses": {"200": _answer("The open slots.", _ref("Slots")), **_errors("404", "422")},
        },
    },
    "/one-time-links": {
        "post": {
            "operationId": "links_create",
            "summary": "Issue a one-time link on a calendar for a contact (by id, or by email).",
            "requestBody": _body("LinkInput"),
            "responses": {"201": _answer("Created.", _ref("Link")), **_errors("400", "404", "409", "413", "422")},
        },
    },
    "/one-time-links/{link_id}": {
        "get": {
            "operationId": "links_show",
            "summary": "A link as it is now.",
            "parameters": [_path_id("link_id")],
            "responses": {"200": _answer("The link.", _ref("Link")), **_errors("404")},
        },
    },
    "/bookings": {
        "get": {
            "operationId": "bookings_list",
            "summary": "Bookings by start time, cancelled ones included.",
            "parameters": [
                _query("calendar_id", ID, description="Only this calendar's bookings."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 100}),
                _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0}),
                _query(
                    "after",
                    {"type": "string", "maxLength": MAX_CURSOR},
                    description="The previous page's next: the page after it, as cheap as the first (not with offset).",
                ),
            ],
            "responses": {"200": _answer("One page of bookings.", _ref("BookingList")), **_errors("404", "422")},
        },
    },
    "/bookings/{booking_id}/cancel": {
        "post": {
            "operationId": "bookings_cancel",
            "summary": (
                "Cancel a booking as the organiser; the invitee is emailed the cancellation (METHOD:CANCEL), "
                "with the reason if one is given."
            ),
            "parameters": [_path_id("booking_id")],
            "requestBody": {**_body("CancelInput"), "required": False},
            "responses": {
                "200": _answer("The cancelled booking.", _ref("Booking")),
                **_errors("400", "404", "409", "413", "422"),
            },
        },
    },
    "/hosts/{host_id}/connections": {
        "get": {
            "operationId": "connections_list",
            "summary": "A host's connected calendars (CalDAV accounts, ICS feeds).",
            "parameters": [_path_id("host_id")],
            "responses": {"200": _answer("The connections.", _ref("ConnectionList")), **_errors("404")},
        },
        "post": {
            "operationId": "connections_create",
            "summary": "Connect a CalDAV account or subscribe to an ICS feed; the worker reads it within moments.",
            "parameters": [_path_id("host_id")],
            "requestBody": _body("ConnectionInput"),
            "responses": {
                "201": _answer("Saved, status pending.", _ref("Connection")),
                **_errors("400", "404", "413", "422"),
            },
        },
    },
    "/hosts/{host_id}/connections/{connection_id}": {
        "delete": {
            "operationId": "connections_delete",
            "summary": "Remove a connection and the busy time read from it.",
            "parameters": [_path_id("host_id"), _path_id("connection_id")],
            "responses": {"200": _answer("Removed; the connection as it was.", _ref("Connection")), **_errors("404")},
        },
    },
    "/hosts/{host_id}/connections/{connection_id}/sync": {
        "post": {
            "operationId": "connections_sync",
            "summary": "Read the connection now: its status, the error in words, and the busy blocks it holds.",
            "parameters": [_path_id("host_id"), _path_id("connection_id")],
            "responses": {"200": _answer("The connection after the read.", _ref("Connection")), **_errors("404")},
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document (no API key needed).",
            "security": [],
            "responses": {"200": _answer("The OpenAPI document.", {"type": "object"})},
        },
    },
}


def document(server_url: str) -> dict:
    """The whole OpenAPI document, with `server_url` (the API's base URL) as its server."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "OneSlot API",
            "version": "1",
            "description": "One-time booking links, contacts, calendars and their open slots. See docs/api.md.",
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API key from Settings › API keys: `Authorization: Bearer os_live_…`.",
                }
            },
            "schemas": SCHEMAS,
            "responses": {f"E{code}": _answer(text, _ref("Error")) for code, text in ERRORS.items()},
        },
    }
