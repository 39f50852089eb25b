"""Every model, imported in one place so Alembic and create_all() see the whole schema."""

from webapp.api.models import ApiKey  # noqa: F401  (API keys: part of the schema)
from webapp.auth.models import User
from webapp.booking.calendar_copies import CalendarEventCopy
from webapp.booking.models import Booking, BookingHost, LinkCount, OneTimeLink
from webapp.branding.models import Branding
from webapp.calendars.models import AvailabilityRange, Calendar, DateOverride
from webapp.contacts.models import Contact, Tag, contact_tags
from webapp.heartbeat import WorkerHeartbeat
from webapp.hosts.models import BusyBlock, CalendarHost, Connection, Host, HostHours, HostTimeOff
from webapp.mail.models import OutboxMessage
from webapp.workflows.models import Enrolment, StepRun, Workflow, WorkflowVersion  # noqa: F401

__all__ = [
    "AvailabilityRange",
    "LinkCount",
    "OneTimeLink",
    "Booking",
    "BookingHost",
    "Branding",
    "BusyBlock",
    "CalendarEventCopy",
    "CalendarHost",
    "Connection",
    "Host",
    "HostHours",
    "HostTimeOff",
    "Calendar",
    "Contact",
    "DateOverride",
    "Tag",
    "User",
    "contact_tags",
    "OutboxMessage",
    "WorkerHeartbeat",
]
