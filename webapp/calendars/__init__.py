"""Calendars: availability, limits, and the slot engine behind them."""
