"""Template filters: times are stored in UTC and converted at the edge."""

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import g, has_request_context, request
from flask_login import current_user
from markupsafe import Markup, escape

from webapp.text import counted
from webapp.zones import describe, format_datetime, place, zone_info, zone_options


def minutes_to_hhmm(value: int | None) -> str:
    """540 -> '09:00'; 1440 (end of day) -> '24:00'."""
    if value is None:
        return ""
    return f"{value // 60:02d}:{value % 60:02d}"


def local_time(value: datetime | None, zone: str = "UTC", fmt: str = "%H:%M") -> str:
    """An instant's wall-clock reading in a zone, without the zone's name."""
    return value.astimezone(ZoneInfo(zone)).strftime(fmt) if value else ""


def day_label(value) -> str:
    """A day as people say it, with no leading zero: 'Monday 7 December' (matches the '7' a month grid shows)."""
    return f"{value:%A} {value.day} {value:%B}" if value else ""


TIME_STYLES = {"datetime": "%a %d %b %Y, %H:%M UTC", "date": "%d %b %Y", "time": "%H:%M UTC"}
ZONE_STYLES = {"datetime": "%a %d %b %Y, %H:%M", "date": "%d %b %Y", "time": "%H:%M"}


# The invitee's pages (/book/…, /booking/…): their times are the invitee's, even for a signed-in admin.
PUBLIC_BLUEPRINTS = {"booking"}


def viewer_zone() -> str | None:
    """The zone a signed-in admin reads times in ('UTC' until they set one); None for anyone else."""
    if not has_request_context():
        return None
    if "viewer_zone" not in g:
        signed_in = request.blueprint not in PUBLIC_BLUEPRINTS and current_user and current_user.is_authenticated
        g.viewer_zone = (getattr(current_user, "timezone", None) or "UTC") if signed_in else None
    return g.viewer_zone


def time_tag(value: datetime | str | None, style: str = "datetime") -> Markup:
    """<time datetime="…Z"> with the instant as its reader should read it.

    An admin's pages show it in the admin's zone, with the zone's abbreviation (base.html says which
    zone); anyone else gets UTC text that static/js/app.js rewrites in the viewer's zone and locale.
    Also takes an instant's ISO text, as step outputs store it."""
    if not value:
        return Markup("")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return Markup("{0}").format(value)
    utc = value.astimezone(ZoneInfo("UTC"))
    zone = viewer_zone()
    if zone is not None:
        local = value.astimezone(zone_info(zone))
        shown = local.strftime(ZONE_STYLES[style]) + ("" if style == "date" else f" {local.tzname()}")
        return Markup('<time datetime="{0}" data-local="{1}" data-zone="{2}" title="{3}">{4}</time>').format(
            utc.strftime("%Y-%m-%dT%H:%M:%SZ"), style, zone, utc.strftime(TIME_STYLES["datetime"]), shown
        )
    return Markup('<time datetime="{0}" data-local="{1}" title="{2}">{2}</time>').format(
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"), style, utc.strftime(TIME_STYLES[style])
    )


def linkify_location(location: str) -> Markup:
    """A meeting URL becomes a link (opening elsewhere, sending no referrer); other text stays text."""
    text = (location or "").strip()
    if text.startswith(("https://", "http://")) and " " not in text:
        return Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(text)
    return escape(text)


def register(app):
    """Make the filters available to every template."""
    app.add_template_filter(minutes_to_hhmm, "hhmm")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(local_time, "localtime")
    app.add_template_filter(time_tag, "when")
    app.add_template_filter(day_label, "day_label")
    app.add_template_filter(linkify_location, "linkify_location")
    app.add_template_filter(counted, "counted")
    app.jinja_env.globals["zone_options"] = zone_options
    app.jinja_env.globals["viewer_zone"] = viewer_zone
    app.add_template_filter(describe, "zone_label")
    app.add_template_filter(place, "zone_place")
