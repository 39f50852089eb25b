"""JSON API v1: contacts, calendars and their slots, hosts, one-time links, bookings. Every call needs an API key."""

from datetime import timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from webapp import paging
from webapp.api import keys
from webapp.api.openapi import document as openapi_document
from webapp.api.schemas import (
    CALENDAR_FIELDS,
    CONNECTION_FIELDS,
    MAX_EXPIRY_HOURS,
    MAX_PAGE,
    MAX_SLOT_DAYS,
    ApiError,
    body,
    booking_json,
    calendar_form,
    calendar_hosts,
    calendar_json,
    connection_json,
    contact_input,
    contact_json,
    day,
    host_input,
    host_json,
    instant,
    integer,
    invalid,
    link_json,
    positive_id,
)
from webapp.audit import audit
from webapp.booking import links, services
from webapp.booking.history import Actor
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars import services as calendars
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import MAX_ID, db
from webapp.hosts import connections as host_connections
from webapp.hosts import services as hosts
from webapp.hosts import sync as host_sync
from webapp.hosts.models import CALDAV, ICS, Connection, Host
from webapp.zones import resolve

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate():
    """Every call carries `Authorization: Bearer <key>`; the admin's session does not count here."""
    if request.endpoint == "api.openapi":
        return  # the description of the API holds no data: tools fetch it without a key
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "Send an API key: 'Authorization: Bearer <key>'.")
    g.api_key = keys.authenticate(key.strip())
    if g.api_key is None:
        raise ApiError(401, "This API key is not valid or has been revoked.")


@bp.errorhandler(ApiError)
def api_error(exc: ApiError):
    """An ApiError as its JSON answer."""
    db.session.rollback()
    response = jsonify(exc.body())
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="OneSlot API"'
    return response


@bp.after_request
def no_store(response):
    """Answers hold contacts and secret link URLs: no cache keeps them."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _get(model, object_id: int, label: str, field: str | None = None):
    # Ids are 32-bit in the database; a larger one exists nowhere (and would overflow SQLite's driver).
    found = db.session.get(model, object_id) if object_id <= MAX_ID else None
    return found or _not_found(label, object_id, field)


def _not_found(label: str, object_id, field: str | None = None):
    message = f"No {label} with id {object_id}."
    raise ApiError(404, message, {field: message} if field else None)


def _audit(action: str, **ids) -> None:
    # The services log the change itself as "system"; this line ties it to the key that asked.
    audit(f"api.{action}", api_key_id=g.api_key.id, **ids)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API."""
    return jsonify(openapi_document(url_for("api.openapi", _external=True).rsplit("/", 1)[0]))


# --- contacts ------------------------------------------------------------------------------------


@bp.post("/contacts")
def contacts_upsert():
    """Create a contact, or update the one with this email (any case): 201 created, 200 updated."""
    fields, tags = contact_input(body({*contacts.FIELDS, "tags"}))
    contact, created = _upsert_contact(fields, tags)
    _audit("contact.create" if created else "contact.update", contact_id=contact.id)
    return jsonify(contact_json(contact)), 201 if created else 200


def _upsert_contact(fields: dict, tags: list[str]) -> tuple[Contact, bool]:
    contact, created = _find_or_create(fields, tags)
    if not created:
        contacts.add_tags(contact, tags)  # committed with the fields just below
        contacts.update_contact(contact, fields)
    return contact, created


def _find_or_create(fields: dict, tags: list[str]) -> tuple[Contact, bool]:
    """The contact with fields["email"], else a new one; True when it is new."""
    if contact := contacts.find_by_email(fields["email"]):
        return contact, False
    try:
        return contacts.create_contact(fields, tags), True
    except IntegrityError:
        # Another request created this email a moment ago: that contact is the one.
        db.session.rollback()
        if contact := contacts.find_by_email(fields["email"]):
            return contact, False
        raise


@bp.get("/contacts")
def contacts_find():
    """The contact with ?email= (any case), or 404."""
    email = request.args.get("email", "").strip()
    if not email:
        raise invalid({"email": "Give ?email=, e.g. ?email=ada@example.com."})
    contact = contacts.find_by_email(email)
    if contact is None:
        raise ApiError(404, f"No contact with email {email}.")
    return jsonify(contact_json(contact))


# --- calendars -----------------------------------------------------------------------------------


@bp.get("/calendars")
def calendars_list():
    """Every calendar, archived ones last."""
    query = select(Calendar).options(selectinload(Calendar.host_links))
    query = query.order_by(Calendar.archived_at.is_not(None), Calendar.name, Calendar.id)
    return jsonify(calendars=[calendar_json(c) for c in db.session.scalars(query)])


CALENDAR_BODY = {"availability", "host_ids", "assignment", *CALENDAR_FIELDS}


@bp.post("/calendars")
def calendars_create():
    """A new calendar, checked by the same form as the calendar page; without host_ids, single with the
    first active admin's host (or no host when there is none)."""
    data = body(CALENDAR_BODY)
    form = calendar_form(data)
    chosen = calendar_hosts(data) or calendars.default_hosts()
    calendar = calendars.create_calendar(form.settings(), form.weekly(), form.override_rows(), chosen)
    _audit("calendar.create", calendar_id=calendar.id)
    return jsonify(calendar_json(calendar)), 201


# One rule for both methods: with two, werkzeug answers a PATCH to an id past MAX_ID with 405 (the GET
# rule's path matched before the id converter refused it) instead of the 404 any unknown id gets.
@bp.route("/calendars/<int:calendar_id>", methods=["GET", "PATCH"])
def calendars_one(calendar_id):
    """GET: one calendar. PATCH: change the settings, hours, hosts or assignment a body sends; the rest stays."""
    calendar = _get(Calendar, calendar_id, "calendar")
    if request.method == "GET":
        return jsonify(calendar_json(calendar))
    data = body(CALENDAR_BODY)
    form = calendar_form(data, calendar)
    chosen = calendar_hosts(data, calendar)
    weekly = form.weekly() if "availability" in data else None
    calendars.update_calendar(calendar, form.settings(), weekly, None, chosen)
    _audit("calendar.update", calendar_id=calendar.id)
    return jsonify(calendar_json(calendar))


# --- hosts ---------------------------------------------------------------------------------------


HOST_ORDER = paging.oldest_first(Host.name, Host.id)


@bp.get("/hosts")
def hosts_list():
    """Hosts by name, paged by limit and offset or by ?after=<the last page's "next">."""
    errors: dict[str, str] = {}
    limit = _int_arg("limit", 100, 1, MAX_PAGE, errors)
    offset = _int_arg("offset", 0, 0, None, errors)
    after = request.args.get("after", "")
    if after and paging.decode(after, HOST_ORDER) is None:
        errors["after"] = "Not a cursor this list gave: pass the last page's next as it came."
    elif after and offset:
        errors["offset"] = "Give after or offset, not both."
    if errors:
        raise invalid(errors)
    if after:
        page = paging.page_of(select(Host), HOST_ORDER, after=after, per_page=limit, restart=False)
        found, next_cursor = page.items, page.older
    else:
        query = select(Host).order_by(*(key.ordered() for key in HOST_ORDER)).limit(limit + 1).offset(offset)
        found = list(db.session.scalars(query))
        more, found = len(found) > limit, found[:limit]
        next_cursor = paging.encode([found[-1].name, found[-1].id]) if more else None
    return jsonify(hosts=[host_json(h) for h in found], limit=limit, offset=offset, next=next_cursor)


@bp.post("/hosts")
def hosts_create():
    """A new host (someone who does not sign in): name, email (unique, any case), timezone."""
    changes = host_input(body({"name", "email", "timezone"}))
    try:
        host = hosts.add_host(**changes)
    except IntegrityError:
        db.session.rollback()  # the same email added by another request a moment ago
        raise invalid({"email": "Another host already has this email."}) from None
    _audit("host.create", host_id=host.id)
    return jsonify(host_json(host)), 201


@bp.route("/hosts/<int:host_id>", methods=["GET", "PATCH"])
def hosts_one(host_id):
    """GET: one host. PATCH: change their name, email, timezone or is_active (false: no calendar offers them)."""
    host = _get(Host, host_id, "host")
    if request.method == "GET":
        return jsonify(host_json(host))
    changes = host_input(body({"name", "email", "timezone", "is_active"}), host)
    try:
        hosts.update_host(host, changes)
    except IntegrityError:
        db.session.rollback()
        raise invalid({"email": "Another host already has this email."}) from None
    _audit("host.update", host_id=host.id)
    return jsonify(host_json(host))


@bp.get("/calendars/<int:calendar_id>/slots")
def calendars_slots(calendar_id):
    """Open slots whose start falls on the days start..end, read in ?timezone= (default: the calendar's)."""
    calendar = _get(Calendar, calendar_id, "calendar")
    errors: dict[str, str] = {}
    first, last = day(request.args.get("start"), "start", errors), day(request.args.get("end"), "end", errors)
    typed = request.args.get("timezone", "").strip()
    zone = (resolve(typed) or "") if typed else calendar.timezone
    if not zone:
        errors["timezone"] = f"{typed[:60]!r} is not a time zone name, e.g. Europe/London."
    if first and last and last < first:
        errors["end"] = "The end day is before the start day."
    elif first and last and (last - first).days + 1 > MAX_SLOT_DAYS:
        errors["end"] = f"Ask for at most {MAX_SLOT_DAYS} days at a time; split longer ranges."
    if errors:
        raise invalid(errors)
    found = calendars.slots(calendar, first, last, zone)
    return jsonify(
        calendar_id=calendar.id,
        timezone=ZoneInfo(zone).key,
        start=first.isoformat(),
        end=last.isoformat(),
        slots=[{"start": instant(s.start), "end": instant(s.end), "seats_left": s.seats_left} for s in found],
    )


# --- one-time links ------------------------------------------------------------------------------


@bp.post("/one-time-links")
def links_create():
    """Issue a link on a calendar for a contact (by id, or by email: an unknown email becomes a contact)."""
    data = body({"calendar_id", "contact_id", "email", "expires_in_hours", "metadata"})
    errors: dict[str, str] = {}
    calendar_id = positive_id(data, "calendar_id", errors)
    if calendar_id is None:
        errors.setdefault("calendar_id", "Required: the id of the calendar the link books on.")
    contact_id = positive_id(data, "contact_id", errors)
    email = _link_email(data, contact_id, errors)
    expires_at = _expiry(data.get("expires_in_hours"), errors)
    try:
        meta = links.check_meta(data.get("metadata"))
    except links.LinkError as exc:
        errors["metadata"] = str(exc)
    if errors:
        raise invalid(errors)
    calendar = _get(Calendar, calendar_id, "calendar", "calendar_id")
    if contact_id:
        contact = _get(Contact, contact_id, "contact", "contact_id")
    else:
        contact, _ = _find_or_create({"email": email}, [])
    try:
        link = links.issue(calendar, contact, expires_at=expires_at, source="api", meta=meta)
    except links.LinkError as exc:
        # What is left once the input is checked is the calendar's state (archived).
        raise ApiError(409, str(exc)) from None
    db.session.commit()
    _audit("link.create", link_id=link.id, calendar_id=calendar.id, contact_id=contact.id)
    return jsonify(link_json(link)), 201


def _link_email(data: dict, contact_id: int | None, errors: dict) -> str | None:
    email = data.get("email")
    if email is not None and not isinstance(email, str):
        errors["email"] = "Must be a string."
    elif email and "contact_id" in data:
        errors["email"] = "Give contact_id or email, not both."
    elif email:
        if error := contacts.email_error(email.strip()):
            errors["email"] = error
        return email.strip()
    elif contact_id is None and "contact_id" not in errors:
        errors["contact_id"] = "Give contact_id, or email to find or create the contact."
    return None


def _expiry(hours, errors: dict):
    if hours is None:
        return None
    if not (integer(hours) or isinstance(hours, float)) or not 0 < hours <= MAX_EXPIRY_HOURS:
        errors["expires_in_hours"] = f"A number of hours above 0 and at most {MAX_EXPIRY_HOURS}."
        return None
    return utcnow() + timedelta(hours=hours)


@bp.get("/one-time-links/<int:link_id>")
def links_show(link_id):
    """A link's state: status, opened_at, used_at, booking_id, metadata, url."""
    return jsonify(link_json(_get(OneTimeLink, link_id, "one-time link")))


# --- bookings ------------------------------------------------------------------------------------


BOOKING_ORDER = paging.oldest_first(Booking.start_at, Booking.id)


@bp.get("/bookings")
def bookings_list():
    """Bookings by start time, optionally of one calendar; each with its one-time link's metadata.

    Paged by limit and offset, or by ?after=<the last page's "next">, which costs the same however deep."""
    errors: dict[str, str] = {}
    calendar_id = _int_arg("calendar_id", None, 1, None, errors)
    limit = _int_arg("limit", 100, 1, MAX_PAGE, errors)
    offset = _int_arg("offset", 0, 0, None, errors)
    after = request.args.get("after", "")
    if after and paging.decode(after, BOOKING_ORDER) is None:
        errors["after"] = "Not a cursor this list gave: pass the last page's next as it came."
    elif after and offset:
        errors["offset"] = "Give after or offset, not both."
    if errors:
        raise invalid(errors)
    query = select(Booking).options(selectinload(Booking.host_rows))  # host_ids: one query per page
    if calendar_id is not None:
        _get(Calendar, calendar_id, "calendar", "calendar_id")
        query = query.where(Booking.calendar_id == calendar_id)
    if after:
        page = paging.page_of(query, BOOKING_ORDER, after=after, per_page=limit, restart=False)
        bookings, next_cursor = page.items, page.older
    else:
        bookings = db.session.scalars(
            query.order_by(*(key.ordered() for key in BOOKING_ORDER)).limit(limit + 1).offset(offset)
        ).all()
        more, bookings = len(bookings) > limit, bookings[:limit]
        next_cursor = paging.encode([bookings[-1].start_at, bookings[-1].id]) if more else None
    made_by = {}
    if link_ids := {b.link_id for b in bookings if b.link_id is not None}:
        # Booking.link_id: a link re-armed and booked again still made each of its bookings.
        made_by = {
            link.id: link for link in db.session.scalars(select(OneTimeLink).where(OneTimeLink.id.in_(link_ids)))
        }
    return jsonify(
        bookings=[booking_json(b, made_by.get(b.link_id or 0)) for b in bookings],
        limit=limit,
        offset=offset,
        next=next_cursor,
    )


def _int_arg(name: str, default, minimum: int, maximum: int | None, errors: dict):
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= (maximum or MAX_ID):
        errors[name] = f"A whole number from {minimum} to {maximum or MAX_ID}."
        return None
    return int(raw)


@bp.post("/bookings/<int:booking_id>/cancel")
def bookings_cancel(booking_id):
    """Cancel a booking as the organiser, named "API key <name>" in its history; the invitee is emailed."""
    data = body({"reason"}) if request.get_data() else {}
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise invalid({"reason": "Must be a string."})
    if len(reason.strip()) > services.REASON_MAX:
        raise invalid({"reason": f"At most {services.REASON_MAX} characters."})
    booking = _get(Booking, booking_id, "booking")
    try:
        services.cancel(booking, reason, by=Actor.api_key(g.api_key))
    except services.BookingError as exc:
        raise ApiError(409, str(exc)) from None
    _audit("booking.cancel", booking_id=booking.id)
    link = db.session.get(OneTimeLink, booking.link_id) if booking.link_id else None
    return jsonify(booking_json(booking, link))


# --- hosts' connected calendars ------------------------------------------------------------------


def _connection(host_id: int, connection_id: int) -> Connection:
    _get(Host, host_id, "host")
    connection = _get(Connection, connection_id, "connection")
    if connection.host_id != host_id:
        _not_found("connection", connection_id)
    return connection


# One rule for GET and POST: with two, werkzeug answers a POST to an id out of range with a 405 (the GET
# rule's method list) where every other id is a 404.
@bp.route("/hosts/<int:host_id>/connections", methods=["GET", "POST"])
def connections(host_id):
    """GET: a host's connected calendars (a handful per host). POST: add one (connections_create)."""
    host = _get(Host, host_id, "host")
    if request.method == "POST":
        return connections_create(host)
    return jsonify(connections=[connection_json(c) for c in host_connections.for_host(host.id)])


def connections_create(host: Host):
    """Connect a CalDAV account or subscribe to an ICS feed: 201, status "pending" until its first read."""
    data = body(CONNECTION_FIELDS)
    kind = data.get("kind")
    allowed = CONNECTION_FIELDS if kind == CALDAV else {"kind", "url", "label", "stale_policy"}
    if kind not in (CALDAV, ICS):
        raise invalid({"kind": 'Use "caldav" or "ics".'})
    errors = {name: "Unknown field for this kind." for name in sorted(set(data) - allowed)}
    for name in allowed - {"calendar_urls"}:
        if name in data and not isinstance(data[name], str):
            errors[name] = "Must be a string."
    urls = data.get("calendar_urls")
    if "calendar_urls" in data and not (isinstance(urls, list) and all(isinstance(u, str) for u in urls)):
        errors["calendar_urls"] = "Must be a list of calendar URLs."
    if errors:
        raise invalid(errors)
    try:
        if kind == CALDAV:
            connection = host_connections.add_caldav(
                host,
                url=data.get("url") or "",
                username=data.get("username") or "",
                password=data.get("password") or "",
                label=data.get("label") or "",
                stale_policy=data.get("stale_policy"),
                calendar_urls=urls,
                write_calendar_url=data.get("write_calendar_url"),
            )
        else:
            connection = host_connections.add_ics(
                host, url=data.get("url") or "", label=data.get("label") or "", stale_policy=data.get("stale_policy")
            )
    except host_connections.Invalid as exc:
        raise invalid(exc.fields) from None
    _audit("connection.create", host_id=host.id, connection_id=connection.id)
    # Read by the worker within moments (status "pending" until then), or at once with POST …/sync: a
    # request that only saves never makes this process call out.
    return jsonify(connection_json(connection)), 201


@bp.delete("/hosts/<int:host_id>/connections/<int:connection_id>")
def connections_delete(host_id, connection_id):
    """Remove a connection and the busy time read from it: 200 with the connection as it was."""
    connection = _connection(host_id, connection_id)
    removed = connection_json(connection)
    host_connections.remove(connection)
    _audit("connection.delete", host_id=host_id, connection_id=connection_id)
    return jsonify(removed)


@bp.post("/hosts/<int:host_id>/connections/<int:connection_id>/sync")
def connections_sync(host_id, connection_id):
    """Read the connection now: its status, the error in words, and how many busy blocks it holds."""
    connection = _connection(host_id, connection_id)
    result = host_sync.sync_one(connection.id)
    db.session.refresh(connection)
    return jsonify(connection_json(connection, result.blocks if result else None))
