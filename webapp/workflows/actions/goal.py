"""Goal: "the link from step X is booked". When the booking is made, the enrolment jumps straight to
this step, skipping what is left before it (stop nudging once booked); reached in order, it simply
passes. The jump is made by the booking's own transaction (engine.on_link_event)."""

from wtforms import SelectField

from webapp.workflows import linkref
from webapp.workflows.actions.base import StepType
from webapp.workflows.formkit import StepForm, link_choices


class GoalForm(StepForm):
    link_step = SelectField("Reached when this link is booked", choices=[], validate_choice=False)

    def offer(self, earlier_steps):
        self.link_step.data = self.link_step.data or linkref.only_key(earlier_steps)
        self.link_step.choices = link_choices(linkref.choices(earlier_steps), self.link_step.data or "")
        return self

    def config(self) -> dict:
        return {"link_step": self.link_step.data or ""}


class Goal(StepType):
    TYPE = "goal"
    CATEGORY = "Logic"
    LABEL = "Goal: link booked"
    DEFAULTS = {"link_step": ""}
    FORM = GoalForm

    def validate(self, config, earlier_steps, *, later_steps=(), trigger_type="") -> dict[str, str]:
        """The goal follows an earlier link step."""
        if problem := linkref.problem(config.get("link_step") or "", earlier_steps):
            return {"link_step": problem}
        return {}

    def new_config(self, earlier_steps=()) -> dict:
        """The defaults, following the one link step above when there is exactly one."""
        return {**self.DEFAULTS, "link_step": linkref.only_key(earlier_steps)}

    def describe(self, config) -> str:
        key = str(config.get("link_step") or "")
        return f"Goal: {linkref.named(key)} is booked{linkref.unchosen(key)}"

    def run(self, ctx) -> dict:
        """Reached in order (not by a jump): record whether the link is booked by now."""
        link = linkref.link_of(ctx, ctx.config.get("link_step") or "")
        return {"reached": "in order", "booked": bool(link is not None and link.used_at is not None)}


STEP = Goal()
