"""The one place that reads HTMX request headers and writes HTMX response headers."""

import json

from flask import make_response, redirect, render_template
from flask_htmx import make_response as hx_make_response

from webapp.extensions import htmx


def is_htmx() -> bool:
    """True for a request made by HTMX that swaps a fragment (a history restore wants the page)."""
    return bool(htmx) and not htmx.history_restore_request


def render(page: str, fragment: str, status: int = 200, **context):
    """Render the fragment for HTMX and the full page otherwise; caches must tell them apart."""
    response = make_response(render_template(fragment if is_htmx() else page, **context), status)
    response.vary.add("HX-Request")
    return response


def trigger(response, event: str, detail=None):
    """Add an HX-Trigger event, keeping events already set on the response."""
    events = {}
    if existing := response.headers.get("HX-Trigger"):
        try:
            events = json.loads(existing)
        except ValueError:
            events = {name.strip(): None for name in existing.split(",")}
    events[event] = detail
    response.headers["HX-Trigger"] = json.dumps(events)
    return response


def redirect_to(url: str, status: int = 303):
    """Navigate: HX-Redirect for HTMX, a 303 Post/Redirect/Get otherwise."""
    if is_htmx():
        return hx_make_response(redirect=url)
    return redirect(url, status)
