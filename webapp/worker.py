"""The background worker: runs due tasks from registered sources (the outbox, …) until told to stop.

`flask worker` runs one; many may run side by side (each claims its own tasks), `flask serve` starts
one as a process beside gunicorn, and `flask dev` runs one in a thread. A task source is a function
taking a batch size and returning how many tasks it handled; it runs inside an app context and commits
its own work.

While it runs, a heartbeat thread writes the worker's heartbeat (webapp/heartbeat.py) and renews the
leases of the rows its sources hold (claims.renew_held), every third of WORKER_LEASE_SECONDS at most:
a long batch keeps its claims, a killed worker's are free within one lease.

A stop (SIGTERM, the first Ctrl+C, stop_thread) is honoured between two messages or two steps: the
sources look at `stopping()` between items and let go of the rest of their claims at once, and whatever
a source still holds when it returns is released too. A send that hangs past STOP_GRACE_SECONDS is cut
(the stop hooks: the SMTP connection is closed under it) and its message goes back to the queue; a
`flask worker` still busy at STOP_DEADLINE_SECONDS exits anyway.
"""

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from flask import Flask, current_app

from webapp import claims, heartbeat, logs, outage
from webapp.claims import Backlog
from webapp.clock import utcnow

logger = logging.getLogger("oneslot.worker")

# Batches are claimed 50 at a time; a stop waits for the current message or step, not the batch.
BATCH_SIZE = 50
# After a stop request: how long a send in progress may finish, then when `flask worker` exits anyway.
STOP_GRACE_SECONDS = 2.0
STOP_DEADLINE_SECONDS = 4.0
_SOURCES: dict[str, Callable[[int], int]] = {}
_STOP_HOOKS: list[Callable[[], None]] = []
# The stop event of the worker loop running in this process (None: none runs, nothing is stopping).
_running_stop: threading.Event | None = None


def stopping() -> bool:
    """Whether this process's worker was asked to stop: sources check it between two items."""
    return _running_stop is not None and _running_stop.is_set()


def on_stop_overdue(hook: Callable[[], None]) -> None:
    """Call `hook` (from another thread) when a stop has waited STOP_GRACE_SECONDS for the worker: it
    should make a blocked call return (mail closes its SMTP connections)."""
    if hook not in _STOP_HOOKS:
        _STOP_HOOKS.append(hook)


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


def run_once(app: Flask, limit: int = BATCH_SIZE, answered: Callable[[], None] | None = None) -> int:
    """One batch from every source; returns how many tasks were done. A failing source is logged and skipped;
    a database that is away raises outage.DatabaseUnavailable (run() waits, without a traceback).
    `answered` is called after each source that ran without a database outage (run()'s backoff)."""
    done = 0
    for name, fn in task_sources().items():
        if stopping():
            break
        with app.app_context(), claims.tracked() as held, logs.batch(name) as result:
            failed = False
            try:
                count = fn(limit)
                if answered is not None:
                    answered()
            except Exception as exc:
                outage.rollback()
                count, failed = 0, True
                if outage.is_unavailable(exc):
                    raise outage.DatabaseUnavailable(name) from exc  # its claims run out with their lease
                logger.exception("task source %s failed", name)
            if failed or stopping():
                _release(held)
            result.append(count)
        done += count
    return done


def _release(held: claims.Held) -> None:
    """Let go of what a source still holds (it stopped or failed): another worker takes it at once."""
    try:
        held.release()
    except Exception:
        # The database is away (the source's own failure is logged already): the leases run out instead.
        outage.rollback()
        logger.debug("could not release the claims left after a stop or a failure", exc_info=True)


def heartbeat_seconds(app: Flask) -> float:
    """How often the heartbeat thread beats and renews: often enough for /readyz and for the lease."""
    return min(heartbeat.HEARTBEAT_SECONDS, app.config["WORKER_LEASE_SECONDS"] / 3)


def _beat(app: Flask, name: str) -> Exception | None:
    """Write this worker's heartbeat and renew its claims; the error when the database did not answer."""
    with app.app_context():
        try:
            now = utcnow()
            heartbeat.beat(name, now)
            claims.renew_held(now)
        except Exception as exc:
            outage.rollback()
            return exc
    return None


def _heartbeats(app: Flask, name: str, done: threading.Event) -> None:
    """The heartbeat thread's loop, until `done`; one line when beats start failing, one when they work again."""
    failing = said = False
    while True:
        error = _beat(app, name)
        if error is not None and not failing:
            # A database that is away is the run loop's one line (outage.Backoff); anything else is said here.
            said = not outage.is_unavailable(error)
            if said:
                logger.warning(
                    "could not write the worker heartbeat or renew its claims (trying again): %s", outage.short(error)
                )
        elif error is None and failing and said:
            logger.info("worker heartbeat written again")
        failing = error is not None
        if done.wait(heartbeat_seconds(app)):
            return


def _forget(app: Flask, name: str) -> None:
    with app.app_context():
        try:
            heartbeat.forget(name)
        except Exception:
            outage.rollback()


def run(app: Flask, stop_event: threading.Event, poll_interval: float = 1.0) -> None:
    """Run due tasks until stop_event is set; sleep poll_interval when there is nothing to do.

    Setting stop_event also makes `stopping()` true, so the sources stop after their current item."""
    global _running_stop
    logger.info("worker started (sources: %s)", ", ".join(_SOURCES) or "none")
    name = heartbeat.process_name()
    _running_stop = stop_event
    backoff = outage.Backoff()
    try:
        with _heartbeat_thread(app, name):
            while not stop_event.is_set():
                try:
                    # The database is back as soon as one source's batch went through: that says so at
                    # once, so an outage that starts again in the same round is a new line.
                    done = run_once(app, answered=backoff.succeeded)
                except outage.DatabaseUnavailable as exc:
                    # One line when it goes (and one when it is back), then a wait that a stop cuts short.
                    stop_event.wait(backoff.failed(exc.__cause__ or exc))
                    continue
                if done == 0:
                    stop_event.wait(poll_interval)
    finally:
        _running_stop = None
    _forget(app, name)
    logger.info("worker stopped")


@contextmanager
def _heartbeat_thread(app: Flask, name: str) -> Iterator[None]:
    """The heartbeat thread (beats, lease renewals) for as long as the block runs."""
    done = threading.Event()
    beats = threading.Thread(target=_heartbeats, args=(app, name, done), name="oneslot-heartbeat", daemon=True)
    beats.start()
    try:
        yield
    finally:
        done.set()
        beats.join(1)  # a beat stuck on the database must not hold the stop up (the thread is a daemon)


def drain(app: Flask) -> int:
    """Run batches until nothing is due (`flask worker --once`); returns how many tasks were done."""
    total = 0
    with _heartbeat_thread(app, heartbeat.process_name()):  # a long batch keeps its claims here too
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
    """Ask the worker thread to stop after its current message or step, and wait for it."""
    stop_event.set()
    _interrupt_if_overdue(thread.is_alive, time.monotonic())
    thread.join(timeout)
    if thread.is_alive():
        logger.warning("worker thread still busy after %ss; exiting anyway", timeout)


def _interrupt_if_overdue(busy: Callable[[], bool], since: float) -> None:
    """Wait up to STOP_GRACE_SECONDS from `since` for the worker; still busy then, call the stop hooks."""
    while busy() and time.monotonic() - since < STOP_GRACE_SECONDS:
        time.sleep(0.05)
    if busy():
        logger.warning("still busy %.0f s after the stop request: interrupting what blocks", STOP_GRACE_SECONDS)
        for hook in _STOP_HOOKS:
            try:
                hook()
            except Exception:
                logger.warning("a stop hook failed", exc_info=True)


def _stop_on_signals(stop_event: threading.Event, stopped: threading.Event) -> dict:
    """SIGTERM and SIGINT stop after the current message or step; a second Ctrl+C interrupts at once.

    A watchdog bounds the stop: past STOP_GRACE_SECONDS it interrupts a send that hangs (stop hooks),
    past STOP_DEADLINE_SECONDS the process exits whatever still runs (its claims then wait one lease)."""

    def handle(signum, _frame):
        if signum == signal.SIGINT and stop_event.is_set():
            raise KeyboardInterrupt
        if stop_event.is_set():
            return
        logger.info("%s received: stopping after the current message or step", signal.Signals(signum).name)
        stop_event.set()
        threading.Thread(target=_watchdog, args=(stopped, time.monotonic()), name="oneslot-stop", daemon=True).start()

    return {signum: signal.signal(signum, handle) for signum in (signal.SIGTERM, signal.SIGINT)}


def _watchdog(stopped: threading.Event, since: float) -> None:
    _interrupt_if_overdue(lambda: not stopped.is_set(), since)
    if not stopped.wait(max(0.0, STOP_DEADLINE_SECONDS - (time.monotonic() - since))):
        logger.error("worker still busy %.1f s after the stop request: exiting now", STOP_DEADLINE_SECONDS)
        logging.shutdown()
        os._exit(1)


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
    stop_event, stopped = threading.Event(), threading.Event()
    previous = _stop_on_signals(stop_event, stopped)
    try:
        run(app, stop_event, poll)
    finally:
        stopped.set()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def init_app(app: Flask) -> None:
    """Attach `flask worker`."""
    app.cli.add_command(worker_command)
