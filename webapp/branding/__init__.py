"""Branding: the business name, logo and accent colour of public pages and invitee mail, the default
sender of mail, and whether mail says "Sent by OneSlot" (Settings → Branding)."""

from werkzeug.local import LocalProxy

from webapp.branding import services
from webapp.branding.models import Branding  # noqa: F401  (the schema)
from webapp.branding.views import bp


def init_app(app):
    """Register the pages, the `brand` every template reads, and a fresh read per request."""
    app.register_blueprint(bp)
    app.before_request(services.forget)
    # A global, not a context processor: imported macros (email/_macros.html) see it too. A proxy read
    # on first use, so a page that shows nothing of the branding runs no query for it.
    app.jinja_env.globals["brand"] = LocalProxy(services.current)
