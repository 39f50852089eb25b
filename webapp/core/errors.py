"""Friendly error pages and JSON errors; never a traceback."""

from flask import current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp import i18n, outage, params
from webapp.core.security import wants_json
from webapp.extensions import db, login_manager
from webapp.i18n import _l

MESSAGES = {
    400: "The request could not be understood.",
    403: "You are not allowed to do that.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    413: "What you sent is too large.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged; please try again.",
}


# What an invitee reads (webapp/i18n.py): a link that names nothing, a form sent back, a page that
# only takes a form. No link to the admin's pages: an invitee has nowhere to sign in.
INVITEE_PAGES = {
    400: (_l("Something was missing"), _l("We could not read what was sent. Go back, reload the page and try again.")),
    404: (
        _l("This link doesn't work"),
        _l(
            "We couldn't find a booking page at this address. Check that you copied the whole link from your "
            "email, or ask the organiser to send you a new one."
        ),
    ),
    405: (
        _l("This page can't be opened this way"),
        _l("This address only takes a form from the booking page. Nothing was changed."),
    ),
    429: (_l("One moment, please"), _l("Too many requests came from here. Wait a minute and try again.")),
    500: (
        _l("Something went wrong"),
        _l("Something went wrong on our side and nothing was changed. Please try again in a moment."),
    ),
}
INVITEE_UNAVAILABLE = (
    _l("We'll be right back"),
    _l("The booking page is taking a short break and nothing was changed. Please try again in a moment."),
)
UNAVAILABLE = "OneSlot cannot reach its database just now. Nothing was changed; try again in a moment."
INVITEE_CSRF = (
    _l("This form has expired"),
    _l("The page was open too long or was sent from elsewhere. Go back, reload the page and try again."),
)


def _invitee_page(status: int, title, message, headers=()):
    """An invitee's error page: the link's own page to go back to, when the path names one."""
    parts = request.path.split("/")
    back_url = back_label = None
    if len(parts) >= 3 and parts[1] in ("book", "booking") and parts[2] and status != 404:
        back_url = f"{request.script_root}/{parts[1]}/{parts[2]}"
        back_label = _l("Back to your booking") if parts[1] == "booking" else _l("Back to the booking page")
    html = render_template(
        "errors/invitee.html", status=status, title=title, message=message, back_url=back_url, back_label=back_label
    )
    return html, status, headers


def _render(status: int, title: str, message: str, headers=()):
    if wants_json():
        return jsonify(error=message), status, headers
    if i18n.is_invitee_request():
        default = INVITEE_PAGES[500] if status >= 500 else INVITEE_PAGES[400]
        invitee_title, invitee_message = INVITEE_PAGES.get(status, default)
        return _invitee_page(status, invitee_title, invitee_message, headers)
    return render_template("errors/error.html", status=status, title=title, message=message), status, headers


def handle_http(exc: HTTPException):
    """Any HTTP error as our own page; a params.BadParam says which value was wrong."""
    status = exc.code or 500
    # The error's own headers stay (a 405's Allow, which RFC 9110 requires); the body is ours.
    headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
    if isinstance(exc, params.BadParam):
        if i18n.is_invitee_request() and not wants_json():
            # Which value was wrong, in the words params gives (English); the title in theirs.
            return _invitee_page(status, INVITEE_PAGES[400][0], exc.description, headers)
        return _render(status, exc.name, exc.description, headers)
    return _render(status, exc.name, MESSAGES.get(status, exc.description or exc.name), headers)


def handle_csrf(exc: CSRFError):
    """A form without a valid CSRF token: explain, change nothing."""
    if i18n.is_invitee_request() and not wants_json():
        return _invitee_page(400, *INVITEE_CSRF)
    return _render(
        400,
        "Form expired",
        "This form has expired or was not sent from OneSlot. Go back, reload the page and try again.",
    )


def handle_unavailable(exc: Exception):
    """The database is away: a 503 with Retry-After, rendered without touching it, and one line, no traceback."""
    outage.rollback()
    current_app.logger.warning("database unavailable: %s", outage.short(exc))
    # The page's layout asks who is signed in: an anonymous visitor now, so no user loader runs
    # (Flask-Login keeps the request's user in g._login_user).
    g._login_user = login_manager.anonymous_user()
    outage.mark_request()  # the page's branding is not read again; keep_retry_after() sees to the header
    headers = {"Retry-After": str(outage.RETRY_AFTER_SECONDS)}
    if wants_json():
        return jsonify(error=UNAVAILABLE), 503, headers
    if i18n.is_invitee_request():
        return _invitee_page(503, *INVITEE_UNAVAILABLE, headers)
    page = render_template("errors/error.html", status=503, title="We'll be right back", message=UNAVAILABLE)
    return page, 503, headers


def handle_unexpected(exc: Exception):
    """An unexpected failure: roll back, log it, show the 500 page (a 503 when the database is away)."""
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    if outage.is_unavailable(exc):
        return handle_unavailable(exc)
    db.session.rollback()
    current_app.logger.exception("unhandled error")
    return handle_http(InternalServerError())


def keep_retry_after(response):
    """An outage's 503 says Retry-After: 30 whatever the route's rate limit: Flask-Limiter's headers
    (RATELIMIT_HEADERS_ENABLED) would set it to the limit's reset, up to an hour away."""
    if outage.request_marked():
        response.headers["Retry-After"] = str(outage.RETRY_AFTER_SECONDS)
    return response


def init_app(app):
    """Register the error handlers, and the last after_request hook (Flask runs them in reverse order)."""
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
    app.after_request_funcs.setdefault(None, []).insert(0, keep_retry_after)
