"""The background worker: runs due tasks from registered sources (the outbox, …) until told to stop.

`flask worker` runs one; many may run side by side (each claims its own tasks), and `flask serve`
runs one in a thread. A task source is a function taking a batch size and returning how many tasks
it handled; it runs inside an app context and commits its own work.
"""

import logging
import signal
import threading
from collections.abc import Callable

import click
from flask import Flask, current_app

from webapp import heartbeat
from webapp.claims import Backlog
from webapp.clock import utcnow
from webapp.extensions import db

logger = logging.getLogger("oneslot.worker")

# Small batches: a stop request waits for at most one batch per source.
BATCH_SIZE = 50
_SOURCES: dict[str, Callable[[int], int]] = {}


def register_task_source(name: str, fn: Callable[[int], int]) -> None:
    """Add (or replace) a source of tasks: fn(limit) does up to `limit` due tasks and returns how many."""
    _SOURCES[name] = fn


def task_sources() -> dict[str, Callable[[int], int]]:
    """The registered sources, in the order they run."""
    return dict(_SOURCES)


# What each source has waiting (/metrics: depth and lag per source), and which of them /readyz watches.
_BACKLOGS: dict[str, tuple[Backlog, bool]] = {}


def register_backlog(name: str, backlog: Backlog, readiness: bool = False) -> None:
    """Say how to measure what source `name` has waiting; `readiness`: /readyz fails while its oldest
    due row waits longer than READY_MAX_LAG_SECONDS."""
    _BACKLOGS[name] = (backlog, readiness)


def backlogs(readiness_only: bool = False) -> dict[str, Backlog]:
    """The registered backlogs by source name (only those /readyz watches, if asked)."""
    return {name: backlog for name, (backlog, ready) in _BACKLOGS.items() if ready or not readiness_only}


def run_once(app: Flask, limit: int = BATCH_SIZE) -> int:
    """One batch from every source; returns how many tasks were done. A failing source is logged and skipped."""
    done = 0
    for name, fn in task_sources().items():
        with app.app_context():
            try:
                count = fn(limit)
            except Exception:
                # The database may be down or a task buggy: log, and let the loop pause and try again.
                logger.exception("task source %s failed", name)
                db.session.rollback()
                count = 0
        if count:
            logger.info("%s: %d task(s) done", name, count)
        done += count
    return done


def _beat(app: Flask, name: str) -> None:
    """Write this worker's heartbeat (webapp/heartbeat.py); a database that is away is not fatal here."""
    with app.app_context():
        try:
            heartbeat.beat(name)
        except Exception:
            db.session.rollback()
            logger.warning("could not write the worker heartbeat", exc_info=True)


def _forget(app: Flask, name: str) -> None:
    with app.app_context():
        try:
            heartbeat.forget(name)
        except Exception:
            db.session.rollback()


def run(app: Flask, stop_event: threading.Event, poll_interval: float = 1.0) -> None:
    """Run due tasks until stop_event is set; sleep poll_interval when there is nothing to do."""
    logger.info("worker started (sources: %s)", ", ".join(_SOURCES) or "none")
    name = heartbeat.process_name()
    last_beat = None
    while not stop_event.is_set():
        now = utcnow()
        if last_beat is None or (now - last_beat).total_seconds() >= heartbeat.HEARTBEAT_SECONDS:
            _beat(app, name)
            last_beat = now
        if run_once(app) == 0:
            stop_event.wait(poll_interval)
    _forget(app, name)
    logger.info("worker stopped")


def drain(app: Flask) -> int:
    """Run batches until nothing is due (`flask worker --once`); returns how many tasks were done."""
    total = 0
    while done := run_once(app):
        total += done
    return total


def start_thread(app: Flask, poll_interval: float = 1.0) -> tuple[threading.Event, threading.Thread]:
    """A worker in a daemon thread of this process (`flask serve`); stop it with stop_thread()."""
    stop_event = threading.Event()
    thread = threading.Thread(target=run, args=(app, stop_event, poll_interval), name="oneslot-worker", daemon=True)
    thread.start()
    return stop_event, thread


def stop_thread(stop_event: threading.Event, thread: threading.Thread, timeout: float = 30.0) -> None:
    """Ask the worker thread to stop after its current batch, and wait for it."""
    stop_event.set()
    thread.join(timeout)
    if thread.is_alive():
        logger.warning("worker thread still busy after %ss; exiting anyway", timeout)


def configure_logging() -> None:
    """Print the app's own INFO lines (worker, mail, audit) to stderr when nothing else configured logging."""
    app_logger = logging.getLogger("oneslot")
    if app_logger.level == logging.NOTSET:
        app_logger.setLevel(logging.INFO)
    # Only our loggers: the web server's request lines keep their own format.
    if not logging.getLogger().handlers and not app_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        app_logger.addHandler(handler)


def _stop_on_signals(stop_event: threading.Event) -> dict:
    """SIGTERM and SIGINT finish the current batch, then stop; a second Ctrl+C interrupts at once."""

    def handle(signum, _frame):
        if signum == signal.SIGINT and stop_event.is_set():
            raise KeyboardInterrupt
        logger.info("%s received: stopping after the current batch", signal.Signals(signum).name)
        stop_event.set()

    return {signum: signal.signal(signum, handle) for signum in (signal.SIGTERM, signal.SIGINT)}


@click.command("worker")
@click.option("--once", is_flag=True, help="Process what is due, then exit.")
@click.option(
    "--poll", default=1.0, show_default=True, type=click.FloatRange(min=0.05), help="Seconds to wait when idle."
)
def worker_command(once, poll):
    """Send queued mail and run other background tasks until stopped (SIGTERM or Ctrl+C)."""
    configure_logging()
    app = current_app._get_current_object()
    if once:
        logger.info("worker --once: %d task(s) done", drain(app))
        return
    stop_event = threading.Event()
    previous = _stop_on_signals(stop_event)
    try:
        run(app, stop_event, poll)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def init_app(app: Flask) -> None:
    """Attach `flask worker`."""
    app.cli.add_command(worker_command)
