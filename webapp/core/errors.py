"""Friendly error pages and JSON errors; never a traceback."""

from flask import current_app, jsonify, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp import params
from webapp.core.security import wants_json
from webapp.extensions import db

MESSAGES = {
    400: "The request could not be understood.",
    403: "You are not allowed to do that.",
    404: "There is nothing at this address.",
    405: "This address does not accept that kind of request.",
    413: "What you sent is too large.",
    429: "Too many requests. Wait a moment and try again.",
    500: "Something went wrong on our side. It has been logged; please try again.",
}


def _render(status: int, title: str, message: str, headers=()):
    if wants_json():
        return jsonify(error=message), status, headers
    return render_template("errors/error.html", status=status, title=title, message=message), status, headers


def handle_http(exc: HTTPException):
    """Any HTTP error as our own page; a params.BadParam says which value was wrong."""
    status = exc.code or 500
    # The error's own headers stay (a 405's Allow, which RFC 9110 requires); the body is ours.
    headers = [(name, value) for name, value in exc.get_headers() if name.lower() != "content-type"]
    if isinstance(exc, params.BadParam):
        return _render(status, exc.name, exc.description, headers)
    return _render(status, exc.name, MESSAGES.get(status, exc.description or exc.name), headers)


def handle_csrf(exc: CSRFError):
    """A form without a valid CSRF token: explain, change nothing."""
    return _render(
        400,
        "Form expired",
        "This form has expired or was not sent from OneSlot. Go back, reload the page and try again.",
    )


def handle_unexpected(exc: Exception):
    """An unexpected failure: roll back, log it, show the 500 page."""
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    db.session.rollback()
    current_app.logger.exception("unhandled error")
    return handle_http(InternalServerError())


def init_app(app):
    """Register the error handlers."""
    app.register_error_handler(CSRFError, handle_csrf)
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(Exception, handle_unexpected)
