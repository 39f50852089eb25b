"""The step types, one module each: a subclass of base.StepType (the contract: every hook the engine
and the editor call, with its default), whose one instance is registered here.

To add a step type: a module here with its StepType subclass and `STEP = TheType()`, registered below;
its editor card templates/workflows/steps/<TYPE>.html and its history templates/workflows/steps/<TYPE>_history.html.
"""

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
from webapp.workflows.actions.base import (
    _REGISTRY,
    AfterFlush,
    StepContext,
    StepError,
    StepStop,
    StepType,
    all_types,
    by_category,
    get,
    outputs_of,
    register,
    resolve,
)
from webapp.workflows.merge import BOOKING_VALUES, CALENDAR_VALUES, CONTACT_VALUES, HOST_VALUES, has_calendar

__all__ = [
    "_REGISTRY",
    "AfterFlush",
    "StepContext",
    "StepError",
    "StepStop",
    "StepType",
    "all_types",
    "available",
    "by_category",
    "get",
    "outputs_of",
    "register",
    "resolve",
]


def available(steps_before, trigger_type: str = "") -> list[tuple[str, list[tuple[str, str]]]]:
    """The values a step may insert, grouped for the picker: [(group, [(label, expression), …]), …]."""
    groups = [("Contact", [(label, f"{{{{ contact.{field} }}}}") for field, label in CONTACT_VALUES.items()])]
    steps_before = list(steps_before)
    if has_calendar(steps_before, trigger_type):
        groups.append(("Calendar", [(label, f"{{{{ calendar.{f} }}}}") for f, label in CALENDAR_VALUES.items()]))
        booking = [(label, f"{{{{ booking.{f} }}}}") for f, label in BOOKING_VALUES.items()]
        booking += [(label, f"{{{{ booking.host.{f} }}}}") for f, label in HOST_VALUES.items()]
        groups.append(("Booking", booking))
    for step in steps_before:
        step_type = get(step.get("type", ""))
        if step_type and (values := step_type.custom_values(step)):
            groups.append((step_type.LABEL, values))
    groups.append(("Workflow", [("Workflow name", "{{ workflow.name }}")]))
    return groups


# Registration order is the order of the "add a step" menu (its groups follow each CATEGORY's first type).
register(generate_link.STEP)
register(send_email.STEP)
register(notify_email.STEP)
register(add_tag.STEP)
register(remove_tag.STEP)
register(webhook.STEP)
register(wait.STEP)
register(if_else.STEP)
register(goal.STEP)
