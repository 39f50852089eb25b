"""Hosts: the team members meetings are with, their working hours and time off, and which calendars
they host (`models.py`), their rules (`services.py`, the photo in `photos.py`) and pages (`views.py`,
registered from webapp/__init__.py like the calendar pages, since models import this package).
Every admin is a host (`services.host_for_admin`, on `events.admin_created`); hosts who never sign in
can be added too."""

from webapp import events
from webapp.hosts import busy, feed_views, services, sync
from webapp.hosts.connection_views import bp as connections_bp
from webapp.worker import register_backlog, register_task_source


def init_app(app) -> None:
    """Every new admin becomes a host, in the transaction that adds the admin; the feed's admin page;
    connected calendars' pages, their worker source and the refresher a booking calls."""
    events.admin_created.connect(services.on_admin_created)
    app.register_blueprint(feed_views.bp)
    app.register_blueprint(connections_bp)
    register_task_source("calendar_sync", sync.calendar_sync)
    register_backlog("calendar_sync", sync.BACKLOG)
    busy.add_refresher(sync.refresh)
