"""Remove tag: take a tag off the contact; a contact without it is fine (the output says so)."""

from webapp.audit import audit
from webapp.contacts.models import normalize_tag
from webapp.contacts.services import remove_tag
from webapp.workflows.actions.add_tag import TagForm, check_tag
from webapp.workflows.actions.base import StepType


class RemoveTag(StepType):
    TYPE = "remove_tag"
    CATEGORY = "Contact"
    LABEL = "Remove tag"
    DEFAULTS = {"tag": ""}
    FORM = TagForm

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """A tag is required."""
        return check_tag(config, "remove")

    def run(self, ctx) -> dict:
        """Detach the tag (uncommitted)."""
        tag = normalize_tag(str(ctx.config.get("tag") or ""))
        if not remove_tag(ctx.contact, tag):
            return {
                "tag": tag,
                "removed": False,
                "summary": f"The contact did not have the tag “{tag}”: nothing to remove.",
            }
        audit("contact.tag_remove", contact_id=ctx.contact.id, tag=repr(tag), enrolment_id=ctx.enrolment.id)
        return {"tag": tag, "removed": True, "summary": f"Tag “{tag}” removed."}


STEP = RemoveTag()
