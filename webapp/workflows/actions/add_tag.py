"""Add tag: put a tag on the contact, through the one tag path (contacts.services.add_tags).

So it fires the Tag added trigger of OTHER workflows like a tag added by hand, but never of this
workflow nor of any workflow that led to this enrolment through its own tag steps: no loops.
"""

from wtforms import StringField

from webapp.audit import audit
from webapp.contacts.models import normalize_tag
from webapp.contacts.services import TagError, add_tags, tag_error
from webapp.workflows.actions.base import StepError, StepType
from webapp.workflows.formkit import StepForm, text


class TagForm(StepForm):
    """One tag, picked from the existing ones (a datalist) or typed; stored normalised."""

    tag = StringField("Tag", render_kw={"autocomplete": "off", "spellcheck": "false"})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The card's own datalist of existing tags (a new dict: render_kw is shared by the class).
        self.tag.render_kw = {**self.tag.render_kw, "list": f"{self.tag.id}-options"}

    def config(self) -> dict:
        return {"tag": normalize_tag(text(self.tag))}


def check_tag(config, verb: str) -> dict[str, str]:
    """The tag is there and storable (the rule of contacts' tags)."""
    tag = normalize_tag(str(config.get("tag") or ""))
    if not tag:
        return {"tag": f"Choose the tag to {verb}."}
    if problem := tag_error(tag):
        return {"tag": problem}
    return {}


def via_workflows(ctx) -> list[int]:
    """This workflow and those whose tag steps led to this enrolment: their triggers must not fire again."""
    return [*(ctx.event.get("via_workflows") or []), ctx.enrolment.workflow_id]


class AddTag(StepType):
    TYPE = "add_tag"
    CATEGORY = "Contact"
    LABEL = "Add tag"
    DEFAULTS = {"tag": ""}
    FORM = TagForm

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """A tag is required."""
        return check_tag(config, "add")

    def run(self, ctx) -> dict:
        """Add the tag (uncommitted; the Tag added triggers of other workflows enrol in the same transaction)."""
        tag = normalize_tag(str(ctx.config.get("tag") or ""))
        try:
            added = add_tags(ctx.contact, [tag], via_workflows=via_workflows(ctx))
        except TagError as exc:
            raise StepError(str(exc), permanent=True) from None
        if not added:
            return {"tag": tag, "added": False, "summary": f"The contact already had the tag “{tag}”."}
        audit("contact.tag_add", contact_id=ctx.contact.id, tags=repr(added), enrolment_id=ctx.enrolment.id)
        return {"tag": tag, "added": True, "summary": f"Tag “{tag}” added."}


STEP = AddTag()
