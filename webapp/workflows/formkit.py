"""What every editor form builds on: the base class and a few field helpers.

Step types declare their own form (their FORM); this module imports nothing from the
workflows package, so an action module can use it without an import cycle.
"""

from collections.abc import Mapping

from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.hosts.models import Host


class Form(FlaskForm):
    """CSRFProtect checks every POST (the token rides in a field or the HTMX header); many forms share a page."""

    class Meta:
        csrf = False


class StepForm(Form):
    """A step card's form: load(step) fills it for GET, config() gives the step's config back.

    `step` is the saved step (set by forms.step_form), so config() can keep what the card does not
    edit (a webhook's secret). `cv_fields` names the fields the custom-value picker inserts into.
    """

    step: Mapping = {}
    cv_fields: tuple[str, ...] = ()

    def load(self, step):
        """Fill every field named like a config key from the saved step."""
        config = step.get("config") or {}
        for name, field in self._fields.items():
            if name in config:
                field.data = "" if config[name] is None else str(config[name])
        if "key" in self:
            self.key.data = step.get("key") or ""
        return self

    def config(self) -> dict:
        raise NotImplementedError

    def edit(self, action: str | None) -> bool:
        """Apply a button that changes the card without saving it (add a row); True when one was applied."""
        return False

    def offer(self, earlier_steps) -> "StepForm":
        """Fill the choices that depend on the steps before this one (link steps); most forms have none."""
        return self


def choices_of(labels: Mapping[str, str]) -> list[SelectChoice]:
    """A select's choices from {value: label}, in order."""
    return [SelectChoice(value, label) for value, label in labels.items()]


def calendar_choices(blank: str) -> list[SelectChoice]:
    """Every calendar that is not archived, for a select; `blank` labels the empty choice."""
    calendars = db.session.scalars(select(Calendar).where(Calendar.archived_at.is_(None)).order_by(Calendar.name))
    return [SelectChoice("", blank)] + [SelectChoice(str(c.id), c.name) for c in calendars]


def host_choices(blank: str) -> list[SelectChoice]:
    """The active hosts (team members), by name, for a select; `blank` labels the empty choice."""
    hosts = db.session.execute(
        select(Host.id, Host.name, Host.email).where(Host.is_active.is_(True)).order_by(Host.name)
    )
    return [SelectChoice("", blank)] + [SelectChoice(str(h.id), f"{h.name} ({h.email})") for h in hosts]


def int_or_none(value):
    """A whole number from a form value, or None."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def text(field) -> str:
    """A field's value as stripped text ('' when empty)."""
    return (field.data or "").strip()


def link_choices(offered: list[tuple[str, str]], saved: str, blank: str = "Choose a link step…") -> list[SelectChoice]:
    """A link-step select's choices: the earlier link steps offered, and the saved key when it is no
    longer one of them (kept, so the card shows what is wrong instead of silently picking another)."""
    choices = [SelectChoice("", blank), *(SelectChoice(value, label) for value, label in offered)]
    if saved and saved not in dict(offered):
        choices.append(SelectChoice(saved, f"“{saved}” (not a link step before this one)"))
    return choices
