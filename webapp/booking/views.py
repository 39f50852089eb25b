"""Public pages: book with a one-time link, then see, move or cancel the booking."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import generate_csrf

from webapp import htmx, i18n, params
from webapp.booking import cache, calendar_copies, feed, ics, links, picker, prerender, services, team
from webapp.booking.forms import BookForm, CancelForm, RescheduleForm
from webapp.booking.models import Booking, OneTimeLink
from webapp.extensions import db, limiter
from webapp.i18n import _
from webapp.worker import register_backlog, register_task_source
from webapp.zones import zone_options

bp = Blueprint("booking", __name__)


@bp.after_request
def private_page_headers(response):
    """Tokens live in these URLs: never cache them, never send them on, never index them."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _link(token: str) -> OneTimeLink:
    link = links.find(token) or abort(404)
    i18n.use_calendar_default(link.calendar.language)
    return link


def _picker(calendar, exclude_booking_id=None, day=None, state=None, zone=None) -> picker.Picker:
    """The picker for the request's zone (else `zone`, else the calendar's), month and day; `state`: the
    calendar's, when just read."""
    args = request.values
    zone = picker.valid_zone(args.get("tz") or args.get("timezone")) or zone or (state or calendar).timezone
    try:
        day = day or picker.parse_day(args.get("date"))
        month = picker.parse_month(args.get("month"))
    except params.OutOfRange as exc:
        raise params.BadParam(str(exc)) from None
    return picker.build(calendar, zone, month, day, exclude_booking_id, state)


def _email_mode(link: OneTimeLink) -> str:
    return services.email_mode(link.contact is not None, link.calendar.allow_other_email)


def _masked(link: OneTimeLink) -> str:
    """The contact's email as the page shows it: the page may be open in the hands of whoever got the link."""
    return services.mask_email(link.contact.email) if link.contact else ""


def _book_page(token, link, form, status=200, error=None, day=None):
    view = _picker(link.calendar, day=day)
    form.timezone.data = view.timezone
    picker_url = url_for("booking.page", token=token)
    picker_html = prerender.picker_html(view, form, picker_url)
    if picker_html is not None and htmx.is_htmx():
        return _html_response(picker_html, status)
    context = {"token": token, "link": link, "calendar": link.calendar, "form": form, "picker": view, "error": error}
    context.update(picker_url=picker_url, picker_html=picker_html, book_url=url_for("booking.book", token=token))
    context.update(masked_email=_masked(link), team=team.read(link.calendar.id, link.calendar.assignment))
    return htmx.render("booking/page.html", "booking/_picker.html", status=status, **context)


def _html_response(html: str | bytes, status: int = 200):
    """What htmx.render answers (page or fragment), for HTML put together from cached parts."""
    response = make_response(html, status)
    response.vary.add("HX-Request")
    return response


def _first_page(token: str, calendar, name: str, email_mode: str, masked_email: str, state=None):
    """The page as opened from the link: nothing chosen, typed or wrong yet. From pre-rendered HTML (prerender.py).

    `calendar` is a Calendar or a cache.LinkPage (what the page shows of one); name the contact's,
    masked_email theirs as shown; `state` the calendar's cache.CalendarState when just read. Per
    request only these values are filled in: the output is what page.html renders.
    """
    csrf = generate_csrf()  # as BookForm() does: the session holds the token, also for a fragment
    i18n.use_calendar_default(calendar.language)
    view = _picker(calendar, state=state)
    picker_url = prerender.text(url_for("booking.page", token=token))
    picker_html = prerender.fill(prerender.picker_parts(view), {"picker_url": picker_url})
    if htmx.is_htmx():
        return _html_response(picker_html)
    # Flashed messages are shown (and taken) by a live render.
    calendar_id = calendar.calendar.id if isinstance(calendar, cache.LinkPage) else calendar.id
    hosts = team.read(calendar_id, calendar.assignment)
    parts = None if "_flashes" in session else prerender.shell_parts(calendar, view, email_mode, hosts)
    if parts is None:
        return _book_page(token, _link(token), BookForm(formdata=None, name=name, email_mode=email_mode))
    current_app.update_template_context({})  # the context processors' side effects (current_user)
    values = {
        "csrf": prerender.text(csrf),
        "picker": picker_html,
        "zones": prerender.text(zone_options(view.timezone, i18n.locale_name())),
        # WTForms writes a value as escape(field._value()); name is never None here.
        "name": prerender.text(name),
        "masked_email": prerender.text(masked_email),
        "picker_url": picker_url,
        "book_url": prerender.text(url_for("booking.book", token=token)),
        "token": prerender.text(token),
    }
    return _html_response(prerender.fill(parts, values))


# The bookings made in this browser (ids, in the signed session): going back to a used link's page
# after booking lands on the confirmation instead of "already used".
BOOKED = "booked"


def _remember_booking(booking: Booking) -> None:
    session[BOOKED] = [*session.get(BOOKED, [])[-4:], booking.id]


def _gone(token, link, status=410):
    booking = db.session.get(Booking, link.booking_id) if link.booking_id else None
    if booking is not None and request.method == "GET" and booking.id in session.get(BOOKED, []):
        return redirect(_manage_path(booking), 303)
    masked = services.mask_email(booking.email) if booking else None
    return render_template("booking/gone.html", token=token, link=link, booking=booking, masked=masked), status


@bp.get("/book/<token>")
@limiter.limit("120/minute")
def page(token):
    """The booking page: month view, the chosen day's slots, and the form."""
    # Usually one query: links that are bookable and were opened before (or a HEAD, which records nothing).
    data = cache.link_page(token)
    if data is not None and data.bookable and (data.opened or request.method != "GET"):
        mode = services.email_mode(data.has_contact, data.allow_other_email)
        masked = services.mask_email(data.contact_email) if data.has_contact else ""
        return _first_page(token, data, data.contact_name, mode, masked, data.calendar)
    link = _link(token)
    if not link.bookable:
        return _gone(token, link)
    if request.method == "GET":
        links.mark_opened(link)
    name = link.contact.full_name if link.contact else ""
    return _first_page(token, link.calendar, name, _email_mode(link), _masked(link))


@bp.post("/book/<token>")
@limiter.limit("20/minute")
def book(token):
    """Book the chosen slot: 303 to the confirmation, or 410, 409, 422 with the page."""
    link = _link(token)
    if not link.bookable:
        return _gone(token, link)
    form = BookForm(email_mode=_email_mode(link))
    if not form.validate_on_submit():
        day = form.instant().date() if form.start.data and not form.start.errors else None
        return _book_page(token, link, form, status=422, day=day)
    # The email as typed (none on a contact's link): services.book() decides which address books.
    invitee = services.Invitee(
        form.name.data.strip(), form.email.data, form.timezone.data, form.notes.data or "", i18n.locale_name()
    )
    try:
        booking = services.book(link, form.instant(), invitee)
    except services.LinkUnavailable:
        return _gone(token, link)
    except services.SlotUnavailable as exc:
        day = form.instant().date()
        form.start.data = None
        return _book_page(token, link, form, status=409, error=str(exc), day=day)
    except services.InviteeInvalid:
        # The link lost its contact since the page was shown: the form now asks for an email.
        form = BookForm(email_mode=_email_mode(link))
        form.validate()
        return _book_page(token, link, form, status=422, day=form.instant().date())
    _remember_booking(booking)
    flash(_("You're booked. A confirmation is on its way to your inbox."), "success")
    return redirect(_manage_path(booking), 303)


@bp.post("/book/<token>/resend")
@limiter.limit("3/hour", key_func=lambda: (request.view_args or {}).get("token", ""))
def resend(token):
    """'Email me my booking again': to the address on file, never to one typed here."""
    link = _link(token)
    booking = db.session.get(Booking, link.booking_id) if link.booking_id else None
    if booking is None:
        abort(404)
    services.resend_confirmation(booking)
    masked, cancelled = services.mask_email(booking.email), booking.status == "cancelled"
    return render_template("booking/resent.html", masked=masked, cancelled=cancelled), 200


@bp.get("/book/<token>/resend")
def resend_page(token):
    """Back or reload after 'Email me my booking again': the link's page, not a 405."""
    return redirect(url_for("booking.page", token=token), 303)


def _manage_path(booking: Booking) -> str:
    token = services.manage_token(booking)
    return url_for("booking.manage", token=token) if token else abort(404)


def _booking(token: str) -> Booking:
    booking = services.find_by_manage_token(token) or abort(404)
    i18n.use_calendar_default(booking.calendar.language)
    return booking


@bp.get("/booking/<token>")
@limiter.limit("120/minute")
def manage(token):
    """The confirmation page, which is also where the invitee cancels or moves the booking."""
    booking = _booking(token)
    return render_template(
        "booking/manage.html",
        token=token,
        booking=booking,
        calendar=booking.calendar,
        blocked=services.why_unchangeable(booking),
        deadline=services.change_deadline(booking),
        google_url=ics.google_calendar_url(booking),
        cancel_form=CancelForm(),
        rebook_url=services.rebook_url(booking),
        cancellation_note=services.cancellation_note(booking) if booking.status == "cancelled" else "",
        organiser_email=ics.organizer(booking.calendar, booking)[1],
        hosts_label=team.booking_names(booking),
    )


@bp.get("/booking/<token>/invite.ics")
@limiter.limit("120/minute")
def invite(token):
    """The booking as an .ics file: to import (PUBLISH), or the CANCEL once cancelled."""
    booking = _booking(token)
    response = make_response(ics.for_booking(booking, None if booking.status == "cancelled" else ics.PUBLISH))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="invite.ics"'
    return response


@bp.post("/booking/<token>/cancel")
@limiter.limit("20/minute")
def cancel(token):
    """Cancel the booking (with an optional reason); the seat is freed."""
    booking = _booking(token)
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.cancel(booking, form.reason.data or "", by="invitee")
    except services.BookingError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Your booking is cancelled. We've emailed you a note."), "success")
    return redirect(url_for("booking.manage", token=token), 303)


@bp.get("/booking/<token>/cancel")
def cancel_page(token):
    """Back or reload after cancelling: the confirmation page (which says it is cancelled), not a 405."""
    return redirect(url_for("booking.manage", token=token), 303)


@bp.route("/booking/<token>/reschedule", methods=["GET", "POST"])
@limiter.limit("60/minute")
def reschedule(token):
    """Pick another open slot for the booking."""
    booking = _booking(token)
    if problem := services.why_unchangeable(booking):
        flash(problem, "error")
        return redirect(url_for("booking.manage", token=token), 303)
    form = RescheduleForm()
    status, error, day = 200, None, None
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.reschedule(booking, form.instant(), timezone=form.timezone.data)
            except services.SlotUnavailable as exc:
                status, error, day = 409, str(exc), form.instant().date()
            except services.BookingError as exc:
                flash(str(exc), "error")
                return redirect(url_for("booking.manage", token=token), 303)
            else:
                flash(_("Your booking has moved. We've emailed you the new time."), "success")
                return redirect(url_for("booking.manage", token=token), 303)
        else:
            status = 422
    # The invitee's zone throughout (the booking's, unless they pick another): the current time, the
    # slots and, once moved, the confirmation.
    view = _picker(booking.calendar, exclude_booking_id=booking.id, day=day, zone=picker.valid_zone(booking.timezone))
    form.timezone.data = view.timezone
    context = {
        "token": token,
        "booking": booking,
        "calendar": booking.calendar,
        "form": form,
        "picker": view,
        "error": error,
        "picker_url": url_for("booking.reschedule", token=token),
        "tz_whole_page": True,
    }
    return htmx.render("booking/reschedule.html", "booking/_picker.html", status=status, **context)


def init_app(app):
    """Register the public booking pages, the hosts' bookings feeds, and the copies of bookings in hosts'
    calendars (events, worker)."""
    app.register_blueprint(bp)
    app.register_blueprint(feed.bp)
    calendar_copies.connect()
    register_task_source("calendar_writes", calendar_copies.write_due)
    register_backlog("calendar_writes", calendar_copies.BACKLOG)
