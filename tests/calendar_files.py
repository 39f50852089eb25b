"""iCalendar text for the connected-calendar tests: a feed with the cases busy time gets wrong, and the
busy time it must give (the host in America/New_York, the clock pinned to NOW)."""

from datetime import UTC, datetime

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
HOST_ZONE = "America/New_York"

# A weekly meeting on Tuesdays 10:00–11:00 Berlin time from 6 October 2026, six times, across the end of
# summer time in Europe (25 October): 08:00 UTC before, 09:00 UTC after. 13 October is cancelled
# (EXDATE), 20 October moved to Wednesday 21 October 14:00–15:00 (RECURRENCE-ID).
# Plus: an all-day event (read in the host's zone), a transparent one and a cancelled one (free time),
# a floating time (the host's zone), and one already in UTC.
FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//OneSlot tests//EN
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
UID:weekly@oneslot.test
DTSTAMP:20260901T000000Z
DTSTART;TZID=Europe/Berlin:20261006T100000
DTEND;TZID=Europe/Berlin:20261006T110000
RRULE:FREQ=WEEKLY;COUNT=6
EXDATE;TZID=Europe/Berlin:20261013T100000
SUMMARY:Weekly planning
END:VEVENT
BEGIN:VEVENT
UID:weekly@oneslot.test
DTSTAMP:20260901T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:20261020T100000
DTSTART;TZID=Europe/Berlin:20261021T140000
DTEND;TZID=Europe/Berlin:20261021T150000
SUMMARY:Weekly planning (moved)
END:VEVENT
BEGIN:VEVENT
UID:allday@oneslot.test
DTSTAMP:20260901T000000Z
DTSTART;VALUE=DATE:20261008
DTEND;VALUE=DATE:20261009
SUMMARY:Conference
END:VEVENT
BEGIN:VEVENT
UID:free@oneslot.test
DTSTAMP:20260901T000000Z
DTSTART:20261009T120000Z
DTEND:20261009T130000Z
TRANSP:TRANSPARENT
SUMMARY:Lunch (free)
END:VEVENT
BEGIN:VEVENT
UID:cancelled@oneslot.test
DTSTAMP:20260901T000000Z
DTSTART:20261009T150000Z
DTEND:20261009T160000Z
STATUS:CANCELLED
SUMMARY:Called off
END:VEVENT
BEGIN:VEVENT
UID:floating@oneslot.test
DTSTAMP:20260901T000000Z
DTSTART:20261010T090000
DTEND:20261010T093000
SUMMARY:Floating
END:VEVENT
BEGIN:VEVENT
UID:utc@oneslot.test
DTSTAMP:20260901T000000Z
DTSTART:20261002T150000Z
DTEND:20261002T160000Z
SUMMARY:Dentist
END:VEVENT
END:VCALENDAR
"""


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


FEED_BUSY = [
    (_utc(2026, 10, 2, 15), _utc(2026, 10, 2, 16)),  # UTC
    (_utc(2026, 10, 6, 8), _utc(2026, 10, 6, 9)),  # Berlin summer time
    (_utc(2026, 10, 8, 4), _utc(2026, 10, 9, 4)),  # all day in New York (EDT)
    (_utc(2026, 10, 10, 13), _utc(2026, 10, 10, 13, 30)),  # floating 09:00 New York
    (_utc(2026, 10, 21, 12), _utc(2026, 10, 21, 13)),  # the moved one, still summer time
    (_utc(2026, 10, 27, 9), _utc(2026, 10, 27, 10)),  # winter time: an hour later in UTC
    (_utc(2026, 11, 3, 9), _utc(2026, 11, 3, 10)),
    (_utc(2026, 11, 10, 9), _utc(2026, 11, 10, 10)),
]


def event(uid: str, start: str, end: str, summary: str = "Busy", extra: str = "") -> str:
    """One VEVENT in a VCALENDAR; start and end as iCalendar UTC times (20261010T150000Z)."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//OneSlot tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260901T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
