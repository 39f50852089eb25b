"""The audit trail: every admin change and every consumed link, with actor and ids (never a token)."""

import logging

from flask import has_request_context
from flask_login import current_user

logger = logging.getLogger("oneslot.audit")


def actor() -> str:
    """Who is acting: the signed-in admin, or the system (CLI, worker, public pages)."""
    if has_request_context() and current_user and current_user.is_authenticated:
        return f"admin:{current_user.id}"
    return "system"


def audit(action: str, **ids) -> None:
    """Record one change, e.g. audit("calendar.update", calendar_id=3)."""
    details = " ".join(f"{key}={value}" for key, value in sorted(ids.items()))
    logger.info("%s actor=%s %s", action, actor(), details)
