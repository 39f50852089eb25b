"""Public pages: book with a one-time link, then see, move or cancel the booking."""

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for

from webapp import htmx, tokens
from webapp.booking import ics, links, picker, services
from webapp.booking.forms import BookForm, CancelForm, RescheduleForm
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Booking, Calendar
from webapp.extensions import db, limiter

bp = Blueprint("booking", __name__)


@bp.after_request
def private_page_headers(response):
    """Tokens live in these URLs: never cache them, never send them on, never index them."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _link(token: str) -> OneTimeLink:
    return links.find(token) or abort(404)


def _picker(calendar: Calendar, exclude_booking_id=None, day=None) -> picker.Picker:
    args = request.values
    zone = picker.valid_zone(args.get("tz") or args.get("timezone")) or calendar.timezone
    day = day or picker.parse_day(args.get("date"))
    return picker.build(calendar, zone, picker.parse_month(args.get("month")), day, exclude_booking_id)


def _book_page(token, link, form, status=200, error=None, day=None):
    view = _picker(link.calendar, day=day)
    form.timezone.data = view.timezone
    context = {"token": token, "link": link, "calendar": link.calendar, "form": form, "picker": view, "error": error}
    context["picker_url"] = url_for("booking.page", token=token)
    return htmx.render("booking/page.html", "booking/_picker.html", status=status, **context)


def _gone(token, link, status=410):
    booking = db.session.get(Booking, link.booking_id) if link.booking_id else None
    masked = services.mask_email(booking.email) if booking else None
    return render_template("booking/gone.html", token=token, link=link, booking=booking, masked=masked), status


@bp.get("/book/<token>")
@limiter.limit("120/minute")
def page(token):
    """The booking page: month view, the chosen day's slots, and the form."""
    link = _link(token)
    if not link.bookable:
        return _gone(token, link)
    if request.method == "GET":
        links.mark_opened(link)
    form = BookForm(
        formdata=None, name=link.contact.name if link.contact else "", email=link.contact.email if link.contact else ""
    )
    return _book_page(token, link, form)


@bp.post("/book/<token>")
@limiter.limit("20/minute")
def book(token):
    """Book the chosen slot: 303 to the confirmation, or 410, 409, 422 with the page."""
    link = _link(token)
    if not link.bookable:
        return _gone(token, link)
    form = BookForm()
    if not form.validate_on_submit():
        day = form.instant().date() if form.start.data and not form.start.errors else None
        return _book_page(token, link, form, status=422, day=day)
    invitee = services.Invitee(
        form.name.data.strip(), form.email.data.strip(), form.timezone.data, form.notes.data or ""
    )
    try:
        booking = services.book(link, form.instant(), invitee)
    except services.LinkUnavailable:
        return _gone(token, link)
    except services.SlotUnavailable as exc:
        day = form.instant().date()
        form.start.data = None
        return _book_page(token, link, form, status=409, error=str(exc), day=day)
    flash("You're booked. A confirmation is on its way to your inbox.", "success")
    return redirect(_manage_path(booking), 303)


@bp.post("/book/<token>/resend")
@limiter.limit("3/hour", key_func=lambda: request.view_args.get("token", ""))
def resend(token):
    """'Email me my booking again': to the address on file, never to one typed here."""
    link = _link(token)
    booking = db.session.get(Booking, link.booking_id) if link.booking_id else None
    if booking is None:
        abort(404)
    services.resend_confirmation(booking)
    return render_template("booking/resent.html", masked=services.mask_email(booking.email)), 200


def _manage_path(booking: Booking) -> str:
    return url_for("booking.manage", token=tokens.make_token(services.MANAGE, booking.manage_salt))


def _booking(token: str) -> Booking:
    return services.find_by_manage_token(token) or abort(404)


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
    )


@bp.get("/booking/<token>/invite.ics")
@limiter.limit("120/minute")
def invite(token):
    """The booking as an .ics file."""
    response = make_response(ics.for_booking(_booking(token)))
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
        flash("Your booking is cancelled. We've emailed you a note.", "success")
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
                services.reschedule(booking, form.instant())
            except services.SlotUnavailable as exc:
                status, error, day = 409, str(exc), form.instant().date()
            except services.BookingError as exc:
                flash(str(exc), "error")
                return redirect(url_for("booking.manage", token=token), 303)
            else:
                flash("Your booking has moved. We've emailed you the new time.", "success")
                return redirect(url_for("booking.manage", token=token), 303)
        else:
            status = 422
    view = _picker(booking.calendar, exclude_booking_id=booking.id, day=day)
    form.timezone.data = view.timezone
    context = {
        "token": token,
        "booking": booking,
        "calendar": booking.calendar,
        "form": form,
        "picker": view,
        "error": error,
        "picker_url": url_for("booking.reschedule", token=token),
    }
    return htmx.render("booking/reschedule.html", "booking/_picker.html", status=status, **context)
