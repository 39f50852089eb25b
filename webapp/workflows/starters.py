"""Workflow templates ("New workflow → from a template"): JSON files in the export format, in
webapp/workflows/templates/, made into a draft through the same importer as an uploaded file.

A template may leave its calendar open with the slug placeholder "$CALENDAR"; the admin picks
the calendar, whose slug replaces every placeholder before the import.
"""

import copy
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from webapp.workflows import actions, exchange, merge
from webapp.workflows.models import Workflow

FOLDER = Path(__file__).resolve().parent / "templates"
PLACEHOLDER = "$CALENDAR"
CONTACT_VALUE = re.compile(r"\{\{\s*contact\.(\w+)\s*\}\}")


@dataclass(frozen=True)
class Template:
    """One template file: its name (file stem), title, one-line description and document."""

    slug: str
    title: str
    description: str
    document: dict

    @property
    def needs_calendar(self) -> bool:
        """True when a step or the trigger waits for the admin's calendar."""
        return PLACEHOLDER in json.dumps(self.document)

    def outline(self) -> list[tuple[int, str]]:
        """The steps as (depth, line): [(0, "Generate One-Time Booking Link"), (1, "If yes:"), (2, "Wait"), …]."""
        return _outline(self.document.get("steps") or [], 0)


def _outline(steps: list, depth: int) -> list[tuple[int, str]]:
    lines = []
    for step in steps:
        module = actions.get(step.get("type", ""))
        label = module.LABEL if module else step.get("type", "?").replace("_", " ").capitalize()
        summary = CONTACT_VALUE.sub(_value_label, (step.get("config") or {}).get("subject") or "")
        lines.append((depth, label + (f": “{summary}”" if summary else "")))
        for name, branch in (step.get("branches") or {}).items():
            lines.append((depth + 1, f"If {name}:"))
            lines += _outline(branch, depth + 2)
    return lines


def _value_label(match: re.Match) -> str:
    """{{ contact.first_name }} reads as [First name] in an outline."""
    return f"[{merge.CONTACT_VALUES.get(match.group(1), match.group(1))}]"


@cache
def _load(path: Path, mtime: float) -> Template:
    document = json.loads(path.read_text(encoding="utf-8"))
    return Template(path.stem, document["name"], document.get("description", ""), document)


def all_templates() -> list[Template]:
    """Every template, in file-name order (the files are numbered)."""
    return [_load(path, path.stat().st_mtime) for path in sorted(FOLDER.glob("*.json"))]


def get(slug: str) -> Template | None:
    """The template with this file name, or None."""
    return next((t for t in all_templates() if t.slug == slug), None)


def _fill(value, calendar_slug: str):
    if isinstance(value, dict):
        return {k: _fill(v, calendar_slug) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, calendar_slug) for v in value]
    return calendar_slug if value == PLACEHOLDER else value


def document_for(template: Template, calendar_slug: str = "") -> dict:
    """The template's document with the chosen calendar's slug in every placeholder."""
    document = copy.deepcopy(template.document)
    document.pop("description", None)
    return _fill(document, calendar_slug) if template.needs_calendar else document


def create_from(template: Template, calendar_slug: str = "") -> Workflow:
    """A new draft from the template, through the importer; raises exchange.ImportRefused. Commits."""
    if template.needs_calendar and not calendar_slug:
        raise exchange.ImportRefused(["Choose the calendar the links book on."])
    return exchange.import_workflow(document_for(template, calendar_slug), source=f"template:{template.slug}")
