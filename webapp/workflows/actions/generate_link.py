"""Generate One-Time Booking Link: a personal link on one calendar, owned by the enrolment that made it.

A test run's link is its own (OneTimeLink.test_run): it never reuses or revokes the contact's real
links (nor a real run a test link), and it stops working TEST_LINK_MINUTES after it is made, or
sooner when the admin ends the test run (webapp/workflows/test_runs.py): long enough to open the
test email and try the booking page, never a working link left behind.
"""

import re
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, or_, select, update
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from webapp.audit import audit
from webapp.booking import links
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.workflows.actions.base import AfterFlush, StepError, StepType
from webapp.workflows.formkit import StepForm, calendar_choices, int_or_none

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
UNITS = {"hours": 1, "days": 24}
MAX_HOURS = 366 * 24
# Re-arm (the link books again after a cancellation / a no-show): the calendar's choice, or on, or off.
REARM = {"calendar": None, "on": True, "off": False}
REARM_CHOICES = [
    SelectChoice("calendar", "Default (as set where the link is made)"),
    SelectChoice("on", "Yes, the link books again"),
    SelectChoice("off", "No, the link stays used"),
]
# How long a test run's link works (its steps run within seconds: waits are skipped).
TEST_LINK_MINUTES = 60


class GenerateLinkForm(StepForm):
    calendar_id = SelectField("Calendar", choices=[], validate_choice=False)
    expires_in = StringField("Expires after (empty: never)", render_kw={"inputmode": "numeric", "size": 4})
    expires_unit = SelectField("Unit", choices=[SelectChoice("hours"), SelectChoice("days")], validate_choice=False)
    key = StringField("Key (used in custom values)", render_kw={"spellcheck": "false", "autocomplete": "off"})
    existing = RadioField(
        "If the contact already holds an active link for that calendar",
        choices=[SelectChoice("reuse", "Reuse it"), SelectChoice("revoke", "Revoke it and issue a new one")],
        default="reuse",
        validate_choice=False,
    )
    rearm_cancel = SelectField(
        "After a cancellation, the same link may book again", choices=REARM_CHOICES, validate_choice=False
    )
    rearm_no_show = SelectField(
        "After a no-show, the same link may book again", choices=REARM_CHOICES, validate_choice=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calendar_id.choices = calendar_choices("Choose a calendar…")

    def load(self, step):
        config = step.get("config") or {}
        self.calendar_id.data = str(config.get("calendar_id") or "")
        expires_in = config.get("expires_in")
        self.expires_in.data = "" if expires_in is None else str(expires_in)
        self.expires_unit.data = config.get("expires_unit") or "days"
        self.existing.data = config.get("existing") or "reuse"
        self.rearm_cancel.data = config.get("rearm_cancel") or "calendar"
        self.rearm_no_show.data = config.get("rearm_no_show") or "calendar"
        self.key.data = step.get("key") or ""
        return self

    def config(self) -> dict:
        config = {
            "calendar_id": int_or_none(self.calendar_id.data),
            # Not a number: passed on as typed, so the step's own check names the problem.
            "expires_in": int_or_none(self.expires_in.data)
            if (self.expires_in.data or "").strip().isdigit()
            else ((self.expires_in.data or "").strip() or None),
            "expires_unit": self.expires_unit.data or "days",
            "existing": self.existing.data or "reuse",
        }
        # Stored only when overridden: a step saved before re-arm existed, and its export, read the same.
        for key in ("rearm_cancel", "rearm_no_show"):
            if (self[key].data or "calendar") != "calendar":
                config[key] = self[key].data
        return config


def _active_links(
    contact_id: int | ColumnElement[int], calendar_id: int | ColumnElement[int], now: datetime | ColumnElement[datetime]
):
    """The conditions of a contact's active links on a calendar, for values or for bound parameters."""
    return (
        OneTimeLink.contact_id == contact_id,
        OneTimeLink.calendar_id == calendar_id,
        OneTimeLink.test_run.is_(False),
        OneTimeLink.used_at.is_(None),
        OneTimeLink.revoked_at.is_(None),
        or_(OneTimeLink.expires_at.is_(None), OneTimeLink.expires_at > now),
    )


# The contact's newest active link on the calendar; built once (building a statement costs more than running it).
_LATEST_ACTIVE = (
    select(OneTimeLink)
    .where(*_active_links(bindparam("contact_id"), bindparam("calendar_id"), bindparam("now")))
    .order_by(OneTimeLink.id.desc())
    .limit(1)
)


class GenerateLink(StepType):
    TYPE = "generate_link"
    CATEGORY = "Appointments"
    LABEL = "Generate One-Time Booking Link"
    DEFAULTS = {
        "calendar_id": None,
        "expires_in": None,
        "expires_unit": "days",
        "existing": "reuse",
    }
    OUTPUTS = {"url": "One-Time Link", "calendar_name": "Calendar name", "expires_at": "Link expiry (UTC)"}
    SECRET_LINKS = {"url": (links.PURPOSE, "link_id")}
    FORM = GenerateLinkForm

    def new_config(self, earlier_steps=()) -> dict:
        """The defaults, on the only calendar when there is exactly one (not archived)."""
        ids = db.session.scalars(select(Calendar.id).where(Calendar.archived_at.is_(None)).limit(2)).all()
        return {**self.DEFAULTS, "calendar_id": ids[0] if len(ids) == 1 else None}

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """Calendar required (and not archived); expiry a positive number of hours or days; reuse or revoke."""
        errors = {}
        calendar_id = config.get("calendar_id")
        calendar = db.session.get(Calendar, calendar_id) if isinstance(calendar_id, int) else None
        if calendar is None:
            errors["calendar_id"] = "Choose the calendar the link books on."
        elif calendar.archived_at:
            errors["calendar_id"] = f"The calendar “{calendar.name}” is archived."
        expires_in = config.get("expires_in")
        if expires_in not in (None, ""):
            unit = config.get("expires_unit", "days")
            if unit not in UNITS:
                errors["expires_unit"] = "The expiry is in hours or days."
            elif not isinstance(expires_in, int) or isinstance(expires_in, bool) or expires_in < 1:
                errors["expires_in"] = "The expiry is a whole number of hours or days, at least 1."
            elif expires_in * UNITS[unit] > MAX_HOURS:
                errors["expires_in"] = "The expiry can be at most a year."
        if config.get("existing", "reuse") not in ("reuse", "revoke"):
            errors["existing"] = "When the contact already has a link: reuse it or revoke it."
        for key in ("rearm_cancel", "rearm_no_show"):
            if config.get(key, "calendar") not in REARM:
                errors[key] = "Choose as the calendar says, yes or no."
        return errors

    def custom_values(self, step) -> list[tuple[str, str]]:
        """One-Time Link (and friends) of this step, for the picker."""
        key = step.get("key") or "booking_link"
        return [(label, f"{{{{ steps.{key}.{field} }}}}") for field, label in self.OUTPUTS.items()]

    def run(self, ctx) -> dict:
        """Reuse the contact's active link for the calendar, or revoke it and issue a new one."""
        config = ctx.config
        calendar = db.session.get(Calendar, config.get("calendar_id"))
        if calendar is None:
            raise StepError("The link's calendar no longer exists.", permanent=True)
        params = {"contact_id": ctx.contact.id, "calendar_id": calendar.id, "now": ctx.now}
        existing = None  # a test run leaves the contact's real links alone: it always makes its own
        if not ctx.enrolment.is_test:
            with db.session.no_autoflush:  # what is pending (other steps' records) cannot change the answer
                existing = db.session.scalar(_LATEST_ACTIVE, params)
        if existing is not None and config.get("existing", "reuse") == "reuse":
            link, reused = existing, True
        else:
            if existing is not None:
                active = _active_links(ctx.contact.id, calendar.id, ctx.now)
                revoked = list(db.session.scalars(select(OneTimeLink.id).where(*active)))
                db.session.execute(
                    update(OneTimeLink).where(OneTimeLink.id.in_(revoked), *active).values(revoked_at=ctx.now),
                    execution_options={"synchronize_session": False},
                )
                for link_id in revoked:
                    audit("link.revoke", link_id=link_id, enrolment_id=ctx.enrolment.id)
            expires_at = None
            if config.get("expires_in"):
                expires_at = ctx.now + timedelta(hours=config["expires_in"] * UNITS[config.get("expires_unit", "days")])
            if ctx.enrolment.is_test:
                cap = ctx.now + timedelta(minutes=TEST_LINK_MINUTES)
                expires_at = min(expires_at, cap) if expires_at else cap
            # Which run made the link goes in its own columns; the metadata stays empty, the API client's own.
            link = links.issue(
                calendar,
                ctx.contact,
                expires_at=expires_at,
                source="workflow",
                flush=False,
                enrolment=ctx.enrolment,
                step_id=str(ctx.step.get("id", "")),
                # Fixed on the link now: a later edit of the calendar or the step changes no link already sent.
                rearm_on_cancel=REARM.get(config.get("rearm_cancel", "calendar")),
                rearm_on_no_show=REARM.get(config.get("rearm_no_show", "calendar")),
            )
            reused = False
        return {
            "link_id": AfterFlush(lambda: links.issued(link)) if not reused else link.id,
            "calendar_id": calendar.id,
            "calendar_name": calendar.name,
            "expires_at": link.expires_at.strftime("%Y-%m-%d %H:%M") if link.expires_at else "",
            "reused": reused,
        }


STEP = GenerateLink()
