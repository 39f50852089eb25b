"""Sign in, sign out, the account settings page and the admin list."""

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from webapp.auth import services
from webapp.auth.forms import AdminForm, LoginForm, PasswordForm
from webapp.auth.models import User
from webapp.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a crafted ?next= must not send an admin elsewhere."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("core.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    """The sign-in page."""
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.find_by_email(form.email.data)
        if user and user.check_password(form.password.data):
            login_user(user, remember=form.remember.data)
            services.record_login(user)
            return redirect(_safe_next(form.next.data), 303)
        form.password.errors.append("Email or password is wrong.")
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Sign out (a POST, so no link or image can sign an admin out)."""
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"), 303)


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    """Change one's own password; see the other admins."""
    form = PasswordForm(prefix="pw")
    if form.validate_on_submit():
        if current_user.check_password(form.current.data):
            services.change_password(current_user, form.new.data)
            flash("Your password has been changed.", "success")
            return redirect(url_for("auth.settings"), 303)
        form.current.errors.append("This is not your current password.")
    return _settings_page(form, AdminForm(prefix="admin"))


@bp.post("/settings/admins")
def admins_create():
    """Add another admin."""
    form = AdminForm(prefix="admin")
    if form.validate_on_submit():
        services.create_admin(form.email.data, form.password.data)
        flash(f"{form.email.data} can now sign in.", "success")
        return redirect(url_for("auth.settings"), 303)
    return _settings_page(PasswordForm(prefix="pw", formdata=None), form)


def _settings_page(password_form, admin_form):
    admins = db.session.scalars(select(User).order_by(User.email)).all()
    status = 422 if password_form.errors or admin_form.errors else 200
    return render_template("auth/settings.html", form=password_form, admin_form=admin_form, admins=admins), status
