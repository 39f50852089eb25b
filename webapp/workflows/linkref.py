"""Steps that follow a link made by an earlier Generate One-Time Booking Link step ("the link from step X"):
waits, if/else conditions and goals name that step by its key."""

from collections.abc import Iterable, Mapping

from webapp.booking.models import OneTimeLink
from webapp.extensions import db


def link_steps(earlier_steps: Iterable[Mapping]) -> list[Mapping]:
    """The earlier link steps, in order."""
    return [step for step in earlier_steps if step.get("type") == "generate_link"]


def choices(earlier_steps: Iterable[Mapping]) -> list[tuple[str, str]]:
    """(key, label) of each earlier link step, for a select."""
    steps = link_steps(earlier_steps)
    return [(step.get("key") or "", f"The link from “{step.get('key')}”") for step in steps if step.get("key")]


def only_key(earlier_steps: Iterable[Mapping]) -> str:
    """The key of the one earlier link step, when there is exactly one (preselected); "" otherwise."""
    keys = [step.get("key") for step in link_steps(earlier_steps) if step.get("key")]
    return str(keys[0]) if len(keys) == 1 else ""


def named(key: str) -> str:
    """A followed link in a step's one-line summary: "the link from “booking_link”", or, while no link
    step is chosen, "the booking link" (the summary then ends with UNCHOSEN)."""
    return f"the link from “{key}”" if key else "the booking link"


UNCHOSEN = " (choose a link step)"


def unchosen(key: str) -> str:
    """UNCHOSEN when no link step is chosen, else ""."""
    return "" if key else UNCHOSEN


def problem(key: str, earlier_steps: Iterable[Mapping]) -> str | None:
    """Why `key` cannot be followed here, or None."""
    keys = [step.get("key") for step in link_steps(earlier_steps)]
    if not key:
        if not keys:
            return "Add a Generate One-Time Booking Link step before this one: this step follows its link."
        return "Choose the link step this one follows."
    if key not in keys:
        return f"“{key}” is not a Generate One-Time Booking Link step before this one."
    return None


def link_of(ctx, key: str) -> OneTimeLink | None:
    """The link the step `key` made for this enrolment (fresh from the database), or None."""
    link_id = (ctx.outputs.get(key) or {}).get("link_id")
    return db.session.get(OneTimeLink, link_id, populate_existing=True) if link_id else None
