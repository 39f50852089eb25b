"""Sign in, sign out, the account settings page, where you're signed in, and the admin list."""

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user

from webapp.auth import services, sessions
from webapp.auth.forms import AdminForm, LoginForm, NameForm, PasswordForm, ZoneForm
from webapp.auth.models import User
from webapp.extensions import db, limiter
from webapp.zones import describe, resolve

bp = Blueprint("auth", __name__)
MAX_ID = 2**31 - 1


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a crafted ?next= must not send an admin elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("dashboard.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = services.sign_in(form.email.data, form.password.data, form.remember.data, request.user_agent.string)
        except services.SignInError as exc:
            form.password.errors.append(str(exc))
        else:
            login_user(user, remember=form.remember.data)
            _adopt_browser_zone(user, form.timezone.data)
            return redirect(_safe_next(form.next.data), 303)
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


def _adopt_browser_zone(user: User, browser_zone: str | None) -> None:
    """At sign-in, an admin with no zone gets the browser's (when it is one we know), and is told so."""
    if user.timezone is None and (zone := resolve(browser_zone)):
        services.set_timezone(user, zone, proposed=True)
        flash(f"Times are shown in {describe(zone)}.", "zone")  # base.html adds "change it in Settings"


@bp.post("/logout")
def logout():
    """Sign out (a POST, so no link or image can sign an admin out); the session ends server-side too."""
    services.sign_out(sessions.current())
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Change one's own password; see the other admins."""
    form = PasswordForm(prefix="pw")
    if form.validate_on_submit():
        if current_user.check_password(form.current.data):
            user = current_user._get_current_object()
            row = services.change_password(user, form.new.data, sessions.current())
            login_user(user, remember=row.remember)
            flash("Your password has been changed; every other browser signed in as you is signed out.", "success")
            return redirect(url_for("auth.settings"), 303)
        form.current.errors.append("This is not your current password.")
    return _settings_page(form, AdminForm(prefix="admin"))


@bp.post("/settings/name")
def rename():
    """Set one's own name, as invitees and other admins read it ("cancelled by Sam Rivera (organiser)")."""
    form = NameForm(prefix="me")
    if form.validate_on_submit():
        services.rename(current_user._get_current_object(), form.name.data)
        flash(f"You are now named {current_user.display_name} to invitees and other admins.", "success")
        return redirect(url_for("auth.settings"), 303)
    return _settings_page(
        PasswordForm(prefix="pw", formdata=None), AdminForm(prefix="admin", formdata=None), name_form=form
    )


@bp.post("/settings/timezone")
def timezone():
    """Save the admin's time zone: from Settings, or the browser's zone proposed on a page (app.js)."""
    form = ZoneForm()
    proposed = form.proposed.data == "1"
    if form.validate_on_submit():
        user = current_user._get_current_object()
        services.set_timezone(user, form.timezone.data, proposed=proposed)
        flash(f"Times are shown in {describe(user.timezone)}.", "zone")  # base.html adds "change in Settings"
        return redirect(_safe_next(form.next.data) if proposed else url_for("auth.settings"), 303)
    if proposed:
        flash("Times are shown in UTC: your browser's time zone was not one we know. Choose yours in Settings.", "info")
        return redirect(_safe_next(form.next.data), 303)
    return _settings_page(
        PasswordForm(prefix="pw", formdata=None), AdminForm(prefix="admin", formdata=None), zone_form=form
    )


@bp.post("/settings/admins")
def admins_create():
    """Add another admin."""
    form = AdminForm(prefix="admin")
    if form.validate_on_submit():
        services.create_admin(form.email.data, form.password.data)
        flash(f"{form.email.data} can now sign in.", "success")
        return redirect(url_for("auth.settings"), 303)
    return _settings_page(PasswordForm(prefix="pw", formdata=None), form)


@bp.post("/settings/sessions/others/end")
def sessions_end_others():
    """Sign out everywhere else: every other browser at once; this one stays signed in under a new key."""
    user = current_user._get_current_object()
    row = services.sign_out_everywhere_else(user, sessions.current())
    login_user(user, remember=row.remember)
    flash("You are signed out everywhere else.", "success")
    return redirect(url_for("auth.settings"), 303)


@bp.post("/settings/sessions/<int:session_id>/end")
def sessions_end(session_id):
    """Sign one browser out; signing this one out is the same as Sign out."""
    current = sessions.current()
    if current is not None and current.id == session_id:
        return logout()
    if session_id <= MAX_ID and services.end_session(current_user, session_id):
        flash("That browser is signed out.", "success")
    else:
        flash("That browser was already signed out.", "info")
    return redirect(url_for("auth.settings"), 303)


def _admin(user_id: int) -> User:
    return (db.session.get(User, user_id) if user_id <= MAX_ID else None) or abort(404)


@bp.route("/settings/admins/<int:user_id>/disable", methods=["GET", "POST"])
def admins_disable(user_id):
    """Confirm, then disable another admin: they are signed out everywhere and cannot sign in."""
    return _confirmed_change(_admin(user_id), "disable", services.disable_admin, "{} is disabled and signed out.")


@bp.route("/settings/admins/<int:user_id>/remove", methods=["GET", "POST"])
def admins_remove(user_id):
    """Confirm, then remove another admin and their sessions."""
    return _confirmed_change(_admin(user_id), "remove", services.remove_admin, "{} is removed.")


def _confirmed_change(target: User, action: str, change, done: str):
    by, email = current_user._get_current_object(), target.email
    try:
        services.refuse_self(target, by, action)
        if request.method == "GET":
            return render_template("auth/admin_confirm.html", target=target, action=action)
        change(target, by)
    except services.AdminError as exc:
        flash(str(exc), "error")
    else:
        flash(done.format(email), "success")
    return redirect(url_for("auth.settings"), 303)


@bp.post("/settings/admins/<int:user_id>/enable")
def admins_enable(user_id):
    """Let a disabled admin sign in again."""
    target = _admin(user_id)
    services.enable_admin(target)
    flash(f"{target.email} can sign in again.", "success")
    return redirect(url_for("auth.settings"), 303)


def _settings_page(password_form, admin_form, name_form=None, zone_form=None):
    name_form = name_form or NameForm(prefix="me", formdata=None, name=current_user.display_name)
    zone_form = zone_form or ZoneForm(formdata=None, timezone=current_user.timezone)
    errors = password_form.errors or admin_form.errors or name_form.errors or zone_form.errors
    status = 422 if errors else 200
    current = sessions.current()
    html = render_template(
        "auth/settings.html",
        form=password_form,
        admin_form=admin_form,
        name_form=name_form,
        zone_form=zone_form,
        admins=services.all_admins(),
        browsers=sorted(sessions.of_user(current_user), key=lambda row: row != current),  # this browser first
        this_browser=current,
    )
    return html, status
