"""The calendar pages."""
