"""The name the migrations import their column type by (`webapp.types.UTCDateTime`); code imports webapp.columns."""

from webapp.columns import UTCDateTime

__all__ = ["UTCDateTime"]
