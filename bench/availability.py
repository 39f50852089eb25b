"""Benchmark open_slots: 60 days of 30-minute slots with 1,000 existing bookings vs none.

Run: .venv/bin/python bench/availability.py
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import random  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

from webapp.calendars.availability import Busy, Rules, open_slots  # noqa: E402

REPETITIONS = 50
TARGET_MS = 20.0
ZONE = "America/New_York"
VIEWER = "Europe/Berlin"
DAYS = 60
NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # the window includes the 2026-03-08 DST change

RULES = Rules(
    timezone=ZONE,
    duration=30,
    weekly={**{day: [(9 * 60, 17 * 60)] for day in range(5)}, 5: [(10 * 60, 14 * 60)]},
    buffer_before=10,
    buffer_after=10,
    window_days=DAYS,
)


def bookings(count: int) -> list[Busy]:
    """`count` 30- or 60-minute bookings at random quarter hours between 08:00 and 18:00 local."""
    rng = random.Random(42)
    zone = ZoneInfo(ZONE)
    today = NOW.astimezone(zone).date()
    result = []
    for _ in range(count):
        day = today + timedelta(days=rng.randrange(DAYS))
        start = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(minutes=rng.randrange(32, 72) * 15)
        start = start.astimezone(UTC)
        result.append(Busy(start, start + timedelta(minutes=rng.choice((30, 60)))))
    return result


def measure(busy: list[Busy], first_day: date, last_day: date) -> tuple[float, float, int]:
    """Median and p95 in ms over REPETITIONS calls, and the number of slots found."""
    slots = open_slots(RULES, busy, NOW, first_day, last_day, VIEWER)  # warm-up (zoneinfo caches)
    times = []
    for _ in range(REPETITIONS):
        started = time.perf_counter()
        open_slots(RULES, busy, NOW, first_day, last_day, VIEWER)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), statistics.quantiles(times, n=20)[-1], len(slots)


def main() -> None:
    first_day = NOW.astimezone(ZoneInfo(VIEWER)).date()
    last_day = first_day + timedelta(days=DAYS)
    busy_median, busy_p95, busy_slots = measure(bookings(1000), first_day, last_day)
    free_median, free_p95, free_slots = measure([], first_day, last_day)
    verdict = "OK" if busy_median < TARGET_MS else "TOO SLOW"
    print(f"{ZONE} calendar, viewer {VIEWER}, {first_day}..{last_day}, {REPETITIONS} repetitions")
    print(
        f"with 1000 bookings: median {busy_median:.1f} ms (p95 {busy_p95:.1f} ms), {busy_slots} slots"
        f" — target < {TARGET_MS:.0f} ms: {verdict}"
    )
    print(f"without bookings:   median {free_median:.1f} ms (p95 {free_p95:.1f} ms), {free_slots} slots")
    print(f"ratio a/b (median): {busy_median / free_median:.2f}")


if __name__ == "__main__":
    main()
