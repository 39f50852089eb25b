"""ICS feed subscriptions (Google's secret address, Outlook's published calendar), and the expansion of
iCalendar data into busy time that CalDAV reading shares.

A feed is fetched through the outbound-address policy (`outbound.fetch`: resolved once, checked, pinned,
no redirects, at most MAX_FEED_BYTES). Events are expanded with `recurring-ical-events` (RRULE, RDATE,
EXDATE, RECURRENCE-ID overrides, VTIMEZONE zones); transparent and cancelled events are free time; an
all-day event and a floating time are read in the host's zone.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import recurring_ical_events
from icalendar import Calendar

from webapp import outbound

MAX_FEED_BYTES = 5 * 1024 * 1024
MAX_BLOCKS = 5000  # per connection: more than any real calendar holds in the read window
Block = tuple[datetime, datetime]


class ReadError(Exception):
    """A calendar that could not be read; the message says why in words an admin can act on."""


def feed_url(typed: str) -> str:
    """The URL a feed is fetched from: webcal:// (and webcals://) is https://."""
    url = (typed or "").strip()
    lowered = url.lower()
    for prefix in ("webcals://", "webcal://"):
        if lowered.startswith(prefix):
            return "https://" + url[len(prefix) :]
    return url


def fetch(url: str, timeout: float) -> bytes:
    """The feed's bytes; ReadError in words when the policy refuses it, it cannot be reached or is too big."""
    try:
        status, data = outbound.fetch(
            feed_url(url), max_bytes=MAX_FEED_BYTES, headers={"Accept": "text/calendar"}, timeout=timeout
        )
    except outbound.TooLarge:
        raise ReadError(f"the feed is larger than {MAX_FEED_BYTES // (1024 * 1024)} MB") from None
    except outbound.Refused as exc:
        raise ReadError(f"refused: {exc}") from None
    except outbound.Unreachable as exc:
        raise ReadError(f"could not read the feed: {exc}") from None
    if 300 <= status < 400:
        raise ReadError(f"the feed's server answered with a redirect (HTTP {status}); use the address it redirects to")
    if status == 404:
        raise ReadError("the feed's server answered that there is no such feed (HTTP 404)")
    if status in (401, 403):
        raise ReadError(f"the feed's server refused access (HTTP {status}); the address may have been reset")
    if status != 200:
        raise ReadError(f"the feed's server answered with an error (HTTP {status})")
    return data


def busy(documents: list[bytes | str], zone: ZoneInfo, start: datetime, end: datetime) -> list[Block]:
    """The busy time in [start, end) of the events in iCalendar `documents`, merged, in UTC."""
    blocks: list[Block] = []
    for document in documents:
        try:
            calendar = Calendar.from_ical(document)
            events = recurring_ical_events.of(calendar, skip_bad_series=True).between(start, end)
        except Exception:  # icalendar and the expansion raise many kinds for malformed text
            raise ReadError("the calendar data is not valid iCalendar (a .ics file)") from None
        for event in events:
            if block := _block(event, zone):
                blocks.append(block)
                if len(blocks) > MAX_BLOCKS * 4:
                    raise ReadError(f"the calendar holds more than {MAX_BLOCKS} events in the next days")
    merged = merge(blocks)
    if len(merged) > MAX_BLOCKS:
        raise ReadError(f"the calendar holds more than {MAX_BLOCKS} events in the next days")
    return merged


def _block(event, zone: ZoneInfo) -> Block | None:
    """An event's busy interval in UTC, or None when it leaves the time free."""
    if str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
        return None
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return None
    try:
        start, end = event.start, event.end
    except Exception:  # no DTSTART, or an end before the start
        return None
    start, end = _instant(start, zone), _instant(end, zone)
    if isinstance(event.start, date) and not isinstance(event.start, datetime) and end <= start:
        end = start + timedelta(days=1)
    return (start, end) if end > start else None


def _instant(value: date | datetime, zone: ZoneInfo) -> datetime:
    """A DTSTART/DTEND as UTC: a date is its midnight and a floating time its wall time, in the host's zone."""
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(UTC)


def merge(blocks: list[Block]) -> list[Block]:
    """Overlapping or touching intervals joined, sorted by start."""
    merged: list[Block] = []
    for start, end in sorted(blocks):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged
