"""Workflows: a trigger enrols contacts, the engine runs each one through the published version's steps."""

from webapp.worker import register_task_source
from webapp.workflows import demo, engine, exchange_views, expiry, triggers
from webapp.workflows.history import bp as history_bp
from webapp.workflows.hooks import bp as hooks_bp
from webapp.workflows.testing import bp as testing_bp
from webapp.workflows.views import bp as editor_bp

__all__ = ["init_app"]


def init_app(app):
    """Connect the triggers to the events, add the pages and the inbound webhook, and make enrolments and
    link expiry task sources of `flask worker`."""
    triggers.connect()
    app.register_blueprint(hooks_bp)
    app.register_blueprint(history_bp)
    demo.register(app)
    register_task_source("enrolments", engine.run_due)
    register_task_source("link_expiry", expiry.handle_expired)
    app.register_blueprint(editor_bp)
    exchange_views.init_app(app)
    app.register_blueprint(testing_bp)
