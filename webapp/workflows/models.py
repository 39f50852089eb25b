"""Workflows, their frozen versions, the contacts enrolled in them and each step's run."""

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false, insert_sentinel
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.clock import utcnow
from webapp.columns import UTCDateTime, unpruned_index
from webapp.contacts.models import Contact
from webapp.extensions import db

STATUSES = ("draft", "published", "paused")
ENROLMENT_STATUSES = ("active", "completed", "failed")
STEP_STATUSES = ("retrying", "waiting", "done", "failed")


def new_secret() -> str:
    """The secret part of a workflow's inbound webhook URL (192 random bits); only its digest is stored."""
    return secrets.token_urlsafe(24)


def secret_digest(secret: str) -> str:
    """What the database keeps of an inbound webhook secret: its SHA-256, hex.

    A plain hash, as for API keys: the secret is random and long, so a digest cannot be reversed,
    and it does not depend on SECRET_KEY, so rotating the key does not break receivers' URLs."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Workflow(db.Model):
    """What the admin edits: a trigger and an ordered list of steps. Publishing freezes it as a version."""

    __tablename__ = "workflows"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    trigger_type: Mapped[str] = mapped_column(String(40), default="")
    trigger_config: Mapped[dict] = mapped_column(JSON, default=dict)
    # [{"id": "k3f9a2", "type": "generate_link", "key": "booking_link", "config": {...}}, ...]
    steps: Mapped[list] = mapped_column(JSON, default=list)
    allow_reentry: Mapped[bool] = mapped_column(Boolean, default=False)
    sender_name: Mapped[str] = mapped_column(String(100), default="")
    # The inbound webhook URL's secret, as secret_digest(); None until the URL is first made.
    webhook_digest: Mapped[str | None] = mapped_column(String(64))
    # use_alter: workflows and their versions point at each other.
    published_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflow_versions.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Made by `flask seed-demo` (demo.py): not the admin's own (the first-run checklist); a copy is theirs.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    published_version: Mapped["WorkflowVersion | None"] = relationship(
        foreign_keys=[published_version_id], post_update=True
    )

    @property
    def has_unpublished_changes(self) -> bool:
        """True when the draft differs from what contacts currently run."""
        version = self.published_version
        if version is None:
            return True
        return (
            version.trigger_type != self.trigger_type
            or version.trigger_config != (self.trigger_config or {})
            or version.steps != (self.steps or [])
            or version.settings != self.settings()
        )

    def settings(self) -> dict:
        """The settings frozen with each version."""
        return {"allow_reentry": bool(self.allow_reentry), "sender_name": self.sender_name or ""}

    def __repr__(self) -> str:
        return f"<Workflow {self.id} {self.status} {self.name!r}>"


class WorkflowVersion(db.Model):
    """An immutable copy of a workflow as published: enrolments run the version they started on."""

    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    trigger_type: Mapped[str] = mapped_column(String(40))
    trigger_config: Mapped[dict] = mapped_column(JSON, default=dict)
    steps: Mapped[list] = mapped_column(JSON, default=list)
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(40), default="system")

    workflow: Mapped[Workflow] = relationship(foreign_keys=[workflow_id])

    def __repr__(self) -> str:
        return f"<WorkflowVersion {self.workflow_id} v{self.number}>"


class Enrolment(db.Model):
    """One contact going through one version of a workflow; the worker claims it when run_at is due."""

    __tablename__ = "enrolments"
    __table_args__ = (
        # The worker's query: due active enrolments.
        Index("ix_enrolments_status_run_at", "status", "run_at"),
        # The lists, newest first a page at a time, and their capped counts: a workflow's (all, by status,
        # tests: webapp/workflows/enrolments.py) and a contact's.
        Index("ix_enrolments_workflow_started", "workflow_id", "started_at", "id"),
        Index("ix_enrolments_workflow_status_started", "workflow_id", "status", "started_at", "id"),
        Index("ix_enrolments_workflow_test_started", "workflow_id", "is_test", "started_at", "id"),
        Index("ix_enrolments_contact_started", "contact_id", "started_at", "id"),
        # The workflows list's capped counts by status of real (not test) enrolments: without it SQLite
        # read a status that matches none through the (workflow_id, is_test) index, every enrolment.
        Index("ix_enrolments_workflow_status_test", "workflow_id", "status", "is_test"),
        # Retention's query: completed enrolments whose step details are still kept, oldest first.
        unpruned_index("ix_enrolments_prune", "status", "finished_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
    step_index: Mapped[int] = mapped_column(Integer, default=0)
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=utcnow)
    # A claim: the worker running the enrolment, and until when its claim holds.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    # Failed attempts of the current step.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # What enrolled the contact: {"type": "tag_added", "tag": "vip"}, {"type": "booking_made", ...}
    event: Mapped[dict] = mapped_column(JSON, default=dict)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When retention emptied the step runs' outputs and errors (webapp/retention.py); None: kept.
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    workflow: Mapped[Workflow] = relationship()
    version: Mapped[WorkflowVersion] = relationship()
    contact: Mapped[Contact] = relationship()
    step_runs: Mapped[list["StepRun"]] = relationship(
        back_populates="enrolment", order_by="StepRun.id", cascade="all, delete-orphan", passive_deletes=True
    )

    def __repr__(self) -> str:
        return f"<Enrolment {self.id} {self.status} step={self.step_index}>"


class StepRun(db.Model):
    """The record of one step for one enrolment: at most one per (enrolment, step), so it runs once."""

    __tablename__ = "step_runs"
    __table_args__ = (UniqueConstraint("enrolment_id", "step_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id", ondelete="CASCADE"), index=True)
    step_id: Mapped[str] = mapped_column(String(40))
    step_type: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default="retrying")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    output: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    # No meaning of its own: SQLAlchemy numbers the rows of a multi-row INSERT in it, so that a batch's
    # new step runs go in ONE INSERT … RETURNING on SQLite too (which cannot order RETURNING by rowid).
    insert_sentinel = insert_sentinel("insert_sentinel")

    enrolment: Mapped[Enrolment] = relationship(back_populates="step_runs")

    def __repr__(self) -> str:
        return f"<StepRun {self.enrolment_id}/{self.step_id} {self.status}>"
