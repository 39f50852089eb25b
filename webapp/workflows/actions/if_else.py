"""If/else: conditions on the contact and on the links of earlier steps choose the "yes" or the "no"
branch, each its own list of steps (the engine runs the chosen one: see webapp/workflows/program.py)."""

from webapp.contacts.models import normalize_tag
from webapp.workflows import linkref, merge

TYPE = "if_else"
CATEGORY = "Logic"
LABEL = "If/else"
DEFAULTS = {"match": "all", "conditions": [{"kind": "link_booked", "link_step": ""}]}
OUTPUTS: dict[str, str] = {}
KINDS = {
    "has_tag": "The contact has the tag",
    "link_booked": "The link was booked",
    "link_opened": "The link was opened",
    "field": "A contact field",
}
OPS = {"equals": "equals", "contains": "contains"}
FIELDS = merge.CONTACT_VALUES
MAX_CONDITIONS = 10


def validate(config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
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
    return None


def custom_values(step) -> list[tuple[str, str]]:
    return []


def describe_condition(condition: dict) -> str:
    """One condition in words: "has tag vip", "the link from booking_link was booked"."""
    kind = condition.get("kind")
    if kind == "has_tag":
        return f"has the tag “{condition.get('tag')}”"
    if kind == "link_booked":
        return f"the link from “{condition.get('link_step')}” was booked"
    if kind == "link_opened":
        return f"the link from “{condition.get('link_step')}” was opened"
    field = FIELDS.get(condition.get("field"), condition.get("field"))
    return f"{field} {condition.get('op')} “{condition.get('value', '')}”"


def describe(config) -> str:
    joiner = " and " if config.get("match", "all") == "all" else " or "
    return "If " + joiner.join(describe_condition(c) for c in config.get("conditions") or [])


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
    actual = str(merge.contact_values(ctx.contact).get(condition.get("field"), "")).strip().casefold()
    expected = str(condition.get("value", "")).strip().casefold()
    return actual == expected if condition.get("op") == "equals" else expected in actual


def run(ctx) -> dict:
    """Evaluate the conditions; the engine follows output["branch"]."""
    config = ctx.config
    results = [check(ctx, condition) for condition in config.get("conditions") or []]
    holds = all(results) if config.get("match", "all") == "all" else any(results)
    return {"branch": "yes" if holds else "no", "results": results}
