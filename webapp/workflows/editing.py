"""Editing a workflow's draft from the editor: steps added, saved, moved and deleted; list counts.

Each change commits and is audited; publishing (services.publish) is what contacts see.
"""

from collections.abc import Mapping
from copy import deepcopy
from types import SimpleNamespace

from sqlalchemy import delete, func, literal, select, union_all

from webapp import paging
from webapp.audit import audit
from webapp.booking import counts as link_counts
from webapp.booking.models import OneTimeLink
from webapp.extensions import db
from webapp.workflows import actions, program, services, test_runs
from webapp.workflows.models import Enrolment, Workflow, WorkflowVersion


def unique_key(steps, base: str) -> str:
    """booking_link, then booking_link_2, … : a key no other step (in any branch) uses."""
    taken = {step.get("key") for step, _path in program.walk(steps)}
    key, n = base, 1
    while key in taken:
        n += 1
        key = f"{base}_{n}"
    return key


def _locate(steps: list, step_id: str) -> tuple[list, int] | None:
    """The list holding a step (the top list or a branch's, in this copy of the tree) and its index there."""
    for index, step in enumerate(steps):
        if step.get("id") == step_id:
            return steps, index
        for items in (step.get("branches") or {}).values():
            if found := _locate(items, step_id):
                return found
    return None


def _store(workflow: Workflow, steps: list, action: str, **ids) -> None:
    workflow.steps = steps  # a new list: the JSON column sees the change
    db.session.commit()
    audit(action, workflow_id=workflow.id, **ids)


def add_step(
    workflow: Workflow, step_type: str, at: int | None = None, parent: str | None = None, branch: str = "yes"
) -> dict:
    """Insert a new step of a type at a position (the end by default) of the top list, or of an if/else
    step's branch (parent = its id). Commits."""
    steps = deepcopy(list(workflow.steps or []))
    kind = actions.get(step_type)
    key = ""
    if kind is not None and kind.OUTPUTS:
        key = unique_key(steps, "booking_link" if step_type == "generate_link" else step_type)
    step = services.new_step(step_type, key)
    if step_type == "if_else":
        step["branches"] = {"yes": [], "no": []}
    target = steps
    if parent is not None:
        found = _locate(steps, parent)
        if found is None or branch not in program.BRANCHES or found[0][found[1]].get("type") != "if_else":
            raise ValueError("no such branch")
        branches = found[0][found[1]].setdefault("branches", {"yes": [], "no": []})
        target = branches.setdefault(branch, [])
    at = len(target) if at is None or not 0 <= at <= len(target) else at
    target.insert(at, step)
    if kind is not None:  # its config knows what runs before it (the one link step above, preselected)
        step["config"] = kind.new_config(program.before(steps, step["id"]) or [])
    _store(workflow, steps, "workflow.step_add", step_id=step["id"], type=step_type)
    return step


def _with(workflow: Workflow, step_id: str, key: str, config: Mapping) -> list:
    steps = deepcopy(list(workflow.steps or []))
    found = _locate(steps, step_id)
    if found is None:
        raise KeyError(step_id)
    items, index = found
    items[index] = {**items[index], "key": key, "config": dict(config)}
    return steps


def step_errors(workflow: Workflow, step_id: str, key: str, config: Mapping) -> dict[str, str]:
    """What would be wrong with the step saved with this key and config (the whole-workflow rules)."""
    draft = SimpleNamespace(
        name=workflow.name,
        trigger_type=workflow.trigger_type,
        trigger_config=workflow.trigger_config,
        steps=_with(workflow, step_id, key, config),
    )
    return services.validate(draft).get(step_id, {})


def save_step(workflow: Workflow, step_id: str, key: str, config: Mapping) -> dict[str, str]:
    """Save a step's key and config when valid; returns the problems otherwise (nothing saved)."""
    if errors := step_errors(workflow, step_id, key, config):
        return errors
    _store(workflow, _with(workflow, step_id, key, config), "workflow.step_save", step_id=step_id)
    return {}


def regenerate_step_secret(workflow: Workflow, step_id: str) -> None:
    """A new signing secret for a step, at any depth, whose config has one (an outgoing webhook). Commits."""
    steps = deepcopy(list(workflow.steps or []))
    found = _locate(steps, step_id)
    if found is None:
        raise KeyError(step_id)
    items, index = found
    kind = actions.get(items[index].get("type", ""))
    if kind is None:
        raise KeyError(items[index].get("type"))
    items[index]["config"] = {**items[index].get("config", {}), "secret": kind.new_secret()}
    _store(workflow, steps, "workflow.step_secret", step_id=step_id)


def move_step(workflow: Workflow, step_id: str, direction: str) -> bool:
    """Swap a step with its neighbour above ("up") or below ("down") in its list; False at an end. Commits."""
    steps = deepcopy(list(workflow.steps or []))
    found = _locate(steps, step_id)
    if found is None:
        return False
    items, index = found
    other = index + (-1 if direction == "up" else 1)
    if not 0 <= other < len(items):
        return False
    items[index], items[other] = items[other], items[index]
    _store(workflow, steps, "workflow.step_move", step_id=step_id, direction=direction)
    return True


def delete_step(workflow: Workflow, step_id: str) -> None:
    """Remove a step (an if/else with its branches) from the draft. Commits."""
    steps = deepcopy(list(workflow.steps or []))
    if found := _locate(steps, step_id):
        del found[0][found[1]]
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
    copy.steps = deepcopy(list(workflow.steps or []))
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
    # Its test runs' links must not outlive it (a test run leaves no working link: test_runs.py).
    test_runs.withdraw_links(OneTimeLink.workflow_id == workflow_id)
    db.session.execute(delete(Enrolment).where(Enrolment.workflow_id == workflow_id))
    db.session.execute(delete(WorkflowVersion).where(WorkflowVersion.workflow_id == workflow_id))
    db.session.delete(workflow)
    db.session.commit()
    audit("workflow.delete", workflow_id=workflow_id)


COUNTS = ("enrolled", "active", "completed", "failed", "booked")


ENROLMENT_COUNTS = {"enrolled": None, "active": "active", "completed": "completed", "failed": "failed"}
# Workflows counted per statement: each brings four arms to one UNION ALL (SQLite allows 500 arms).
COUNTED_PER_STATEMENT = 100


def enrolment_counts(ids: list[int]):
    """(workflow id, count name, paging.Count) for each workflow: its non-test enrolments, each number
    counted up to paging.COUNT_CAP, so the list costs the same with 1,000 or 100,000 enrolments."""
    for start in range(0, len(ids), COUNTED_PER_STATEMENT):
        arms = []
        for wid in ids[start : start + COUNTED_PER_STATEMENT]:
            for name, status in ENROLMENT_COUNTS.items():
                rows = select(Enrolment.id).where(Enrolment.workflow_id == wid, Enrolment.is_test.is_(False))
                if status:
                    rows = rows.where(Enrolment.status == status)
                capped = rows.limit(paging.COUNT_CAP + 1).subquery()
                arms.append(select(literal(wid), literal(name), func.count()).select_from(capped))
        for wid, name, value in db.session.execute(union_all(*arms)):
            yield wid, name, paging.Count(min(value, paging.COUNT_CAP), capped=value > paging.COUNT_CAP)


def counts(workflow_ids) -> dict[int, dict[str, int]]:
    """Per workflow: enrolled, active, completed, failed, and booked (its links used, test runs left out)."""
    ids = list(workflow_ids)
    result = {wid: dict.fromkeys(COUNTS, 0) for wid in ids}
    if not ids:
        return result
    for wid, name, count in enrolment_counts(ids):
        result[wid][name] = count
    # Booked links, from the funnel counts (test runs left out): a sum over the workflow's hours, not a
    # scan of its links.
    for wid, numbers in link_counts.totals(workflow_ids=ids).items():
        result[wid]["booked"] = numbers["booked"]
    return result
