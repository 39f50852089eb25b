"""Template filters: times are stored in UTC and converted at the edge."""

from datetime import datetime
from zoneinfo import ZoneInfo


def minutes_to_hhmm(value: int | None) -> str:
    """540 -> '09:00'; 1440 (end of day) -> '24:00'."""
    if value is None:
        return ""
    return f"{value // 60:02d}:{value % 60:02d}"


def format_datetime(value: datetime | None, zone: str = "UTC", fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """An instant shown in a zone, with the zone's abbreviation."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


def local_time(value: datetime | None, zone: str = "UTC", fmt: str = "%H:%M") -> str:
    """An instant's wall-clock reading in a zone, without the zone's name."""
    return value.astimezone(ZoneInfo(zone)).strftime(fmt) if value else ""


def register(app):
    """Make the filters available to every template."""
    app.add_template_filter(minutes_to_hhmm, "hhmm")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(local_time, "localtime")
