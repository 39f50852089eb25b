"""Editing a workflow's draft from the editor: steps added, saved, moved and deleted; list counts.

Each change commits and is audited; publishing (services.publish) is what contacts see.
"""

from collections.abc import Mapping
from types import SimpleNamespace

from sqlalchemy import delete, func, select

from webapp.audit import audit
from webapp.booking.models import OneTimeLink
from webapp.extensions import db
from webapp.workflows import actions, services
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion


def step_index(workflow: Workflow, step_id: str) -> int | None:
    """The position of a step in the draft, or None."""
    for index, step in enumerate(workflow.steps or []):
        if step.get("id") == step_id:
            return index
    return None


def unique_key(steps, base: str) -> str:
    """booking_link, then booking_link_2, … : a key no other step uses."""
    taken = {step.get("key") for step in steps}
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


def _store(workflow: Workflow, steps: list, action: str, **ids) -> None:
    workflow.steps = steps  # a new list: the JSON column sees the change
    db.session.commit()
    audit(action, workflow_id=workflow.id, **ids)


def add_step(workflow: Workflow, step_type: str, at: int | None = None) -> dict:
    """Insert a new step of a type at a position (the end by default). Commits."""
    steps = [dict(step) for step in workflow.steps or []]
    module = actions.get(step_type)
    key = ""
    if module is not None and getattr(module, "OUTPUTS", None):
        key = unique_key(steps, "booking_link" if step_type == "generate_link" else step_type)
    step = services.new_step(step_type, key)
    at = len(steps) if at is None or not 0 <= at <= len(steps) else at
    steps.insert(at, step)
    _store(workflow, steps, "workflow.step_add", step_id=step["id"], type=step_type)
    return step


def step_errors(workflow: Workflow, step_id: str, key: str, config: Mapping) -> dict[str, str]:
    """What would be wrong with the step saved with this key and config (the whole-workflow rules)."""
    steps = [dict(step) for step in workflow.steps or []]
    index = step_index(workflow, step_id)
    steps[index] = {**steps[index], "key": key, "config": dict(config)}
    draft = SimpleNamespace(
        name=workflow.name, trigger_type=workflow.trigger_type, trigger_config=workflow.trigger_config, steps=steps
    )
    return services.validate(draft).get(step_id, {})


def save_step(workflow: Workflow, step_id: str, key: str, config: Mapping) -> dict[str, str]:
    """Save a step's key and config when valid; returns the problems otherwise (nothing saved)."""
    if errors := step_errors(workflow, step_id, key, config):
        return errors
    steps = [dict(step) for step in workflow.steps]
    index = step_index(workflow, step_id)
    steps[index] = {**steps[index], "key": key, "config": dict(config)}
    _store(workflow, steps, "workflow.step_save", step_id=step_id)
    return {}


def regenerate_step_secret(workflow: Workflow, step_id: str) -> None:
    """A new signing secret for a step whose config has one (an outgoing webhook). Commits."""
    steps = [dict(step) for step in workflow.steps]
    index = step_index(workflow, step_id)
    module = actions.get(steps[index].get("type", ""))
    steps[index]["config"] = {**steps[index].get("config", {}), "secret": module.new_secret()}
    _store(workflow, steps, "workflow.step_secret", step_id=step_id)


def move_step(workflow: Workflow, step_id: str, direction: str) -> bool:
    """Swap a step with its neighbour above ("up") or below ("down"); False at an end. Commits."""
    steps = [dict(step) for step in workflow.steps or []]
    index = step_index(workflow, step_id)
    other = index + (-1 if direction == "up" else 1) if index is not None else -1
    if not 0 <= other < len(steps):
        return False
    steps[index], steps[other] = steps[other], steps[index]
    _store(workflow, steps, "workflow.step_move", step_id=step_id, direction=direction)
    return True


def delete_step(workflow: Workflow, step_id: str) -> None:
    """Remove a step from the draft. Commits."""
    steps = [dict(step) for step in workflow.steps or [] if step.get("id") != step_id]
    _store(workflow, steps, "workflow.step_delete", step_id=step_id)


def set_trigger(workflow: Workflow, trigger_type: str, config: Mapping) -> dict[str, str]:
    """Save the trigger when valid; returns the problems otherwise (nothing saved)."""
    if errors := services.validate_trigger(trigger_type, config):
        return errors
    workflow.trigger_type = trigger_type
    workflow.trigger_config = dict(config)
    db.session.commit()
    audit("workflow.trigger", workflow_id=workflow.id, trigger=trigger_type)
    return {}


def save_settings(workflow: Workflow, allow_reentry: bool, sender_name: str) -> None:
    """Re-entry and the sender's display name. Commits."""
    workflow.allow_reentry = bool(allow_reentry)
    workflow.sender_name = sender_name.strip()
    db.session.commit()
    audit("workflow.settings", workflow_id=workflow.id)


def rename(workflow: Workflow, name: str) -> None:
    """A new name (the draft and the live version share it). Commits."""
    workflow.name = name.strip()
    db.session.commit()
    audit("workflow.rename", workflow_id=workflow.id)


def duplicate(workflow: Workflow) -> Workflow:
    """A draft copy of the workflow's draft: same trigger, steps and settings, a new webhook secret."""
    copy = services.create_workflow(f"{workflow.name} (copy)"[:200], workflow.trigger_type, workflow.trigger_config)
    copy.steps = [dict(step) for step in workflow.steps or []]
    copy.allow_reentry = workflow.allow_reentry
    copy.sender_name = workflow.sender_name
    db.session.commit()
    audit("workflow.duplicate", workflow_id=copy.id, source_id=workflow.id)
    return copy


def delete_workflow(workflow: Workflow) -> None:
    """Delete the workflow, its versions and its enrolments' history. Commits."""
    workflow_id = workflow.id
    workflow.published_version_id = None
    db.session.flush()
    db.session.execute(delete(Enrolment).where(Enrolment.workflow_id == workflow_id))
    db.session.execute(delete(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id))
    db.session.delete(workflow)
    db.session.commit()
    audit("workflow.delete", workflow_id=workflow_id)


COUNTS = ("enrolled", "active", "completed", "failed", "booked")


def counts(workflow_ids) -> dict[int, dict[str, int]]:
    """Per workflow: enrolled, active, completed, failed, and booked (enrolments whose link was used)."""
    ids = list(workflow_ids)
    result = {wid: dict.fromkeys(COUNTS, 0) for wid in ids}
    if not ids:
        return result
    rows = db.session.execute(
        select(Enrolment.workflow_id, Enrolment.status, func.count())
        .where(Enrolment.workflow_id.in_(ids), Enrolment.is_test.is_(False))
        .group_by(Enrolment.workflow_id, Enrolment.status)
    )
    for wid, status, n in rows:
        result[wid]["enrolled"] += n
        if status in result[wid]:
            result[wid][status] += n
    workflow_key = OneTimeLink.meta["workflow_id"].as_string()
    enrolment_key = OneTimeLink.meta["enrolment_id"].as_string()
    booked = db.session.execute(
        select(workflow_key, func.count(func.distinct(enrolment_key)))
        .where(
            OneTimeLink.source == "workflow",
            OneTimeLink.used_at.is_not(None),
            workflow_key.in_([str(wid) for wid in ids]),
        )
        .group_by(workflow_key)
    )
    for wid, n in booked:
        result[int(wid)]["booked"] = n
    return result
