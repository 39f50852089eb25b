"""JSON API v1 (authenticated by API keys), and the admin pages that make and revoke the keys."""

from webapp.api import admin, cli, views
from webapp.extensions import csrf

__all__ = ["init_app"]


def init_app(app):
    """Register the API, the key pages and `flask create-api-key`."""
    # The API authenticates every request by its key, never by a cookie, so CSRF cannot reach it.
    csrf.exempt(views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    cli.register(app)
