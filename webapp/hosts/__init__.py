"""Hosts: the team members meetings are with, their working hours and time off, and which calendars
they host (`models.py`), their rules (`services.py`, the photo in `photos.py`) and pages (`views.py`,
registered from webapp/__init__.py like the calendar pages, since models import this package).
Every admin is a host (`services.host_for_admin`, on `events.admin_created`); hosts who never sign in
can be added too."""

from webapp import events
from webapp.hosts import feed_views, services


def init_app(app) -> None:
    """Every new admin becomes a host, in the transaction that adds the admin; the feed's admin page."""
    events.admin_created.connect(services.on_admin_created)
    app.register_blueprint(feed_views.bp)
