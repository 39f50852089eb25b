"""Admin sign-in, passwords and the list of admins."""

from webapp.auth.models import User
from webapp.auth.views import bp
from webapp.extensions import db, login_manager


@login_manager.user_loader
def load_user(user_id: str):
    """Flask-Login's session lookup."""
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


def init_app(app):
    """Register the blueprint and the login page."""
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    app.register_blueprint(bp)
