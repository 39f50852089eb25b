"""The admin home: the funnel of one-time links per workflow, and what needs attention."""

from webapp.dashboard.views import bp

__all__ = ["init_app"]


def init_app(app):
    """Register the home page."""
    app.register_blueprint(bp)
