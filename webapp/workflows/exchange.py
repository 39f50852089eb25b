"""A workflow as a JSON file ("oneslot.workflow" version 1): export, and import with a message per problem.

The format is documented in docs/workflows.md. Calendars travel by slug (`"calendar": "sales-call"`)
and hosts by email (`"host": "sam@example.com"`: a booking trigger's host filter, an If/else's "assigned
host is" condition) instead of database ids, secrets never leave the app, and an import is checked with the same rules
as publishing (services.validate and each step type's validate) before anything is written.
"""

import json
import re
from collections.abc import Iterator, Mapping
from types import SimpleNamespace

from sqlalchemy import select

from webapp.audit import audit
from webapp.calendars.models import Calendar
from webapp.extensions import db
from webapp.hosts.models import Host
from webapp.hosts.services import email_key
from webapp.text import single_line_error
from webapp.workflows import actions, services
from webapp.workflows.models import Workflow

FORMAT = "oneslot.workflow"
VERSION = 1
MAX_BYTES = 1024 * 1024  # a workflow is a few KB; this leaves room for long emails
STEP_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
BRANCHES = {"yes": "‘yes’", "no": "‘no’"}
# Field names as the file spells them, when the app's differ (a calendar travels by slug).
FIELD_NAMES = {"calendar_id": "calendar", "host_id": "host"}


class ImportRefused(ValueError):
    """A file that cannot become a workflow; `errors` holds one message per problem."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


# --- export ----------------------------------------------------------------------------------------


def _slug(calendar_id) -> str | None:
    calendar = db.session.get(Calendar, calendar_id) if isinstance(calendar_id, int) else None
    return calendar.slug if calendar else None


def _host_email(host_id) -> str | None:
    host = db.session.get(Host, host_id) if isinstance(host_id, int) and not isinstance(host_id, bool) else None
    return host.email if host else None


def _export_config(config: Mapping) -> dict:
    """A config as the file holds it: calendar ids become slugs, host ids emails, secrets are dropped."""
    out: dict = {}
    for name, value in (config or {}).items():
        if name == "secret":
            continue
        if name == "calendar_id":
            out["calendar"] = _slug(value)
        elif name == "host_id":
            out["host"] = _host_email(value)
        elif name == "conditions" and isinstance(value, list):
            out[name] = [_export_config(c) if isinstance(c, Mapping) else c for c in value]
        else:
            out[name] = value
    return out


def _export_steps(steps) -> list[dict]:
    out = []
    for step in steps or []:
        item = {
            "id": step.get("id", ""),
            "type": step.get("type", ""),
            "key": step.get("key", ""),
            "config": _export_config(step.get("config") or {}),
        }
        if isinstance(step.get("branches"), Mapping):
            item["branches"] = {name: _export_steps(branch) for name, branch in step["branches"].items()}
        out.append(item)
    return out


def export_workflow(workflow: Workflow) -> dict:
    """The workflow's draft (what the editor shows) as a document of the current format version."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": workflow.name,
        "trigger": {"type": workflow.trigger_type or "", "config": _export_config(workflow.trigger_config or {})},
        "settings": workflow.settings(),
        "steps": _export_steps(workflow.steps),
    }


def dumps(document: Mapping) -> str:
    """The JSON text of a document: indented, UTF-8 characters kept, ending with a newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def filename(workflow: Workflow) -> str:
    """send-a-one-time-booking-link.workflow.json: the download's name, from the workflow's name."""
    base = re.sub(r"[^a-z0-9]+", "-", (workflow.name or "").lower()).strip("-")[:80].strip("-")
    return f"{base or f'workflow-{workflow.id}'}.workflow.json"


# --- import ----------------------------------------------------------------------------------------


def _label(step) -> str:
    """A step's type as the editor names it ("Send Email"), or as the file spells it when unknown."""
    if not isinstance(step, Mapping):
        return "?"
    kind = actions.get(str(step.get("type") or ""))
    return kind.LABEL if kind else str(step.get("type") or "no type")


def _branch_place(place: str, label: str, name: str) -> str:
    return f"{place} → {label} {BRANCHES.get(name, f'‘{name}’')} branch"


def _walk(steps: list, prefix: str = "") -> Iterator[tuple[str, dict]]:
    """Every step of a tree with where it is: "Step 3 → If/else ‘no’ branch → step 1 (Send Email)"."""
    for number, step in enumerate(steps, 1):
        place = f"{prefix} → step {number}" if prefix else f"Step {number}"
        yield f"{place} ({_label(step)})", step
        branches = step.get("branches") if isinstance(step, Mapping) else None
        if isinstance(branches, Mapping):
            for name, branch in branches.items():
                if isinstance(branch, list):
                    yield from _walk(branch, _branch_place(place, _label(step), name))


def _shape(document) -> list[str]:
    """Problems with the document's structure, before any rule of the app is asked."""
    if not isinstance(document, Mapping):
        return ["The file is not a workflow: it holds a JSON " + type(document).__name__ + ", not an object."]
    if document.get("format") != FORMAT:
        return [f"The file is not a OneSlot workflow: “format” must be “{FORMAT}”."]
    version = document.get("version")
    if version != VERSION:
        shown = "missing" if version is None else f"version {json.dumps(version)}"
        return [f"This file is in format {shown}; this OneSlot reads version {VERSION}."]
    errors = []
    if not isinstance(document.get("name"), str):
        errors.append("name: missing (the workflow's name, a text).")
    trigger = document.get("trigger")
    if not isinstance(trigger, Mapping) or not isinstance(trigger.get("type"), str):
        errors.append("trigger: missing (an object with “type” and “config”).")
    elif not isinstance(trigger.get("config", {}), Mapping):
        errors.append("trigger, config: must be an object.")
    settings = document.get("settings", {})
    if not isinstance(settings, Mapping):
        errors.append("settings: must be an object.")
    else:
        if not isinstance(settings.get("allow_reentry", False), bool):
            errors.append("settings, allow_reentry: must be true or false.")
        if not isinstance(settings.get("sender_name", ""), str):
            errors.append("settings, sender_name: must be a text.")
        elif len(settings.get("sender_name", "")) > 100:
            errors.append("settings, sender_name: at most 100 characters.")
        elif error := single_line_error(settings.get("sender_name", ""), "Sender name"):
            errors.append(f"settings, sender_name: {error}")
    if not isinstance(document.get("steps"), list):
        errors.append("steps: missing (a list of steps).")
        return errors
    errors += _shape_steps(document["steps"])
    return errors


def _shape_steps(steps: list) -> list[str]:
    errors = []
    for where, step in _walk(steps):
        if not isinstance(step, Mapping):
            errors.append(f"{where}: must be an object with “type”, “key” and “config”.")
            continue
        if actions.get(step.get("type") or "") is None:
            errors.append(f"{where}: unknown step type “{step.get('type')}”.")
        if not isinstance(step.get("key", ""), str):
            errors.append(f"{where}, key: must be a text.")
        if not isinstance(step.get("config", {}), Mapping):
            errors.append(f"{where}, config: must be an object.")
        branches = step.get("branches")
        if branches is not None and (
            not isinstance(branches, Mapping) or not all(isinstance(b, list) for b in branches.values())
        ):
            errors.append(f"{where}, branches: must be an object of step lists (“yes”, “no”).")
    return errors


def _calendar_id(slug, where: str, errors: list[str]):
    """The id of the calendar with this slug; None (any calendar) for null; reports a missing one."""
    if slug is None:
        return None
    calendar = db.session.scalar(select(Calendar).where(Calendar.slug == str(slug))) if slug != "" else None
    if calendar is None:
        errors.append(f"{where}: calendar “{slug}” does not exist." if slug else f"{where}: choose a calendar.")
        return None
    return calendar.id


def _host_id(email, where: str, errors: list[str]):
    """The id of the host with this email; None for null; reports one who is not a host here."""
    if email is None:
        return None
    host = db.session.scalar(select(Host).where(Host.email_key == email_key(str(email)))) if email else None
    if host is None:
        errors.append(
            f"{where}: host “{email}” is not a team member here; add them first, or change the file."
            if email
            else f"{where}: choose a host."
        )
        return None
    return host.id


def _import_config(config: Mapping, kind, where: str, errors: list[str]) -> dict:
    """A config as the app holds it: defaults for what the file leaves out, slugs and emails become ids."""
    out = dict(kind.DEFAULTS) if kind else {}
    for name, value in config.items():
        if name == "calendar":
            out["calendar_id"] = _calendar_id(value, where, errors)
        elif name == "host":
            out["host_id"] = _host_id(value, where, errors)
        elif name == "conditions" and isinstance(value, list):
            out[name] = [
                _import_config(c, None, f"{where}, condition {n}", errors) if isinstance(c, Mapping) else c
                for n, c in enumerate(value, 1)
            ]
        elif name != "secret":
            out[name] = value
    if kind is not None and "secret" in out:
        out["secret"] = kind.new_secret()
    return out


def _import_steps(steps: list, prefix: str, seen_ids: set, errors: list[str]) -> list[dict]:
    out = []
    for number, step in enumerate(steps, 1):
        place = f"{prefix} → step {number}" if prefix else f"Step {number}"
        kind = actions.get(step["type"])
        assert kind is not None, "_shape refuses a document with an unknown step type"
        where = f"{place} ({kind.LABEL})"
        step_id = step.get("id")
        if not isinstance(step_id, str) or not STEP_ID_RE.match(step_id) or step_id in seen_ids:
            step_id = services.new_step_id()
            while step_id in seen_ids:
                step_id = services.new_step_id()
        seen_ids.add(step_id)
        item = {
            "id": step_id,
            "type": step["type"],
            "key": step.get("key", ""),
            "config": _import_config(step.get("config", {}), kind, where, errors),
        }
        if step.get("branches") is not None:
            item["branches"] = {
                name: _import_steps(branch, _branch_place(place, kind.LABEL, name), seen_ids, errors)
                for name, branch in step["branches"].items()
            }
        out.append(item)
    return out


def _field(name: str) -> str:
    return FIELD_NAMES.get(name, name)


def _rule_errors(draft) -> list[str]:
    """services.validate's findings, each named by the step's place in the file and the field."""
    places = {step["id"]: where for where, step in _walk(draft.steps)}
    errors = []
    for owner, fields in services.validate(draft).items():
        if owner == "workflow":
            errors += [f"{_field(name)}: {message}" for name, message in fields.items()]
        elif owner == "trigger":
            label = services.TRIGGER_TYPES.get(draft.trigger_type, draft.trigger_type or "none")
            errors += [f"Trigger ({label}), {_field(name)}: {message}" for name, message in fields.items()]
        else:
            where = places.get(owner, f"Step {owner}")
            errors += [f"{where}, {_field(name)}: {message}" for name, message in fields.items()]
    return errors


def parse(data: bytes | str) -> dict:
    """The JSON document in a file's bytes; raises ImportRefused naming the line of a syntax error."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ImportRefused(["The file is larger than 1 MB: it is not a workflow export."])
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportRefused(["The file is not UTF-8 text: it is not a workflow export."]) from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ImportRefused([f"The file is not valid JSON: {exc.msg} ({where})."]) from None


def build(document) -> SimpleNamespace:
    """The draft a document describes, checked by every rule; raises ImportRefused with every problem."""
    if errors := _shape(document):
        raise ImportRefused(errors)
    errors = []
    trigger = document["trigger"]
    trigger_type = trigger["type"]
    label = services.TRIGGER_TYPES.get(trigger_type, trigger_type or "none")
    trigger_config = _import_config(trigger.get("config", {}), None, f"Trigger ({label})", errors)
    steps = _import_steps(document["steps"], "", set(), errors)
    settings = document.get("settings", {})
    draft = SimpleNamespace(
        name=document["name"].strip(),
        trigger_type=trigger_type,
        trigger_config=trigger_config,
        steps=steps,
        allow_reentry=settings.get("allow_reentry", False),
        sender_name=settings.get("sender_name", "").strip(),
    )
    if len(draft.name) > 200:
        errors.append("name: at most 200 characters.")
    errors += [e for e in _rule_errors(draft) if not _reported_calendar(e, errors)]
    if errors:
        raise ImportRefused(errors)
    return draft


def _reported_calendar(message: str, errors: list[str]) -> bool:
    """A missing calendar is reported once, by slug, not again as "choose the calendar"."""
    where, _, rest = message.partition(", calendar: ")
    reported = (f"{where}: calendar “", f"{where}: choose a calendar.")
    return bool(rest) and any(e.startswith(reported) for e in errors)


def import_workflow(data: bytes | str | Mapping, source: str = "") -> Workflow:
    """A new draft workflow from a file's bytes (or a parsed document); raises ImportRefused. Commits."""
    document = data if isinstance(data, Mapping) else parse(data)
    draft = build(document)
    workflow = Workflow(
        name=draft.name,
        status="draft",
        trigger_type=draft.trigger_type,
        trigger_config=draft.trigger_config,
        steps=draft.steps,
        allow_reentry=draft.allow_reentry,
        sender_name=draft.sender_name,
    )
    db.session.add(workflow)
    db.session.commit()
    audit("workflow.import", workflow_id=workflow.id, source=source or "file")
    return workflow
