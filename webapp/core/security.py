"""Login required by default, and security headers on every response."""

from flask import jsonify, redirect, request, url_for
from flask_htmx import make_response as hx_make_response
from flask_login import current_user

from webapp.htmx import is_htmx

# Everything else needs a signed-in admin: a new page is private unless listed here.
# A host's photo: booking pages show it (the URL holds the photo's version, no secret); so do the
# business's logo and theme.
# /readyz is for load balancers; /metrics checks its own bearer token (webapp/metrics.py).
PUBLIC_ENDPOINTS = {
    "static",
    "core.healthz",
    "core.readyz",
    "metrics.metrics",
    "auth.login",
    "hosts.photo",
    "branding.logo",
    "branding.theme",
}
# "api" answers to API keys, not to the admin's session: it checks them itself (webapp/api/views.py).
PUBLIC_BLUEPRINTS = {"booking", "hooks", "api", "feeds"}

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def is_public(endpoint: str | None) -> bool:
    """True for endpoints anyone may reach; None (no route) falls through to the 404 page."""
    if endpoint is None or endpoint in PUBLIC_ENDPOINTS:
        return True
    return endpoint.split(".", 1)[0] in PUBLIC_BLUEPRINTS


def wants_json() -> bool:
    """True when the client asked for JSON rather than a page, or is a machine: the API, an inbound webhook."""
    if request.path.startswith(("/api/", "/hooks/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def require_login():
    """Send anonymous visitors of private pages to the login page (401 for JSON)."""
    if is_public(request.endpoint) or current_user.is_authenticated:
        return None
    if wants_json():
        return jsonify(error="authentication required"), 401
    login_url = url_for("auth.login", next=request.full_path.rstrip("?"))
    if is_htmx():
        return hx_make_response(redirect=login_url)
    return redirect(login_url)


def add_headers(response):
    """Headers every response carries; a view may have set a stricter one already."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app):
    """Register the guard and the header hook."""
    app.before_request(require_login)
    app.after_request(add_headers)
