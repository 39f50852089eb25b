"""Sent mail: the outbox as the admin sees it, with secret links redacted; retry; a test email."""

from flask import Blueprint, abort, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import DataRequired, Email, Length

from webapp import htmx
from webapp.extensions import db
from webapp.mail import outbox, sender
from webapp.mail.models import STATUSES, OutboxMessage

bp = Blueprint("mail", __name__, url_prefix="/mail")

# The stored HTML is shown in a sandboxed frame: no scripts, no requests, only its inline styles.
HTML_PART_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


class TestEmailForm(FlaskForm):
    # One field, used only here; it lives beside its view rather than in a forms module of its own.
    to = EmailField(
        "Send a test email to",
        [DataRequired("Enter an email address."), Length(max=254), Email("Enter a valid email address.")],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


def _get(message_id: int) -> OutboxMessage:
    return db.session.get(OutboxMessage, message_id) or abort(404)


def _list_page(form: TestEmailForm, status: int = 200):
    state = request.args.get("status") if request.args.get("status") in STATUSES else None
    results = outbox.search(state, request.args, current_app.config["PAGE_SIZE"])
    context = {
        "results": results,
        "state": state,
        "counts": outbox.counts(),
        "form": form,
        "mail_server": current_app.config.get("MAIL_SERVER"),
    }
    return htmx.render("mail/list.html", "mail/_results.html", status=status, **context)


@bp.get("/")
def list():
    """Every queued, sent, held and failed message, newest first, filtered by status."""
    return _list_page(TestEmailForm(formdata=None, to=current_user.email))


@bp.post("/test")
def send_test():
    """Queue a test email, so an admin can check the SMTP settings."""
    form = TestEmailForm()
    if not form.validate_on_submit():
        return _list_page(form, status=422)
    message = outbox.queue_test_email(form.to.data)
    if current_app.config.get("MAIL_SERVER"):
        flash(f"Test email queued to {message.to_addr}; the worker sends it within a few seconds.", "success")
    else:
        flash(f"Test email to {message.to_addr} queued, but MAIL_SERVER is not set: it stays here unsent.", "warning")
    return redirect(url_for("mail.show", message_id=message.id), 303)


@bp.get("/<int:message_id>")
def show(message_id):
    """One message: headers, delivery, text part, HTML part in a sandboxed frame, attachments."""
    message = _get(message_id)
    return render_template("mail/show.html", message=message, text=outbox.redacted(message, message.text_body))


@bp.get("/<int:message_id>/html")
def html(message_id):
    """The stored HTML part, redacted, under a CSP that lets it do nothing but be displayed."""
    message = _get(message_id)
    response = make_response(outbox.redacted(message, message.html_body))
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    # Set here, so the app-wide defaults (frame-ancestors 'none', DENY) do not apply to this one.
    response.headers["Content-Security-Policy"] = f"{HTML_PART_CSP}; frame-ancestors 'self'"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<int:message_id>/attachments/<int:index>")
def attachment(message_id, index):
    """Download one attachment, redacted like the rest of the stored copy."""
    message = _get(message_id)
    items = message.attachments or []
    if index >= len(items):
        abort(404)
    item = items[index]
    response = make_response(outbox.redacted(message, item["content"]).encode())
    response.headers["Content-Type"] = sender.content_type(item["mimetype"])
    response.headers.set("Content-Disposition", "attachment", filename=item["filename"])
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<int:message_id>/retry")
def retry(message_id):
    """Put a failed or held message back in the queue now."""
    message = _get(message_id)
    if not outbox.retry(message):
        flash("Only failed or held messages can be retried.", "warning")
    elif current_app.config.get("MAIL_SERVER"):
        flash("The message is back in the queue; the worker sends it within a few seconds.", "success")
    else:
        flash("The message is back in the queue, but MAIL_SERVER is not set: it will be held again.", "warning")
    if request.form.get("back") == "home":
        return redirect(url_for("dashboard.home"), 303)
    if request.form.get("back") == "list":
        return redirect(url_for("mail.list", status=request.form.get("status") or None), 303)
    return redirect(url_for("mail.show", message_id=message.id), 303)
