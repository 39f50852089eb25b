"""The admin home: the funnel of one-time links per workflow, and the links that need attention.

The funnel follows a cohort: the links workflows generated in the window (test runs left out), to
the hour (the counts are kept per hour). Of those, "opened" counts links opened or used (a booking
needs the page), "booked" links used, "showed" links whose booking was marked showed. The showed rate
is of the bookings marked (showed or no-show), not of all booked: a meeting still ahead, or one
nobody marked, neither helps nor hurts it, and with none marked there is no rate ("—"). The counts
come from link_counts, kept with each event, so the page's cost does not grow with the links; the
counts of "links that need attention" stop at COUNT_CAP.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased, joinedload

from webapp.booking import counts as link_counts
from webapp.booking.forms import EXPIRY_CHOICES
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Calendar
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.workflows import demo
from webapp.workflows.models import Workflow

WINDOW_DAYS = 30
STAGES = ("sent", "opened", "booked", "showed")
ATTENTION_LIMIT = 10
# Counted up to here, then shown as "1,000+": a count's cost stays bounded however many rows match.
COUNT_CAP = 1000


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
    marked: int = 0  # links whose booking is marked showed or no-show: the base of the showed rate

    def count(self, stage: str) -> int:
        """The number of links at a stage."""
        return getattr(self, stage)

    def rate(self, stage: str) -> int | None:
        """Percent of the previous stage that reached this one (showed: of the bookings marked); None for
        the first stage or from zero."""
        index = STAGES.index(stage)
        if index == 0:
            return None
        before = self.marked if stage == "showed" else self.count(STAGES[index - 1])
        return round(100 * self.count(stage) / before) if before else None


@dataclass
class Dashboard:
    """Everything the home page shows."""

    since: datetime
    rows: list[FunnelRow]
    total: FunnelRow
    failed_mail: list[OutboxMessage]
    failed_mail_count: int  # capped at COUNT_CAP + 1 (shown "1,000+")
    expired: list[OneTimeLink]
    expired_count: int  # capped likewise
    setup: dict = field(default_factory=dict)

    @property
    def failed_mail_shown(self) -> str:
        """The failed mail count as the page shows it ("1,000+" past the cap)."""
        return shown_count(self.failed_mail_count)

    @property
    def expired_shown(self) -> str:
        """The expired links count as the page shows it."""
        return shown_count(self.expired_count)

    @property
    def empty(self) -> bool:
        """Nothing to show yet: no workflow link in the window and nothing that needs attention."""
        return not self.rows and not self.failed_mail_count and not self.expired_count


def funnel(since: datetime) -> list[FunnelRow]:
    """Per workflow (busiest first): links generated since the hour of `since`, opened, booked, showed.

    Summed from the hourly counts (webapp/booking/counts.py): workflows × hours rows, not the links.
    """
    totals = link_counts.totals(since_hour=link_counts.hour_of(since))
    totals = {wid: numbers for wid, numbers in totals.items() if numbers["sent"]}
    workflows = {w.id: w for w in db.session.scalars(select(Workflow).where(Workflow.id.in_(list(totals))))}
    rows = []
    for wid, numbers in totals.items():
        workflow = workflows.get(wid)
        name = workflow.name if workflow else f"Deleted workflow #{wid}"
        rows.append(FunnelRow(wid, name, workflow, **numbers))
    return sorted(rows, key=lambda row: (-row.sent, row.name.lower()))


def total_of(rows: list[FunnelRow]) -> FunnelRow:
    """The sum of every row."""
    total = FunnelRow(0, "All workflows", None)
    for row in rows:
        for stage in (*STAGES, "marked"):
            setattr(total, stage, getattr(total, stage) + getattr(row, stage))
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
        OneTimeLink.test_run.is_(False),  # a test run's links expire on purpose
        ~replaced,
    )


def capped_count(query) -> int:
    """How many rows the query finds, counting no further than COUNT_CAP + 1."""
    return db.session.scalars(select(func.count()).select_from(query.limit(COUNT_CAP + 1).subquery())).one()


def shown_count(n: int) -> str:
    """A capped count as the page shows it: "1,000+" past the cap."""
    return f"{COUNT_CAP:,}+" if n > COUNT_CAP else f"{n:,}"


def renewal_hours(link: OneTimeLink) -> int:
    """The expiry choice at or just above the expired link's own lifetime, for "Generate a new link"."""
    assert link.expires_at is not None, "only an expired link is renewed"
    lifetime = (link.expires_at - link.created_at).total_seconds() / 3600
    hours = [int(choice.value) for choice in EXPIRY_CHOICES if int(choice.value)]
    return next((h for h in hours if h >= lifetime), hours[-1])


def setup_state() -> dict:
    """What a fresh install has so far: the admin's own calendars and workflows (the demo's left out), and
    the demo workflow."""
    own_calendars = select(func.count()).select_from(Calendar)
    calendars = db.session.scalar(own_calendars.where(Calendar.archived_at.is_(None), Calendar.is_demo.is_(False)))
    workflows = db.session.scalar(select(func.count()).select_from(Workflow).where(Workflow.is_demo.is_(False)))
    demo_workflow = db.session.scalar(select(Workflow).where(Workflow.is_demo.is_(True)).order_by(Workflow.id).limit(1))
    return {"calendars": calendars, "workflows": workflows, "demo": demo_workflow, "demo_tag": demo.TAG}


def build(now: datetime | None = None) -> Dashboard:
    """The home page's numbers, as of `now`."""
    now = now or utcnow()
    window_start = now - timedelta(days=WINDOW_DAYS)
    # The funnel's window starts on the hour: the counts are kept per hour.
    since = link_counts.start_of(link_counts.hour_of(window_start))
    rows = funnel(since)
    failed = OutboxMessage.status == "failed"
    expired = expired_unused(window_start, now)
    dashboard = Dashboard(
        since=since,
        rows=rows,
        total=total_of(rows),
        failed_mail=list(
            db.session.scalars(
                select(OutboxMessage)
                .where(failed)
                # Newest first along ix_outbox_messages_status_created: by id, SQLite sorted every failed message.
                .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
                .limit(ATTENTION_LIMIT)
            )
        ),
        failed_mail_count=capped_count(select(OutboxMessage.id).where(failed)),
        expired=list(
            db.session.scalars(
                select(OneTimeLink)
                .where(expired)
                .options(joinedload(OneTimeLink.contact), joinedload(OneTimeLink.calendar))
                .order_by(OneTimeLink.expires_at.desc())
                .limit(ATTENTION_LIMIT)
            )
        ),
        expired_count=capped_count(select(OneTimeLink.id).where(expired)),
    )
    if dashboard.empty:
        dashboard.setup = setup_state()
    return dashboard
