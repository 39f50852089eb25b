"""Calendars: availability, limits, and the slot engine behind them."""

from webapp.calendars.views import bp

__all__ = ["bp"]
