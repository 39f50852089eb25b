"""Time zones at the edge: every IANA name, the picker's options, and an instant shown in a zone.

Times are stored in UTC; these turn them into what a person reads (pages, mail subjects).
"""

import zoneinfo
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from markupsafe import Markup


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone name, sorted, for the searchable picker."""
    return tuple(sorted(zoneinfo.available_timezones()))


def format_datetime(value: datetime | None, zone: str = "UTC", fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """An instant shown in a zone, with the zone's abbreviation."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


@cache
def _zone_options() -> str:
    return "".join(f'<option value="{z}">{z.replace("_", " ")}</option>' for z in zone_names())


def zone_options(selected: str) -> Markup:
    """<option>s for every IANA zone, one selected; built once, since 600 options cost a render."""
    html = _zone_options()
    return Markup(html.replace(f'<option value="{selected}">', f'<option value="{selected}" selected>', 1))
