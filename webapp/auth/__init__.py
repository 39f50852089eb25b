"""Admin sign-in, server-side sessions, passwords and the list of admins."""

from flask import current_app, g, request, session
from flask_login import current_user
from flask_login.utils import decode_cookie

from webapp.auth import sessions
from webapp.auth.models import User  # noqa: F401  (the schema)
from webapp.auth.views import bp
from webapp.extensions import login_manager


@login_manager.user_loader
def load_user(session_id: str):
    """Flask-Login's lookup of "<admin id>:<session key>": the admin while that session lives, else None."""
    found = sessions.load(session_id)
    if found is None:
        _forget(session_id)
        return None
    user, row = found
    g.admin_session = row
    return user


def _forget(session_id: str) -> None:
    """Drop an ended session's id from the cookie, and the remember cookie that carries the same one."""
    session.pop("_user_id", None)
    cookie_name = current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token")
    cookie = request.cookies.get(cookie_name)
    if cookie and decode_cookie(cookie) == session_id:
        session["_remember"] = "clear"


def _load_admin_first():
    # Load the admin before the view runs: a session's "last active" write then never lands in the
    # middle of a view's own transaction (public pages read current_user only when they log).
    # A request inside an app context that is already pushed (tests, scripts) shares its `g`: forget
    # the previous request's admin so a session ended since then is looked up again.
    g.pop("_login_user", None)
    g.pop("admin_session", None)
    cookies = (
        current_app.config["SESSION_COOKIE_NAME"],
        current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    )
    # Requests without cookies (the API, webhooks, health checks) have no admin to look up.
    if request.endpoint != "static" and any(name in request.cookies for name in cookies):
        current_user._get_current_object()


def init_app(app):
    """Register the blueprint and the login page."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    # First of all hooks: the login guard (webapp.core.security) must see this request's admin.
    app.before_request_funcs.setdefault(None, []).insert(0, _load_admin_first)
    app.add_template_filter(sessions.describe, "browser_name")
    app.register_blueprint(bp)
