"""A small in-process cache for the public booking pages: computed pickers and their HTML.

Every gunicorn worker keeps its own (one per app, in app.extensions). Nothing here is ever
invalidated: an entry's key holds everything its value depends on, read fresh from the database
on each request, so a change simply leads to other keys, and old entries fall out of the LRU.
"""

import threading
from collections import OrderedDict

from flask import current_app

MAX_ENTRIES = 256


class LRU:
    """A thread-safe, size-bounded mapping that forgets the least recently used key first."""

    def __init__(self, size: int = MAX_ENTRIES):
        self.size = size
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


def store() -> LRU:
    """The current app's cache (tests make many apps, each on its own database)."""
    cache = current_app.extensions.get("booking_cache")
    if cache is None:
        cache = current_app.extensions.setdefault("booking_cache", LRU())
    return cache


def calendar_state(calendar) -> tuple:
    """Everything of a calendar its open slots depend on, besides the time and the viewer.

    booking_seq is bumped in the transaction of every booking, move and cancellation, so it stands
    for the bookings. The weekly ranges and date overrides are part of the key by value: replacing
    them on save does not touch the calendar row (nor updated_at).
    """
    return (
        calendar.id,
        calendar.booking_seq,
        calendar.updated_at,
        calendar.is_active,
        calendar.archived_at,
        calendar.timezone,
        calendar.duration,
        calendar.slot_interval,
        calendar.buffer_before,
        calendar.buffer_after,
        calendar.min_notice,
        calendar.window_days,
        calendar.max_per_day,
        calendar.seats,
        tuple((r.weekday, r.start_minute, r.end_minute) for r in calendar.ranges),
        tuple((o.day, o.start_minute, o.end_minute) for o in calendar.overrides),
    )
