"""Mail: the outbox every email goes through, its sender, and the admin's "Sent mail" pages."""

from webapp.mail import outbox, sender
from webapp.mail.views import bp
from webapp.worker import on_stop_overdue, register_backlog, register_task_source

__all__ = ["bp", "init_app"]


def init_app(app):
    """Add the pages, make the outbox a task source of `flask worker` (whose lag /readyz watches), and let
    a stop cut a hung send."""
    app.register_blueprint(bp)
    register_task_source("outbox", outbox.send_due)
    register_backlog("outbox", outbox.BACKLOG, readiness=True)
    on_stop_overdue(sender.interrupt_sends)
