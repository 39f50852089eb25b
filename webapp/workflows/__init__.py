"""Workflows: a trigger enrols contacts, the engine runs each one through the published version's steps."""

from webapp.booking.admin import add_booking_page_values
from webapp.contacts.views import add_list_values, add_page_values
from webapp.worker import register_backlog, register_task_source
from webapp.workflows import demo, engine, enrolment_views, exchange_views, expiry, triggers
from webapp.workflows.inbound_webhook import bp as inbound_webhook_bp
from webapp.workflows.test_run_views import bp as test_runs_bp
from webapp.workflows.views import bp as editor_bp

__all__ = ["init_app"]


def init_app(app):
    """Connect the triggers to the events, add the pages (and the workflows card of the contact pages) and
    the inbound webhook, the booking page's workflow lines, and make enrolments and link expiry task
    sources of `flask worker` (with their backlogs; /readyz watches the enrolments')."""
    triggers.connect()
    app.register_blueprint(inbound_webhook_bp)
    app.register_blueprint(enrolment_views.bp)
    add_page_values(enrolment_views.contact_page_values)
    add_list_values(enrolment_views.contact_list_values)
    add_booking_page_values(enrolment_views.booking_page_values)
    demo.register(app)
    register_task_source("enrolments", engine.run_due)
    register_backlog("enrolments", engine.BACKLOG, readiness=True)
    register_task_source("link_expiry", expiry.handle_expired)
    register_backlog("link_expiry", expiry.BACKLOG)
    app.register_blueprint(editor_bp)
    exchange_views.init_app(app)
    app.register_blueprint(test_runs_bp)
