"""Busy time from iCalendar text (webapp/hosts/ics_feed.py): recurrences, exceptions, overrides across a
DST change, all-day and floating times in the host's zone, free and cancelled events left out."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.calendar_files import FEED, FEED_BUSY, HOST_ZONE, NOW, event
from webapp.hosts import ics_feed


def test_a_feed_gives_exactly_its_busy_time():
    blocks = ics_feed.busy([FEED], ZoneInfo(HOST_ZONE), NOW - timedelta(days=1), NOW + timedelta(days=90))
    assert blocks == FEED_BUSY


def test_only_the_asked_window_is_read():
    blocks = ics_feed.busy([FEED], ZoneInfo(HOST_ZONE), NOW, datetime(2026, 10, 7, tzinfo=UTC))
    assert blocks == FEED_BUSY[:2]


def test_the_same_all_day_event_moves_with_the_hosts_zone():
    tokyo = ics_feed.busy([FEED], ZoneInfo("Asia/Tokyo"), NOW, NOW + timedelta(days=90))
    assert (datetime(2026, 10, 7, 15, tzinfo=UTC), datetime(2026, 10, 8, 15, tzinfo=UTC)) in tokyo


def test_overlapping_events_are_merged():
    docs = [
        event("a", "20261002T150000Z", "20261002T160000Z"),
        event("b", "20261002T153000Z", "20261002T170000Z"),
        event("c", "20261002T170000Z", "20261002T173000Z"),
    ]
    blocks = ics_feed.busy(docs, ZoneInfo("UTC"), NOW, NOW + timedelta(days=2))
    assert blocks == [(datetime(2026, 10, 2, 15, tzinfo=UTC), datetime(2026, 10, 2, 17, 30, tzinfo=UTC))]


@pytest.mark.parametrize("text", ["not a calendar", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n"])
def test_text_that_is_not_icalendar_is_a_read_error_in_words(text):
    with pytest.raises(ics_feed.ReadError, match="not valid iCalendar"):
        ics_feed.busy([text], ZoneInfo("UTC"), NOW, NOW + timedelta(days=2))


def test_too_many_events_are_refused(monkeypatch):
    monkeypatch.setattr(ics_feed, "MAX_BLOCKS", 2)
    docs = [event(f"e{i}", f"2026100{i}T150000Z", f"2026100{i}T160000Z") for i in range(2, 6)]
    with pytest.raises(ics_feed.ReadError, match="more than 2 events"):
        ics_feed.busy(docs, ZoneInfo("UTC"), NOW, NOW + timedelta(days=10))


@pytest.mark.parametrize(
    ("typed", "used"),
    [
        ("webcal://calendar.example.com/x.ics", "https://calendar.example.com/x.ics"),
        ("WEBCAL://calendar.example.com/x.ics", "https://calendar.example.com/x.ics"),
        (" https://calendar.example.com/x.ics ", "https://calendar.example.com/x.ics"),
        ("http://calendar.example.com/x.ics", "http://calendar.example.com/x.ics"),
    ],
)
def test_webcal_is_read_as_https(typed, used):
    assert ics_feed.feed_url(typed) == used
