"""The admin home: the funnel of one-time links per workflow, and the links that need attention.

The funnel follows a cohort: the links workflows generated in the window (test runs left out).
Of those, "opened" counts links opened or used (a booking needs the page), "booked" links used,
"showed" links whose booking was marked showed. A handful of GROUP BY queries, whatever the
number of workflows.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import String, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased, joinedload

from webapp.booking.forms import EXPIRY_CHOICES
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Booking, Calendar
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.types import utcnow
from webapp.workflows import demo
from webapp.workflows.models import Enrolment, Workflow

WINDOW_DAYS = 30
STAGES = ("sent", "opened", "booked", "showed")
ATTENTION_LIMIT = 10


@dataclass
class FunnelRow:
    """One workflow's links through the stages; workflow is None for a deleted one."""

    workflow_id: int
    name: str
    workflow: Workflow | None
    sent: int = 0
    opened: int = 0
    booked: int = 0
    showed: int = 0

    def count(self, stage: str) -> int:
        """The number of links at a stage."""
        return getattr(self, stage)

    def rate(self, stage: str) -> int | None:
        """Percent of the previous stage that reached this one; None for the first stage or from zero."""
        index = STAGES.index(stage)
        if index == 0:
            return None
        before = self.count(STAGES[index - 1])
        return round(100 * self.count(stage) / before) if before else None


@dataclass
class Dashboard:
    """Everything the home page shows."""

    since: datetime
    rows: list[FunnelRow]
    total: FunnelRow
    failed_mail: list[OutboxMessage]
    failed_mail_count: int
    expired: list[OneTimeLink]
    expired_count: int
    setup: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Nothing to show yet: no workflow link in the window and nothing that needs attention."""
        return not self.rows and not self.failed_mail_count and not self.expired_count


def funnel(since: datetime) -> list[FunnelRow]:
    """Per workflow (busiest first): links generated since `since`, opened, booked, showed."""
    workflow_key = OneTimeLink.meta["workflow_id"].as_string()
    enrolment_key = OneTimeLink.meta["enrolment_id"].as_string()
    # Compared as text: a cast of the JSON value to an integer could fail on a row of another source.
    enrolment = aliased(Enrolment)
    query = (
        select(
            workflow_key,
            func.count(OneTimeLink.id),
            func.count(case((or_(OneTimeLink.opened_at.is_not(None), OneTimeLink.used_at.is_not(None)), 1))),
            func.count(OneTimeLink.used_at),
            func.count(case((Booking.attendance == "showed", 1))),
        )
        .outerjoin(enrolment, cast(enrolment.id, String) == enrolment_key)
        .outerjoin(Booking, Booking.id == OneTimeLink.booking_id)
        .where(
            OneTimeLink.source == "workflow",
            OneTimeLink.created_at >= since,
            workflow_key.is_not(None),
            or_(enrolment.id.is_(None), enrolment.is_test.is_(False)),
        )
        .group_by(workflow_key)
    )
    counts = {int(wid): numbers for wid, *numbers in db.session.execute(query) if str(wid).isdigit()}
    workflows = {w.id: w for w in db.session.scalars(select(Workflow).where(Workflow.id.in_(list(counts))))}
    rows = []
    for wid, (sent, opened, booked, showed) in counts.items():
        workflow = workflows.get(wid)
        name = workflow.name if workflow else f"Deleted workflow #{wid}"
        rows.append(FunnelRow(wid, name, workflow, sent, opened, booked, showed))
    return sorted(rows, key=lambda row: (-row.sent, row.name.lower()))


def total_of(rows: list[FunnelRow]) -> FunnelRow:
    """The sum of every row."""
    total = FunnelRow(0, "All workflows", None)
    for row in rows:
        for stage in STAGES:
            setattr(total, stage, total.count(stage) + row.count(stage))
    return total


def expired_unused(since: datetime, now: datetime):
    """Links that expired unused in the window, unless the contact has a newer link on that calendar."""
    newer = aliased(OneTimeLink)
    replaced = exists().where(
        newer.contact_id == OneTimeLink.contact_id,
        newer.calendar_id == OneTimeLink.calendar_id,
        newer.id > OneTimeLink.id,
    )
    return and_(
        OneTimeLink.expires_at >= since,
        OneTimeLink.expires_at <= now,
        OneTimeLink.used_at.is_(None),
        OneTimeLink.revoked_at.is_(None),
        OneTimeLink.contact_id.is_not(None),
        ~replaced,
    )


def renewal_hours(link: OneTimeLink) -> int:
    """The expiry choice at or just above the expired link's own lifetime, for "Generate a new link"."""
    lifetime = (link.expires_at - link.created_at).total_seconds() / 3600
    hours = [int(choice.value) for choice in EXPIRY_CHOICES if int(choice.value)]
    return next((h for h in hours if h >= lifetime), hours[-1])


def setup_state() -> dict:
    """What a fresh install has so far: calendars, workflows, the demo workflow."""
    calendars = db.session.scalar(select(func.count()).select_from(Calendar).where(Calendar.archived_at.is_(None)))
    workflows = db.session.scalar(select(func.count()).select_from(Workflow))
    demo_workflow = db.session.scalar(select(Workflow).where(Workflow.name == demo.WORKFLOW_NAME).limit(1))
    return {"calendars": calendars, "workflows": workflows, "demo": demo_workflow, "demo_tag": demo.TAG}


def build(now: datetime | None = None) -> Dashboard:
    """The home page's numbers, as of `now`."""
    now = now or utcnow()
    since = now - timedelta(days=WINDOW_DAYS)
    rows = funnel(since)
    failed = OutboxMessage.status == "failed"
    expired = expired_unused(since, now)
    dashboard = Dashboard(
        since=since,
        rows=rows,
        total=total_of(rows),
        failed_mail=list(
            db.session.scalars(
                select(OutboxMessage).where(failed).order_by(OutboxMessage.id.desc()).limit(ATTENTION_LIMIT)
            )
        ),
        failed_mail_count=db.session.scalar(select(func.count()).select_from(OutboxMessage).where(failed)),
        expired=list(
            db.session.scalars(
                select(OneTimeLink)
                .where(expired)
                .options(joinedload(OneTimeLink.contact), joinedload(OneTimeLink.calendar))
                .order_by(OneTimeLink.expires_at.desc())
                .limit(ATTENTION_LIMIT)
            )
        ),
        expired_count=db.session.scalar(select(func.count()).select_from(OneTimeLink).where(expired)),
    )
    if dashboard.empty:
        dashboard.setup = setup_state()
    return dashboard
