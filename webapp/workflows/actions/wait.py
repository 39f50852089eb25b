"""Wait: for a time, until a date, until N before the booking made with a link (reminders), or until
a link is booked (at most N days). The engine parks the enrolment until then (its run_at).

Days count on the wall clock of the enrolment's calendar (the link step's, or the booking event's):
"wait 1 day" from 10:00 is 10:00 the next day there, even across a DST change. Minutes and hours
are exact durations. A test run skips every wait.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from wtforms import SelectField, StringField

from webapp.calendars.availability import LAST_DAY
from webapp.clock import utcnow
from webapp.text import counted
from webapp.workflows import linkref
from webapp.workflows.actions.base import StepStop, StepType
from webapp.workflows.formkit import StepForm, choices_of, int_or_none, link_choices, text
from webapp.zones import resolve, unknown

MODES = {
    "duration": "For a while",
    "until": "Until a date and time",
    "before_booking": "Until a while before the booking",
    "until_booked": "Until the link is booked (or at most some days)",
}
UNITS = {"minutes": "minutes", "hours": "hours", "days": "days"}
MAX_DAYS = 365
AT_FORMAT = "%Y-%m-%dT%H:%M"


class WaitForm(StepForm):
    """Every mode's fields (the card shows the chosen mode's; all of them without JavaScript), all kept."""

    mode = SelectField("Wait", choices=choices_of(MODES), validate_choice=False, render_kw={"data-mode": ""})
    amount = StringField("How long", render_kw={"inputmode": "numeric", "size": 4})
    unit = SelectField("Unit", choices=choices_of(UNITS), validate_choice=False)
    at = StringField("Date and time", render_kw={"type": "datetime-local"})
    timezone = StringField("Time zone")  # the zone picker (macros.html), rendered by the card
    link_step = SelectField("Link step", choices=[], validate_choice=False)
    max_days = StringField("At most (days)", render_kw={"inputmode": "numeric", "size": 4})

    def offer(self, earlier_steps):
        self.link_step.data = self.link_step.data or linkref.only_key(earlier_steps)
        self.link_step.choices = link_choices(linkref.choices(earlier_steps), self.link_step.data or "")
        return self

    def config(self) -> dict:
        return {
            "mode": self.mode.data or "",
            "amount": int_or_none(self.amount.data),
            "unit": self.unit.data or "",
            "at": text(self.at),
            # A city or an alias is saved as its zone ("New York" → America/New_York); other text as typed.
            "timezone": resolve(text(self.timezone)) or text(self.timezone),
            "link_step": self.link_step.data or "",
            "max_days": int_or_none(self.max_days.data),
        }


def _whole(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _max_amount(unit: str) -> int:
    return {"minutes": MAX_DAYS * 24 * 60, "hours": MAX_DAYS * 24}.get(unit, MAX_DAYS)


def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def later(start: datetime, amount: int, unit: str, tz: ZoneInfo | None, sign: int = 1) -> datetime:
    """start ± amount units; days on the wall clock of tz (UTC without one)."""
    if unit != "days":
        return start + sign * timedelta(**{unit: amount})
    tz = tz or ZoneInfo("UTC")
    local = start.astimezone(tz).replace(tzinfo=None) + sign * timedelta(days=amount)
    return local.replace(tzinfo=tz).astimezone(start.tzinfo)


def _calendar_zone(ctx) -> ZoneInfo | None:
    return zone(ctx.calendar.timezone if ctx.calendar else "")


class Wait(StepType):
    TYPE = "wait"
    CATEGORY = "Timing"
    LABEL = "Wait"
    DEFAULTS = {
        "mode": "duration",
        "amount": 1,
        "unit": "days",
        "at": "",
        "timezone": "",
        "link_step": "",
        "max_days": 2,
    }
    FORM = WaitForm

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """Each mode's fields: a whole amount and a unit, a future date in a real zone, an earlier link step."""
        errors = {}
        mode = config.get("mode")
        if mode not in MODES:
            return {"mode": "Choose how long to wait."}
        if mode in ("duration", "before_booking"):
            unit = config.get("unit")
            if unit not in UNITS:
                errors["unit"] = "Minutes, hours or days."
            elif not _whole(config.get("amount"), 1, _max_amount(unit)):
                errors["amount"] = f"A whole number of {unit} from 1 (at most a year)."
        if mode == "until":
            typed = str(config.get("timezone") or "")
            tz = zone(resolve(typed) or "")  # a legacy alias stored before still counts
            if tz is None:
                errors["timezone"] = unknown(typed) if typed else "Choose the time zone of that date."
            try:
                at = datetime.strptime(config.get("at") or "", AT_FORMAT)
            except ValueError:
                errors["at"] = "Enter a date and time, e.g. 2026-12-01 09:00."
            else:
                if at.date() > LAST_DAY:  # and near year 9999 the time in UTC would not even exist
                    errors["at"] = f"Enter a date up to {LAST_DAY:%Y-%m-%d}."
                elif tz is not None and at.replace(tzinfo=tz) <= utcnow():
                    errors["at"] = "That date and time has passed."
        link_problem = linkref.problem(config.get("link_step") or "", earlier_steps)
        if mode in ("before_booking", "until_booked") and link_problem:
            errors["link_step"] = link_problem
        if mode == "until_booked" and not _whole(config.get("max_days"), 1, MAX_DAYS):
            errors["max_days"] = f"A whole number of days from 1 to {MAX_DAYS}."
        return errors

    def new_config(self, earlier_steps=()) -> dict:
        """The defaults, following the one link step above when there is exactly one."""
        return {**self.DEFAULTS, "link_step": linkref.only_key(earlier_steps)}

    def describe(self, config) -> str:
        """One line for the editor and the history: "Wait 2 days", "Wait until 24 hours before the booking"."""
        mode = config.get("mode")
        # The unit is stored plural ("days"); "1 day", "2 days".
        amount = counted(config.get("amount"), str(config.get("unit") or "days").removesuffix("s"))
        if mode == "duration":
            return f"Wait {amount}"
        if mode == "until":
            return f"Wait until {str(config.get('at', '')).replace('T', ' ')} ({config.get('timezone')})"
        key = str(config.get("link_step") or "")
        if mode == "before_booking":
            made_with = f"“{key}”" if key else "the booking link"
            return f"Wait until {amount} before the booking made with {made_with}{linkref.unchosen(key)}"
        booked = f"“{key}”" if key else "the booking link"
        return f"Wait until {booked} is booked, at most {counted(config.get('max_days'), 'day')}{linkref.unchosen(key)}"

    def run(self, ctx) -> dict:
        """When the wait ends (for the modes that know it now); a test run does not wait."""
        config = ctx.config
        if ctx.enrolment.is_test:
            return {"skipped": "a test run does not wait"}
        mode = config.get("mode")
        if mode == "duration":
            until = later(ctx.now, config["amount"], config["unit"], _calendar_zone(ctx))
            return {"until": until.isoformat()}
        if mode == "until":
            at = datetime.strptime(config["at"], AT_FORMAT).replace(tzinfo=zone(config["timezone"]))
            return {"until": at.astimezone(ctx.now.tzinfo).isoformat()}
        if mode == "until_booked":
            return {"deadline": later(ctx.now, config["max_days"], "days", _calendar_zone(ctx)).isoformat()}
        return {"link_step": config.get("link_step")}

    def poll(self, ctx, output) -> bool | datetime:
        """True when the wait is over, else when to look again (a booking change wakes the enrolment earlier)."""
        if output.get("skipped"):
            return True
        config = ctx.config
        if "until" in output:
            until = datetime.fromisoformat(output["until"])
            return True if ctx.now >= until else until
        link = linkref.link_of(ctx, config.get("link_step") or "")
        if "deadline" in output:
            if link is not None and link.used_at is not None:
                output["outcome"] = "booked"
                return True
            deadline = datetime.fromisoformat(output["deadline"])
            if ctx.now >= deadline:
                output["outcome"] = "not booked in time"
                return True
            return deadline
        # before_booking: follows the booking as it is now (rescheduled: the new time; cancelled: no reminder).
        booking = link.booking if link is not None else None
        if booking is None:
            raise StepStop("The link was not booked: there is no booking to wait for.")
        if booking.status == "cancelled":
            raise StepStop("The booking was cancelled: nothing to remind of.")
        if booking.start_at <= ctx.now:
            raise StepStop("The meeting has already started.")
        target = later(booking.start_at, config["amount"], config["unit"], _calendar_zone(ctx), sign=-1)
        output["booking_start"] = booking.start_at.isoformat()
        if ctx.now >= target:
            return True
        output["remind_at"] = target.isoformat()  # shown in the history; recomputed on every look
        return target


STEP = Wait()
