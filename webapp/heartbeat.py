"""Worker heartbeats: each running `flask worker` writes a row now and then, so the app can tell
whether anyone is doing the background work (/readyz) and workers can see which claims belong to
a worker that is gone.

A worker is named `host:pid` (`process_name()`); its row is written at start, then by the worker's
heartbeat thread every HEARTBEAT_SECONDS (a third of WORKER_LEASE_SECONDS when that is shorter), even
during a long batch, and removed when it stops cleanly. A worker killed with SIGKILL
leaves its row behind, whose `beat_at` then ages.
"""

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import String, delete, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db

# How often a running worker writes its row; /readyz wants one within the last minute.
HEARTBEAT_SECONDS = 10


class WorkerHeartbeat(db.Model):
    """One running (or lately running) worker process."""

    __tablename__ = "worker_heartbeats"

    worker: Mapped[str] = mapped_column(String(200), primary_key=True)  # "host:pid"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


def process_name() -> str:
    """This process's worker name: the host and the process id."""
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


def beat(worker: str, now: datetime | None = None) -> None:
    """Record that `worker` is alive (creating its row at the first beat). Commits."""
    now = now or utcnow()
    updated = db.session.execute(
        update(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker).values(beat_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount  # type: ignore[attr-defined]  # DML gives a CursorResult
    if not updated:
        db.session.add(WorkerHeartbeat(worker=worker, started_at=now, beat_at=now))
    db.session.commit()


def forget(worker: str) -> None:
    """Remove `worker`'s row (a clean stop). Commits."""
    db.session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))
    db.session.commit()


def last_beat() -> datetime | None:
    """When any worker last beat, or None when none ever did."""
    return db.session.scalar(select(func.max(WorkerHeartbeat.beat_at)))


def alive_since(now: datetime, within: timedelta) -> bool:
    """Whether some worker beat within `within` before `now`."""
    latest = last_beat()
    return latest is not None and latest >= now - within
