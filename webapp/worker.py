"""The background worker: runs due tasks from registered sources (the outbox, …) until told to stop.

`flask worker` runs one; many may run side by side (each claims its own tasks), `flask serve` starts
one as a process beside gunicorn, and `flask dev` runs one in a thread. A task source is a function
taking a batch size and returning how many tasks it handled; it runs inside an app context and
commits its own work.
"""

import logging
import signal
import threading
from collections.abc import Callable

import click
from flask import Flask, current_app

from webapp import heartbeat, logs, outage
from webapp.clock import utcnow

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


def run_once(app: Flask, limit: int = BATCH_SIZE) -> int:
    """One batch from every source; returns how many tasks were done. A failing source is logged and skipped;
    a database that is away raises outage.DatabaseUnavailable (run() waits, without a traceback)."""
    done = 0
    for name, fn in task_sources().items():
        with app.app_context(), logs.batch(name) as result:
            try:
                count = fn(limit)
            except Exception as exc:
                outage.rollback()
                if outage.is_unavailable(exc):
                    raise outage.DatabaseUnavailable(name) from exc
                logger.exception("task source %s failed", name)
                count = 0
            result.append(count)
        done += count
    return done


def _beat(app: Flask, name: str) -> None:
    """Write this worker's heartbeat (webapp/heartbeat.py); a database that is away is run()'s to wait for."""
    with app.app_context():
        try:
            heartbeat.beat(name)
        except Exception as exc:
            outage.rollback()
            if outage.is_unavailable(exc):
                raise outage.DatabaseUnavailable("heartbeat") from exc
            logger.warning("could not write the worker heartbeat", exc_info=True)


def _forget(app: Flask, name: str) -> None:
    with app.app_context():
        try:
            heartbeat.forget(name)
        except Exception:
            outage.rollback()


def run(app: Flask, stop_event: threading.Event, poll_interval: float = 1.0) -> None:
    """Run due tasks until stop_event is set; sleep poll_interval when there is nothing to do."""
    logger.info("worker started (sources: %s)", ", ".join(_SOURCES) or "none")
    name = heartbeat.process_name()
    last_beat = None
    backoff = outage.Backoff()
    while not stop_event.is_set():
        now = utcnow()
        try:
            if last_beat is None or (now - last_beat).total_seconds() >= heartbeat.HEARTBEAT_SECONDS:
                _beat(app, name)
                last_beat = now
                backoff.succeeded()
            done = run_once(app)
        except outage.DatabaseUnavailable as exc:
            # One line when it goes (and one when it is back), then waits that a stop request cuts short;
            # the heartbeat is the first thing written when the database answers again.
            stop_event.wait(backoff.failed(exc.__cause__ or exc))
            last_beat = None
            continue
        backoff.succeeded()
        if done == 0:
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
    """A worker in a daemon thread of this process (`flask dev`); stop it with stop_thread()."""
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
    app = current_app._get_current_object()
    logs.configure(app.config["LOG_FORMAT"])
    if once:
        try:
            logger.info("worker --once: %d task(s) done", drain(app))
        except outage.DatabaseUnavailable as exc:
            raise click.ClickException(f"the database is unavailable: {outage.short(exc.__cause__ or exc)}") from None
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
