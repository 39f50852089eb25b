"""Every model, imported in one place so Alembic and create_all() see the whole schema."""

from webapp.auth.models import User
from webapp.calendars.models import AvailabilityRange, Booking, Calendar, DateOverride
from webapp.contacts.models import Contact, Tag, contact_tags

__all__ = ["AvailabilityRange", "Booking", "Calendar", "Contact", "DateOverride", "Tag", "User", "contact_tags"]
