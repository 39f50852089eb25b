"""The bottom layer every feature may use: the access guard, security headers, error pages, template
filters, and the health check."""

from webapp.core import errors, filters, security, views


def init_app(app):
    """Wire the guard, headers, error pages and core routes into the app."""
    security.init_app(app)
    errors.init_app(app)
    filters.register(app)
    app.register_blueprint(views.bp)
