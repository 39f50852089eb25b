"""The step-type contract: what a step may raise and return, what it sees, and every hook the engine
and the editor call, each with its default; plus the registry of step types.

A step type is a subclass of StepType whose one instance is registered (actions/__init__.py). It
overrides the hooks it needs; callers never probe for them. Its editor card's fields are
templates/workflows/steps/<TYPE>.html (a macro fields(card, f) inside the card's form and optionally
after(card, f) below it), and what its runs made is shown in an enrolment's timeline by
templates/workflows/steps/<TYPE>_history.html (given `s`, the timeline's StepView, and `out`, its output).

This module imports nothing from the workflows package at run time (formkit only for its types), so
every step module imports it at the top.
"""

import copy
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from webapp.workflows.formkit import StepForm


class StepError(Exception):
    """A step that cannot be done; permanent=True fails the enrolment at once instead of retrying."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class StepStop(Exception):
    """Raised by poll(): the step is done and the enrolment ends here, completed, for the reason given
    (a reminder whose booking was cancelled has nothing left to remind of)."""


class AfterFlush:
    """A step output's value that exists only once the session is flushed, e.g. AfterFlush(lambda: row.id)."""

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn


def resolve(output: dict) -> dict:
    """The output with its AfterFlush values filled in (call after a flush)."""
    return {key: value.fn() if isinstance(value, AfterFlush) else value for key, value in output.items()}


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
    def config(self) -> Mapping:
        return self.step.get("config") or {}


class StepType:
    """A kind of step. The attributes and methods below are the whole contract, with their defaults."""

    TYPE = ""  # stored in the workflow's steps
    CATEGORY = ""  # the group in the "add a step" menu
    LABEL = ""  # its name in the menu, the editor and the history
    DEFAULTS: Mapping = {}  # a new step's config (and what an imported step's config starts from)
    # The values later steps may insert as {{ steps.<key>.<field> }}: field -> label. A step that offers
    # any needs a key.
    OUTPUTS: Mapping[str, str] = {}
    # Outputs that are secret links, by the output holding their id: field -> (token purpose, id field).
    # Later steps get a tokens.LinkRef (never text), which only the message or request it goes into can
    # turn into the URL.
    SECRET_LINKS: Mapping[str, tuple[str, str]] = {}
    # run() reaches another system (a webhook): the engine runs it in a transaction of its own, never
    # in a batch that might roll back.
    EXTERNAL = False
    # What run() made can be done at once by expedite() (send the queued email): the engine expedites
    # it before the first poll instead of polling first.
    EXPEDITES = False
    FORM: "type[StepForm] | None" = None  # the editor card's form (load(step), config()); None: no fields

    def validate(self, config: Mapping, earlier_steps, *, later_steps=(), trigger_type: str = "") -> dict[str, str]:
        """What is wrong with the config, by field; {} when it can be saved."""
        return {}

    def run(self, ctx: StepContext) -> dict:
        """Do the step; returns its output. Side effects stay in the session, uncommitted and unflushed:
        a value known only once the session is flushed (a new row's id) is given as AfterFlush(fn); the
        engine flushes the steps of many enrolments at once, then resolve()s. The engine commits the
        side effects together with the step's "done" record, so run() never commits."""
        raise NotImplementedError

    def poll(self, ctx: StepContext, output: dict) -> bool | datetime:
        """True when the step is done; False to look again in a few seconds (an email going out); a
        datetime to look again then (a wait). May raise StepStop. Default: done once run."""
        return True

    def expedite(self, outputs: list[dict]) -> list[dict | None]:
        """Do now what poll waits for, for several steps' outputs at once (see EXPEDITES); for each: what
        to add to the output for poll, which then looks at once, or None where nothing was done."""
        return [None] * len(outputs)

    def custom_values(self, step: Mapping) -> list[tuple[str, str]]:
        """The custom values this step offers later steps, for the picker: [(label, expression)]."""
        return []

    def describe(self, config: Mapping) -> str:
        """One line about the configured step for the editor's card ("" for none)."""
        return ""

    def new_config(self, earlier_steps=()) -> dict:
        """A new step's config; `earlier_steps` are the steps that run before it (a step that follows a
        link preselects the one link step above, when there is exactly one: linkref.only_key)."""
        return copy.deepcopy(dict(self.DEFAULTS))

    def new_secret(self) -> str:
        """A new value for the config's "secret" (made for a new or imported step, and on demand)."""
        return secrets.token_urlsafe(32)

    def reveal(self, config: Mapping) -> str | None:
        """The config's secret in clear, to show once when made; None when there is none to show."""
        return None

    def secret_hint(self, config: Mapping) -> str:
        """How the editor shows that a secret is set without revealing it ("" for none)."""
        return ""


_REGISTRY: dict[str, StepType] = {}


def register(step_type: StepType) -> None:
    """Add (or replace) a step type."""
    _REGISTRY[step_type.TYPE] = step_type


def get(type_name: str) -> StepType | None:
    """The step type of that name, or None."""
    return _REGISTRY.get(type_name)


def all_types() -> dict[str, StepType]:
    """Every step type, in registration order."""
    return dict(_REGISTRY)


def by_category() -> dict[str, list[StepType]]:
    """Step types grouped for the "add a step" menu."""
    groups: dict[str, list[StepType]] = {}
    for step_type in _REGISTRY.values():
        groups.setdefault(step_type.CATEGORY, []).append(step_type)
    return groups


def outputs_of(step: Mapping) -> dict[str, str]:
    """The fields a step's output offers to later steps."""
    step_type = get(step.get("type", ""))
    return dict(step_type.OUTPUTS) if step_type else {}
