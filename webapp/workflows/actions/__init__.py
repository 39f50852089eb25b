"""The step types, one module each. A module declares:

    TYPE = "generate_link"               stored in the workflow's steps
    CATEGORY = "Appointments"            the group in the "add a step" menu
    LABEL = "Generate One-Time Booking Link"
    DEFAULTS = {...}                     a new step's config
    OUTPUTS = {"url": "One-Time Link"}   the values later steps may insert as {{ steps.<key>.<field> }}
    validate(config, earlier_steps, *, later_steps=(), trigger_type="") -> {field: message}
    run(ctx: StepContext) -> dict        the step's output; side effects stay in the session, uncommitted
                                         and unflushed: a value known only once the session is flushed
                                         (a new row's id) is given as AfterFlush(fn); the engine flushes
                                         the steps of many enrolments at once, then resolve()s
    custom_values(step) -> [(label, expression)]
    poll(ctx, output) -> bool | datetime optional: True when the step is done; False to look again in a few
                                         seconds (an email going out); a datetime to look again then (a wait)
    expedite(outputs) -> [dict | None]   optional: do now what poll waits for (send the queued emails), for
                                         several steps' outputs at once; where it worked, what to add to
                                         the output for poll, which then looks at once
    EXTERNAL = True                      optional: run() reaches another system (a webhook), so the engine
                                         runs it in a transaction of its own, never in a batch
    FORM = SomeForm                      the editor card's form (a formkit.StepForm: load(step), config())
    new_config() -> dict                 optional: a new step's config when DEFAULTS is not enough (a secret)

The editor card's fields are templates/workflows/steps/<TYPE>.html: a macro fields(card, f) (inside
the card's form) and optionally after(card, f) (below it). An output's "summary" is shown in the history.

The engine commits a step's side effects together with its "done" record, so run() must not commit.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

from webapp.workflows.actions import (
    add_tag,
    generate_link,
    goal,
    if_else,
    notify_email,
    remove_tag,
    send_email,
    wait,
    webhook,
)

_REGISTRY: dict[str, ModuleType] = {}


class StepError(Exception):
    """A step that cannot be done; permanent=True fails the enrolment at once instead of retrying."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class AfterFlush:
    """A step output's value that exists only once the session is flushed, e.g. AfterFlush(lambda: row.id)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def resolve(output: dict) -> dict:
    """The output with its AfterFlush values filled in (call after a flush)."""
    return {key: value.fn() if isinstance(value, AfterFlush) else value for key, value in output.items()}


class StepStop(Exception):
    """Raised by poll(): the step is done and the enrolment ends here, completed, for the reason given
    (a reminder whose booking was cancelled has nothing left to remind of)."""


@dataclass
class StepContext:
    """What a running step sees."""

    enrolment: object
    contact: object
    workflow_name: str
    trigger_type: str
    step: Mapping
    outputs: dict[str, dict]  # key of each earlier step -> its output
    event: dict
    now: datetime
    values: dict = field(default_factory=dict)  # for templates: contact, calendar, steps, workflow
    calendar: object = None  # the enrolment's calendar (its latest link step's, or the event's), if any
    runs: dict = field(default_factory=dict)  # step id -> StepRun of the steps that ran before

    @property
    def config(self) -> dict:
        return self.step.get("config") or {}


def register(module: ModuleType) -> None:
    """Add (or replace) a step type."""
    _REGISTRY[module.TYPE] = module


def get(step_type: str) -> ModuleType | None:
    """The module of a step type, or None."""
    return _REGISTRY.get(step_type)


def all_types() -> dict[str, ModuleType]:
    """Every step type, in registration order."""
    return dict(_REGISTRY)


def by_category() -> dict[str, list[ModuleType]]:
    """Step types grouped for the "add a step" menu."""
    groups: dict[str, list[ModuleType]] = {}
    for module in _REGISTRY.values():
        groups.setdefault(module.CATEGORY, []).append(module)
    return groups


def outputs_of(step: Mapping) -> dict[str, str]:
    """The fields a step's output offers to later steps."""
    module = get(step.get("type", ""))
    return dict(getattr(module, "OUTPUTS", {})) if module else {}


# Registration order is the order of the "add a step" menu (its groups follow each CATEGORY's first type).
register(generate_link)
register(send_email)
register(notify_email)
register(add_tag)
register(remove_tag)
register(webhook)
register(wait)
register(if_else)
register(goal)
