"""Admin pages for one-time links (generate, list, revoke) and bookings (list, one booking's page with
its history and mail, move, cancel, attendance)."""

from collections.abc import Callable
from datetime import timedelta

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload
from wtforms.fields.choices import SelectChoice

from webapp import htmx, paging, params
from webapp.booking import calendar_copies, history, links, picker, services
from webapp.booking.forms import AdminCancelForm, AdminMoveForm, LinkForm
from webapp.booking.history import Actor
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.contacts.views import add_page_values
from webapp.extensions import db
from webapp.mail.models import OutboxMessage

links_bp = Blueprint("links", __name__, url_prefix="/links")
bookings_bp = Blueprint("bookings", __name__, url_prefix="/bookings")

VIEWS = ("upcoming", "past", "cancelled", "all")


LINK_ORDER = paging.newest_first(OneTimeLink.created_at, OneTimeLink.id)
# Emails offered in the contact box before anything is typed; typing asks for more (contact_options).
CONTACT_OPTIONS = 10


def links_for(calendar_id=None, contact_id=None, args=None) -> paging.Page:
    """One page of links, newest first, for a calendar or a contact (args: the request's cursor)."""
    query = select(OneTimeLink).options(
        joinedload(OneTimeLink.contact), joinedload(OneTimeLink.calendar), joinedload(OneTimeLink.booking)
    )
    if calendar_id:
        query = query.where(OneTimeLink.calendar_id == calendar_id)
    if contact_id:
        query = query.where(OneTimeLink.contact_id == contact_id)
    return paging.from_args(query, LINK_ORDER, args or {}, current_app.config["PAGE_SIZE"])


def contact_emails(typed: str = "") -> list[str]:
    """A few contact emails for the link form's suggestions: matching what was typed, else the latest."""
    typed = typed.strip()[:200]
    query = (
        contacts.search_query(typed)
        if typed
        else select(Contact).order_by(Contact.created_at.desc(), Contact.id.desc())
    )
    return [c.email for c in db.session.scalars(query.limit(CONTACT_OPTIONS))]


def link_panel_context(calendar=None, contact=None, form=None, new_link=None, args=None) -> dict:
    """What templates/booking/_links.html needs, from a calendar's or a contact's page."""
    form = form or LinkForm(formdata=None)
    active = select(Calendar).where(Calendar.archived_at.is_(None)).order_by(Calendar.name)
    form.calendar_id.choices = [SelectChoice(str(c.id), c.name) for c in db.session.scalars(active)]
    return {
        "panel_calendar": calendar,
        "panel_contact": contact,
        "link_form": form,
        "links": links_for(calendar.id if calendar else None, contact.id if contact else None, args),
        "new_link": new_link,
        "link_url": lambda link: links.url(link) or "",  # "" once the key the link was made under is retired
        "now": utcnow(),
    }


def contact_page_values(contact, args) -> dict:
    """The links card of a contact's page, with the link just made (?new_link=) if it is the contact's."""
    new_link = db.session.get(OneTimeLink, args.get("new_link", type=params.db_id) or 0)
    return link_panel_context(
        contact=contact, new_link=new_link if new_link and new_link.contact_id == contact.id else None, args=args
    )


def _panel(calendar, contact, status=200, **context):
    ctx = link_panel_context(calendar, contact, **context)
    if htmx.is_htmx():
        return htmx.render("booking/_links.html", "booking/_links.html", status=status, **ctx)
    if contact is not None:
        return redirect(
            url_for("contacts.show", contact_id=contact.id, new_link=ctx["new_link"] and ctx["new_link"].id), 303
        )
    return redirect(
        url_for("links.for_calendar", calendar_id=calendar.id, new_link=ctx["new_link"] and ctx["new_link"].id), 303
    )


@links_bp.get("/calendar/<int:calendar_id>")
def for_calendar(calendar_id):
    """A calendar's Links tab: generate a link for a contact, and the links made for it, a page at a time."""
    calendar = db.session.get(Calendar, calendar_id) or abort(404)
    new_link = db.session.get(OneTimeLink, request.args.get("new_link", type=params.db_id) or 0)
    context = link_panel_context(calendar=calendar, new_link=new_link, args=request.args)
    return htmx.render(
        "booking/calendar_links.html",
        "booking/_links.html",
        calendar=calendar,
        contact_emails=contact_emails(),
        **context,
    )


@links_bp.get("/contact/<int:contact_id>")
def for_contact(contact_id):
    """A contact's links panel, a page at a time (the pager's HTMX swap; a plain request gets the contact page)."""
    contact = db.session.get(Contact, contact_id) or abort(404)
    if not htmx.is_htmx():
        cursor = {k: v for k, v in request.args.items() if k in ("after", "before")}
        return redirect(url_for("contacts.show", contact_id=contact.id, _anchor="links-panel", **cursor), 303)
    return htmx.render(
        "booking/_links.html", "booking/_links.html", **link_panel_context(contact=contact, args=request.args)
    )


@links_bp.get("/contact-options")
def contact_options():
    """<option>s for the link form's contact box: emails matching what was typed (HTMX, as one types)."""
    return render_template(
        "booking/_contact_options.html", contact_emails=contact_emails(request.args.get("contact_email", ""))
    )


@links_bp.post("/new")
def create():
    """Generate a one-time link (from a calendar's page or a contact's page)."""
    form = LinkForm()
    from_contact = form.origin.data == "contact"
    if not form.validate_on_submit():
        origin_contact = form.contact if from_contact else None
        origin_calendar = None if from_contact else form.calendar
        if origin_contact is None and origin_calendar is None:
            abort(400)
        context = link_panel_context(origin_calendar, origin_contact, form=form)
        page = "booking/_links.html" if from_contact else "booking/calendar_links.html"
        return htmx.render(
            page,
            "booking/_links.html",
            status=422,
            calendar=origin_calendar,
            contact_emails=contact_emails(),
            **context,
        )
    hours = form.expires_in_hours.data
    expires_at = utcnow() + timedelta(hours=hours) if hours else None
    link = links.issue(form.calendar, form.contact, expires_at=expires_at, source="admin")
    db.session.commit()
    flash(f"One-time link for {form.contact.name} created. Copy it below.", "success")
    return _panel(None if from_contact else form.calendar, form.contact if from_contact else None, new_link=link)


@links_bp.post("/<int:link_id>/revoke")
def revoke(link_id):
    """Withdraw a link that has not been used."""
    link = db.session.get(OneTimeLink, link_id) or abort(404)
    if links.revoke(link):
        flash("The link is revoked: it now says it is no longer valid.", "success")
    else:
        flash("This link was already used or revoked.", "warning")
    origin = request.form.get("origin")
    if origin == "contact" and link.contact_id:
        return _panel(None, db.session.get(Contact, link.contact_id))
    return _panel(link.calendar, None)


BY_START = paging.oldest_first(Booking.start_at, Booking.id)
LATEST_START = paging.newest_first(Booking.start_at, Booking.id)
LATEST_CANCELLED = paging.newest_first(Booking.cancelled_at, Booking.id)
# Longer than any booking (a slot lasts at most a day): "ends after now" then also reads "starts after now
# minus this", a range the (status, start_at, id) index can seek to instead of reading every past booking.
LONGEST_BOOKING = timedelta(days=2)


def bookings_page(view: str, calendar: Calendar | None, now, args) -> paging.Page:
    """One page of bookings: upcoming soonest first, past and all latest first, cancelled by when."""
    # Every calendar's list has a calendar column: its names come in the same statement.
    query = (
        select(Booking).where(Booking.calendar_id == calendar.id)
        if calendar
        else select(Booking).options(joinedload(Booking.calendar))
    ).options(selectinload(Booking.host_rows))  # the hosts' names: one more statement per page
    if view == "upcoming":
        query = query.where(
            Booking.status == "confirmed", Booking.end_at > now, Booking.start_at > now - LONGEST_BOOKING
        )
        keys = BY_START
    elif view == "past":
        # A booking that ended has started: the second clause is the index's range.
        query = query.where(Booking.status == "confirmed", Booking.end_at <= now, Booking.start_at <= now)
        keys = LATEST_START
    elif view == "cancelled":
        query = query.where(Booking.status == "cancelled", Booking.cancelled_at.is_not(None))
        keys = LATEST_CANCELLED
    else:
        keys = LATEST_START
    return paging.from_args(query, keys, args, current_app.config["PAGE_SIZE"])


@bookings_bp.get("/", endpoint="list")
def index():
    """Bookings of every calendar or one: upcoming, past, cancelled, a page at a time."""
    view = request.args.get("view", "upcoming")
    view = view if view in VIEWS else "upcoming"
    calendar = db.session.get(Calendar, request.args.get("calendar_id", type=params.db_id) or 0)
    now = utcnow()
    page = bookings_page(view, calendar, now, request.args)
    calendars = db.session.scalars(select(Calendar).order_by(Calendar.name)).all()
    return render_template(
        "booking/bookings.html", page=page, view=view, calendar=calendar, calendars=calendars, views=VIEWS, now=now
    )


def _booking(booking_id) -> Booking:
    return db.session.get(Booking, booking_id) or abort(404)


def _back(booking_id: int | None = None):
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("bookings.show", booking_id=booking_id) if booking_id else url_for("bookings.list")


def _me() -> Actor:
    """The signed-in admin, as the actor of a change."""
    return Actor.admin(current_user._get_current_object())


# What other features add to a booking's page: fn(booking, link) -> values for the template (workflows
# adds the enrolment and workflow that made the link). Registered at start-up; see docs/ARCHITECTURE.md.
BookingPageValues = Callable[[Booking, OneTimeLink | None], dict]
_page_values: list[BookingPageValues] = []


def add_booking_page_values(fn: BookingPageValues) -> None:
    """Let a feature above booking add values to the admin's booking page."""
    if fn not in _page_values:
        _page_values.append(fn)


def _actor_label(change) -> str:
    """Who made a change, as the signed-in admin reads it ("you", "Sam Rivera (organiser)")."""
    actor = Actor(change.actor_kind, change.actor_name, change.actor_user_id, change.actor_key_id)
    return actor.for_admin(is_you=change.actor_user_id is not None and change.actor_user_id == current_user.id)


# A booking's page lists at most this many of its messages, newest first (a booking has a handful).
MAIL_LIMIT = 50


def booking_page_context(booking: Booking, cancel_form=None) -> dict:
    """Everything the booking page shows: who, when, the link and its run, the history, the mail."""
    link = db.session.scalar(
        select(OneTimeLink).where(OneTimeLink.booking_id == booking.id).order_by(OneTimeLink.id).limit(1)
    )
    mails = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.booking_id == booking.id)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(MAIL_LIMIT + 1)
    ).all()
    context = {
        "booking": booking,
        "calendar": booking.calendar,
        "contact": db.session.get(Contact, booking.contact_id) if booking.contact_id else None,
        "link": link,
        "changes": history.changes_of(booking.id),
        "change_limit": history.PAGE_LIMIT,
        "mails": mails[:MAIL_LIMIT],
        "more_mails": len(mails) > MAIL_LIMIT,
        "move_problem": services.why_admin_cannot_move(booking),
        "cancel_form": cancel_form or AdminCancelForm(formdata=None),
        "now": utcnow(),
        "workflow": None,
        "enrolment": None,
        "actor_label": _actor_label,
        "calendar_copies": calendar_copies.copies_of(booking),
        "describe_copy": calendar_copies.describe,
    }
    for fn in _page_values:
        context.update(fn(booking, link))
    return context


@bookings_bp.get("/<int:booking_id>", endpoint="show")
def show(booking_id):
    """One booking: who, when (the admin's zone and the invitee's), its link, every change and every mail."""
    return render_template("booking/booking.html", **booking_page_context(_booking(booking_id)))


def _rearmed(booking: Booking) -> str:
    """A note for the flash when the change re-armed the booking's link (see links.rearm)."""
    return " Their booking link can book again." if links.rebook_link(booking) else ""


@bookings_bp.post("/<int:booking_id>/cancel")
def cancel(booking_id):
    """Cancel a booking as the organiser, with a reason and maybe a fresh link; the invitee is emailed."""
    booking = _booking(booking_id)
    form = AdminCancelForm()
    if not form.validate_on_submit():
        # What was typed stays in the form, with the message beside it.
        context = booking_page_context(booking, cancel_form=form)
        return render_template("booking/booking.html", **context), 422
    try:
        fresh = services.cancel(booking, form.reason.data or "", by=_me(), fresh_link=form.fresh_link.data)
    except services.BookingError as exc:
        flash(str(exc), "error")
    else:
        extra = " with a fresh link to book again" if fresh else ""
        flash(f"{booking.name}'s booking is cancelled and they have been emailed{extra}.{_rearmed(booking)}", "success")
    return redirect(_back(booking.id), 303)


@bookings_bp.post("/<int:booking_id>/attendance")
def attendance(booking_id):
    """Mark a past booking showed or no-show."""
    booking = _booking(booking_id)
    value = request.form.get("attendance") or None
    try:
        services.set_attendance(booking, value, by=_me())
    except services.BookingError as exc:
        flash(str(exc), "error")
    else:
        marked = value.replace("_", "-") if value else "unmarked"
        flash(f"{booking.name}: marked {marked}.{_rearmed(booking)}", "success")
    return redirect(_back(), 303)


def _admin_zone(calendar: Calendar) -> str:
    """The zone the move picker speaks: the one chosen on the page, else the admin's, else the calendar's."""
    return (
        picker.valid_zone(request.values.get("tz") or request.values.get("timezone"))
        or picker.valid_zone(getattr(current_user, "timezone", None))
        or calendar.timezone
    )


@bookings_bp.route("/<int:booking_id>/move", methods=["GET", "POST"], endpoint="move")
@bookings_bp.route("/<int:booking_id>/move/any", methods=["GET", "POST"], endpoint="move_any")
def move(booking_id):
    """Move a booking to another time: the invitee's slot picker, or with the calendar's limits set aside."""
    booking = _booking(booking_id)
    if problem := services.why_admin_cannot_move(booking):
        flash(problem, "error")
        return redirect(url_for("bookings.show", booking_id=booking.id), 303)
    ignore_limits = request.endpoint == "bookings.move_any"
    form = AdminMoveForm()
    status, error, day = 200, None, None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.reschedule(booking, form.instant(), by=_me(), ignore_limits=ignore_limits)
            except services.SlotUnavailable as exc:
                status, error, day = 409, str(exc), form.instant().date()
            except services.BookingError as exc:
                flash(str(exc), "error")
                return redirect(url_for("bookings.show", booking_id=booking.id), 303)
            else:
                flash(f"{booking.name}'s booking has moved; they have been emailed the new time.", "success")
                return redirect(url_for("bookings.show", booking_id=booking.id), 303)
        else:
            status = 422
    try:
        day = day or picker.parse_day(request.args.get("date"))
        month = picker.parse_month(request.args.get("month"))
    except params.OutOfRange as exc:
        raise params.BadParam(str(exc)) from None
    calendar = booking.calendar
    view = picker.build(calendar, _admin_zone(calendar), month, day, booking.id, ignore_limits=ignore_limits)
    form.timezone.data = view.timezone
    endpoint = "bookings.move_any" if ignore_limits else "bookings.move"
    context = {
        "booking": booking,
        "calendar": calendar,
        "form": form,
        "picker": view,
        "error": error,
        "ignore_limits": ignore_limits,
        "picker_url": url_for(endpoint, booking_id=booking.id),
    }
    return htmx.render("booking/move.html", "booking/_picker.html", status=status, **context)


def init_app(app):
    """Register the admin's lists of links and bookings, and the links card of a contact's page."""
    app.register_blueprint(links_bp)
    app.register_blueprint(bookings_bp)
    add_page_values(contact_page_values)
