"""The clock: every "now" in OneSlot is aware and in UTC (tests pin it with time_machine)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)
