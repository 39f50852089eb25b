"""If/else: conditions on the contact and on the links of earlier steps choose the "yes" or the "no"
branch, each its own list of steps (the engine runs the chosen one: see webapp/workflows/program.py)."""

import re

from wtforms import FieldList, FormField, SelectField, StringField
from wtforms.fields.choices import SelectChoice

from webapp.contacts.models import normalize_tag
from webapp.extensions import db
from webapp.hosts.models import Host
from webapp.workflows import linkref, merge
from webapp.workflows.actions.base import StepType
from webapp.workflows.formkit import Form, StepForm, choices_of, host_choices, int_or_none, link_choices, text

KINDS = {
    "has_tag": "The contact has the tag",
    "link_booked": "The link was booked",
    "link_opened": "The link was opened",
    "field": "A contact field",
    "host": "The assigned host",
}
OPS = {"equals": "equals", "contains": "contains"}
HOST_OPS = {"is": "is", "is_not": "is not"}
FIELDS = merge.CONTACT_VALUES
MAX_CONDITIONS = 10
CONDITION_FIELDS = ("kind", "tag", "link_step", "field", "op", "value", "host_op", "host_id")


class ConditionForm(Form):
    """One condition: what to check, and that kind's fields (the card shows the chosen kind's)."""

    kind = SelectField("Check", choices=choices_of(KINDS), validate_choice=False, render_kw={"data-mode": ""})
    tag = StringField("Tag", render_kw={"autocomplete": "off", "spellcheck": "false"})
    link_step = SelectField("Link step", choices=[], validate_choice=False)
    field = SelectField("Contact field", choices=choices_of(FIELDS), validate_choice=False)
    op = SelectField("Comparison", choices=choices_of(OPS), validate_choice=False)
    value = StringField("Value")
    host_op = SelectField("Host", choices=choices_of(HOST_OPS), validate_choice=False)
    host_id = SelectField("Team member", choices=[], validate_choice=False)


class IfElseForm(StepForm):
    """Match all or any of a list of conditions; "add condition" and "remove condition" post the whole
    card (edit()), so what was typed in the other conditions stays."""

    match = SelectField(
        "Go to “If yes” when",
        choices=[SelectChoice("all", "all the conditions hold"), SelectChoice("any", "any condition holds")],
        validate_choice=False,
    )
    conditions = FieldList(FormField(ConditionForm), min_entries=0, max_entries=MAX_CONDITIONS)
    max_conditions = MAX_CONDITIONS

    @property
    def tags_list(self) -> str:
        """The id of the card's datalist of existing tags."""
        return f"{self._prefix}tags"

    def load(self, step):
        config = step.get("config") or {}
        self.match.data = config.get("match") or "all"
        self.conditions.entries, self.conditions.last_index = [], -1
        for condition in (config.get("conditions") or [])[:MAX_CONDITIONS]:
            self._append(condition if isinstance(condition, dict) else {})
        return self

    def _append(self, condition: dict) -> None:
        entry = self.conditions.append_entry()
        for name in CONDITION_FIELDS:
            if condition.get(name) is not None:
                entry.form[name].data = str(condition[name])

    def edit(self, action: str | None) -> bool:
        """Apply an "add-condition" or "remove-condition-<n>" button; True when one was applied."""
        if action == "add-condition":
            if len(self.conditions.entries) < MAX_CONDITIONS:
                self._append({"kind": "link_booked"})
            return True
        if match := re.fullmatch(r"remove-condition-(\d+)", action or ""):
            self.conditions.entries = [e for e in self.conditions.entries if not e.id.endswith(f"-{match[1]}")]
            return True
        return False

    def offer(self, earlier_steps):
        offered = linkref.choices(earlier_steps)
        hosts = host_choices("Choose a team member…")
        only = linkref.only_key(earlier_steps)
        for entry in self.conditions:
            if only and not entry.form.link_step.data:
                entry.form.link_step.data = only  # the one link step above: nothing else to choose
            entry.form.link_step.choices = link_choices(offered, entry.form.link_step.data or "")
            entry.form.tag.render_kw = {**(entry.form.tag.render_kw or {}), "list": self.tags_list}
            entry.form.host_id.choices = hosts
        return self

    def condition_messages(self) -> tuple[dict[int, str], list[str]]:
        """validate()'s "Condition 2: …" messages by condition number (from 1), and the others."""
        by_number, rest = {}, []
        for message in self.conditions.errors or []:
            if not isinstance(message, str):
                continue
            found = re.findall(r"Condition (\d+): (.*?)(?= Condition \d+: |$)", message)
            if not found:
                rest.append(message)
            for number, text_ in found:
                by_number[int(number)] = text_[0].upper() + text_[1:]
        return by_number, rest

    def config(self) -> dict:
        return {"match": self.match.data or "all", "conditions": [_condition(e.form) for e in self.conditions]}


def _condition(form) -> dict:
    """The stored condition: its kind and that kind's fields only."""
    kind = form.kind.data or ""
    if kind == "has_tag":
        return {"kind": kind, "tag": normalize_tag(text(form.tag))}
    if kind in ("link_booked", "link_opened"):
        return {"kind": kind, "link_step": form.link_step.data or ""}
    if kind == "field":
        return {"kind": kind, "field": form.field.data or "", "op": form.op.data or "", "value": form.value.data or ""}
    if kind == "host":
        return {"kind": kind, "host_op": form.host_op.data or "is", "host_id": int_or_none(form.host_id.data)}
    return {"kind": kind}


def _problem(condition: dict, earlier_steps) -> str | None:
    kind = condition.get("kind")
    if kind not in KINDS:
        return "choose what to check."
    if kind == "has_tag" and not normalize_tag(str(condition.get("tag") or "")):
        return "choose the tag."
    if kind in ("link_booked", "link_opened"):
        problem = linkref.problem(condition.get("link_step") or "", earlier_steps)
        return problem[0].lower() + problem[1:] if problem else None
    if kind == "field":
        if condition.get("field") not in FIELDS:
            return "choose the contact field."
        if condition.get("op") not in OPS:
            return "choose “equals” or “contains”."
        if not isinstance(condition.get("value", ""), str):
            return "the value is text."
    if kind == "host":
        if condition.get("host_op") not in HOST_OPS:
            return "choose “is” or “is not”."
        host_id = condition.get("host_id")
        if not isinstance(host_id, int) or isinstance(host_id, bool):
            return "choose the team member."
        if db.session.get(Host, host_id) is None:
            return "that team member no longer exists; choose another."
    return None


def describe_condition(condition: dict) -> str:
    """One condition in words: "has tag vip", "the link from booking_link was booked"."""
    kind = condition.get("kind")
    if kind == "has_tag":
        return f"has the tag “{condition.get('tag')}”"
    if kind in ("link_booked", "link_opened"):
        key = str(condition.get("link_step") or "")
        verb = "booked" if kind == "link_booked" else "opened"
        return f"{linkref.named(key)} was {verb}{linkref.unchosen(key)}"
    if kind == "host":
        host_id = condition.get("host_id")
        host = db.session.get(Host, host_id) if isinstance(host_id, int) else None
        name = host.name if host else "a team member who no longer exists"
        return f"the assigned host {HOST_OPS.get(condition.get('host_op') or '', 'is')} {name}"
    field = FIELDS.get(condition.get("field") or "", condition.get("field"))
    return f"{field} {condition.get('op')} “{condition.get('value', '')}”"


def check(ctx, condition: dict) -> bool:
    """Whether one condition holds for the enrolment now."""
    kind = condition.get("kind")
    if kind == "has_tag":
        wanted = normalize_tag(str(condition.get("tag") or ""))
        return any(tag.name == wanted for tag in ctx.contact.tags)
    if kind in ("link_booked", "link_opened"):
        link = linkref.link_of(ctx, condition.get("link_step") or "")
        if link is None:
            return False
        return link.used_at is not None if kind == "link_booked" else link.opened_at is not None
    if kind == "host":
        # The booking the enrolment's {{ booking.* }} speaks of; a collective booking is with each host.
        booking = merge.booking_of(ctx.enrolment, ctx.outputs)
        with_host = booking is not None and any(row.host_id == condition.get("host_id") for row in booking.host_rows)
        return with_host if condition.get("host_op", "is") == "is" else not with_host
    actual = str(merge.contact_values(ctx.contact).get(condition.get("field"), "")).strip().casefold()
    expected = str(condition.get("value", "")).strip().casefold()
    return actual == expected if condition.get("op") == "equals" else expected in actual


class IfElse(StepType):
    TYPE = "if_else"
    CATEGORY = "Logic"
    LABEL = "If/else"
    DEFAULTS = {"match": "all", "conditions": [{"kind": "link_booked", "link_step": ""}]}
    FORM = IfElseForm

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """At least one condition, each complete; link conditions name an earlier link step."""
        errors = {}
        if config.get("match", "all") not in ("all", "any"):
            errors["match"] = "Match all the conditions or any of them."
        conditions = config.get("conditions")
        if not isinstance(conditions, list) or not conditions:
            errors["conditions"] = "Add at least one condition."
            return errors
        if len(conditions) > MAX_CONDITIONS:
            errors["conditions"] = f"At most {MAX_CONDITIONS} conditions."
            return errors
        problems = []
        for number, condition in enumerate(conditions, 1):
            if problem := _problem(condition if isinstance(condition, dict) else {}, earlier_steps):
                problems.append(f"Condition {number}: {problem}")
        if problems:
            errors["conditions"] = " ".join(problems)
        return errors

    def new_config(self, earlier_steps=()) -> dict:
        """A link condition on the one link step above, when there is exactly one."""
        return {"match": "all", "conditions": [{"kind": "link_booked", "link_step": linkref.only_key(earlier_steps)}]}

    def describe(self, config) -> str:
        joiner = " and " if config.get("match", "all") == "all" else " or "
        return "If " + joiner.join(describe_condition(c) for c in config.get("conditions") or [])

    def run(self, ctx) -> dict:
        """Evaluate the conditions; the engine follows output["branch"]."""
        config = ctx.config
        results = [check(ctx, condition) for condition in config.get("conditions") or []]
        holds = all(results) if config.get("match", "all") == "all" else any(results)
        return {"branch": "yes" if holds else "no", "results": results}


STEP = IfElse()
