"""Prometheus metrics at /metrics: what the app did (links, bookings, mail), how long requests and
workflow steps took, and what each task source has waiting.

- Counters follow the events (webapp/events.py), and move only when the transaction that sent the
  event commits: a booking rolled back (a lost race, a failed insert) is never counted. A receiver
  notes the counter in the session's `info`; the session's after_commit increments, the end of a
  transaction without a commit forgets. (A savepoint rolled back inside a committed transaction would
  still count; no sender uses one.)
- Queue depth and lag per task source are read at scrape time from the sources' backlogs
  (`worker.register_backlog`), with the same `due` conditions their claims use, each one index range.
- Multiprocess mode: with PROMETHEUS_MULTIPROC_DIR set (an empty directory made before the processes
  start: `make run`, the systemd units), every process (gunicorn's workers, `flask worker`) writes its
  values to files there and a scrape adds them up (gunicorn.conf.py's child_exit marks a finished worker
  dead). Without it, the ordinary in-process values (the development server and its worker thread).
- Off unless METRICS_TOKEN is set: /metrics is then a 404 like any unknown address; with it, the
  scrape must send `Authorization: Bearer <token>`.
"""

import hmac
import os
import time
from collections.abc import Iterable, Iterator

from flask import Blueprint, Flask, Response, abort, current_app, g, request, request_finished, request_started
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from webapp import events, worker
from webapp.clock import utcnow
from webapp.extensions import Session, db

# prometheus_client picks how values are kept (in memory, or in files for many processes) from this
# variable when `prometheus_client.values` is first imported, which any library may do before the
# variable is set (a supervisor that imports the app, then sets it for its children). Choose here,
# deliberately, before our metrics exist: an unusable directory keeps values in memory, and the app
# refuses to start with a clear message (config.py).
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
MULTIPROCESS = bool(MULTIPROC_DIR) and os.path.isdir(MULTIPROC_DIR)
if getattr(values.ValueClass, "_multiprocess", False) != MULTIPROCESS:
    values.ValueClass = values.MultiProcessValue() if MULTIPROCESS else values.MutexValue
# One series per counter: `_created` samples (single-process mode only) would differ between modes.
disable_created_metrics()

# Our metrics, apart from prometheus_client's default registry (process and GC collectors of whichever
# process answers a scrape would mislead when many processes share the work).
REGISTRY = CollectorRegistry()

LINKS_ISSUED = Counter("oneslot_links_issued", "One-time links issued.", registry=REGISTRY)
LINKS_OPENED = Counter("oneslot_links_opened", "One-time links opened for the first time.", registry=REGISTRY)
LINKS_USED = Counter("oneslot_links_used", "One-time links used to book.", registry=REGISTRY)
LINKS_EXPIRED = Counter("oneslot_links_expired", "One-time links whose expiry passed unused.", registry=REGISTRY)
LINKS_REVOKED = Counter("oneslot_links_revoked", "One-time links revoked by an admin.", registry=REGISTRY)
BOOKINGS_MADE = Counter("oneslot_bookings_made", "Bookings made.", registry=REGISTRY)
BOOKINGS_MOVED = Counter("oneslot_bookings_moved", "Bookings moved to another time.", registry=REGISTRY)
BOOKINGS_CANCELLED = Counter("oneslot_bookings_cancelled", "Bookings cancelled.", registry=REGISTRY)
MAIL_SENT = Counter("oneslot_mail_sent", "Messages the SMTP server accepted.", ["kind"], registry=REGISTRY)
MAIL_RETRIED = Counter(
    "oneslot_mail_retried", "Failed attempts to send, with another one scheduled.", ["kind"], registry=REGISTRY
)
MAIL_FAILED = Counter("oneslot_mail_failed", "Messages that failed for good.", ["kind"], registry=REGISTRY)
STEP_DURATION = Histogram(
    "oneslot_workflow_step_duration_seconds",
    "Time a workflow step's run took, by step type.",
    ["step_type"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "oneslot_http_request_duration_seconds",
    "Time to answer an HTTP request, by Flask endpoint (never the path: it may hold a secret), method and status.",
    ["endpoint", "method", "status"],
    registry=REGISTRY,
)

# The queue depth is a capped count: each scrape reads at most this many index entries per source.
DEPTH_CAP = 10_000


# --- counters that move when their transaction commits ---------------------------------------------

_PENDING = "oneslot.metrics"


def count_on_commit(counter) -> None:
    """Increment `counter` (a Counter or a labelled child) when the current transaction commits."""
    db.session().info.setdefault(_PENDING, []).append(counter)


@event.listens_for(Session, "after_commit")
def _count_committed(session) -> None:
    for counter in session.info.pop(_PENDING, ()):
        counter.inc()


@event.listens_for(Session, "after_transaction_end")
def _forget_uncommitted(session, transaction) -> None:
    # after_commit ran first for a commit; whatever is left belongs to a rollback (or a close).
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _counting(counter):
    """A receiver that counts its event once the sender's transaction commits."""

    def receive(_sender, **_kwargs) -> None:
        count_on_commit(counter)

    return receive


def _on_booking_made(_booking, link_id=None, **_kwargs) -> None:
    count_on_commit(BOOKINGS_MADE)
    if link_id is not None:
        count_on_commit(LINKS_USED)


def _counting_mail(counter):
    """A receiver that counts a message under its kind (a fixed set: "workflow", "booking_confirmed", …)."""

    def receive(message, **_kwargs) -> None:
        count_on_commit(counter.labels(kind=message.kind or "other"))

    return receive


# Held here: blinker keeps only weak references to its receivers.
RECEIVERS = {
    events.link_issued: _counting(LINKS_ISSUED),
    events.link_opened: _counting(LINKS_OPENED),
    events.link_expired: _counting(LINKS_EXPIRED),
    events.link_revoked: _counting(LINKS_REVOKED),
    events.booking_made: _on_booking_made,
    events.booking_rescheduled: _counting(BOOKINGS_MOVED),
    events.booking_cancelled: _counting(BOOKINGS_CANCELLED),
    events.mail_sent: _counting_mail(MAIL_SENT),
    events.mail_retried: _counting_mail(MAIL_RETRIED),
    events.mail_failed: _counting_mail(MAIL_FAILED),
}


def step_timer(step_type: str):
    """A context manager that observes how long a step of `step_type` ran (the workflow engine)."""
    return STEP_DURATION.labels(step_type=step_type).time()


# --- HTTP requests ---------------------------------------------------------------------------------


def _request_started(_app, **_kwargs) -> None:
    g.metrics_started = time.perf_counter()


def _request_finished(_app, response, **_kwargs) -> None:
    started = g.pop("metrics_started", None)
    if started is None:
        return
    endpoint = request.endpoint or "unmatched"  # a 404 or 405 matched no route: its path is not a label
    HTTP_DURATION.labels(endpoint, request.method, str(response.status_code)).observe(time.perf_counter() - started)


# --- the queues, read at scrape time ---------------------------------------------------------------


class QueueCollector(Collector):
    """Per task source: how many rows are due (up to DEPTH_CAP) and how long the oldest has waited."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("oneslot_database_up", "1 when the database answered this scrape's queries.")
        depth = GaugeMetricFamily(
            "oneslot_queue_depth", f"Due jobs waiting, per task source (counted up to {DEPTH_CAP}).", labels=["source"]
        )
        lag = GaugeMetricFamily(
            "oneslot_queue_lag_seconds",
            "Seconds the oldest due job has waited, per task source (0 when none is due).",
            labels=["source"],
        )
        now = utcnow()
        try:
            for name, backlog in worker.backlogs().items():
                oldest = backlog.oldest(now)
                depth.add_metric([name], backlog.depth(now, DEPTH_CAP))
                lag.add_metric([name], max((now - oldest).total_seconds(), 0.0) if oldest else 0.0)
        except SQLAlchemyError:
            db.session.rollback()
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield from (up, depth, lag)


class _Own(Collector):
    """This process's metrics (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape() -> bytes:
    """The exposition: every process's counters and histograms, and the queues as they are now."""
    registry = CollectorRegistry()
    if MULTIPROCESS:
        MultiProcessCollector(registry, path=MULTIPROC_DIR)
    else:
        registry.register(_Own())
    registry.register(QueueCollector())
    return generate_latest(registry)


# --- /metrics --------------------------------------------------------------------------------------

bp = Blueprint("metrics", __name__)


def _authorized(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Compared as bytes: compare_digest refuses str with characters outside ASCII, which anyone can send.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@bp.get("/metrics")
def metrics():
    """The Prometheus exposition, for a scraper holding METRICS_TOKEN; a 404 while it is unset."""
    token = current_app.config.get("METRICS_TOKEN", "")
    if not token:
        abort(404)
    if not _authorized(token):
        response = Response("A bearer token is required.\n", 401, mimetype="text/plain")
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    else:
        response = Response(scrape(), content_type=CONTENT_TYPE_LATEST)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Count the events, time every request, and add /metrics."""
    for signal, receiver in RECEIVERS.items():
        signal.connect(receiver)
    request_started.connect(_request_started, app)
    request_finished.connect(_request_finished, app)
    app.register_blueprint(bp)
