"""`flask serve` (what `make run` runs): gunicorn and one `flask worker`, as two child processes under one
foreground command; `flask dev` (`make dev`): the reloading development server with a worker thread.

The children run in sessions of their own, so a Ctrl+C at the terminal reaches only this supervisor,
which asks each child once to stop (SIGTERM: gunicorn finishes its requests, the worker its current
task) and exits 0 when both have. A second Ctrl+C kills them at once. If a child dies on its own, the
other is stopped and the command exits 1, naming the one that died. On Linux each child also gets
SIGTERM if the supervisor itself is killed, so none is left behind.
"""

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from flask import current_app
from werkzeug.serving import is_running_from_reloader, run_simple

from webapp import logs, worker

ROOT = Path(__file__).resolve().parent.parent
# gunicorn's processes per `make run` unless WEB_CONCURRENCY says otherwise (gunicorn reads it itself).
DEFAULT_WEB_CONCURRENCY = "2"
# Seconds gunicorn lets a request finish after Ctrl+C. Production keeps gunicorn's default (30 s: a big
# CSV import may take that long); on one machine a stop should feel immediate.
GRACEFUL_TIMEOUT = 5
# How long the children may take to stop before they are killed (gunicorn's grace plus the worker's
# current task).
STOP_TIMEOUT = 20.0
POLL_SECONDS = 0.2
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def metrics_environment(env: dict, instance_path: str) -> dict:
    """PROMETHEUS_MULTIPROC_DIR for both children: an empty instance/prometheus made afresh at each
    start (files of a previous run would add old counts), unless the operator set the variable."""
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        return env
    directory = Path(instance_path) / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    return {**env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}


def _bind(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _die_with_parent():
    """Linux: have the kernel send SIGTERM to this child when the supervisor dies (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before the fork: the child only calls it
    return lambda: libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Child:
    """One supervised process: its name as the operator reads it, and its Popen."""

    def __init__(self, name: str, argv: list[str], env: dict):
        self.name = name
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent())

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()

    def signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signum)

    def kill_all(self) -> None:
        """SIGKILL the child and everything in its session (gunicorn's own workers)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _describe(code: int) -> str:
    if code < 0:
        return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


class Supervisor:
    """Runs the children until a signal or a death; `run()` returns the command's exit code."""

    def __init__(self, children: list[Child]):
        self.children = children
        self.stops_asked = 0

    def handle_signals(self) -> dict:
        """Ctrl+C, SIGTERM and SIGHUP (the terminal closed) stop the children; returns the previous handlers."""
        return {
            signum: signal.signal(signum, self.ask_to_stop) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        }

    def ask_to_stop(self, _signum, _frame) -> None:
        """The signal handler: the first call stops the children gently, the second at once."""
        self.stops_asked += 1

    def run(self) -> int:
        while True:
            if self.stops_asked:
                return self._stop()
            for child in self.children:
                if child.exit_code is not None:
                    return self._died(child)
            time.sleep(POLL_SECONDS)

    def _stop(self) -> int:
        click.echo("Stopping OneSlot… (Ctrl+C again to stop at once)", err=True)
        for child in self.children:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(child.exit_code is None for child in self.children):
            if self.stops_asked > 1:
                click.echo("Stopping at once: killing the web server and the worker.", err=True)
                self._kill_all()
                return 130
            if time.monotonic() > deadline:
                slow = ", ".join(child.name for child in self.children if child.exit_code is None)
                click.echo(f"Still running after {STOP_TIMEOUT:.0f} s, killed: {slow}.", err=True)
                self._kill_all()
                return 1
            time.sleep(POLL_SECONDS / 2)
        failed = [child for child in self.children if child.exit_code != 0]
        for child in failed:
            click.echo(f"The {child.name} {_describe(child.exit_code or 0)} while stopping.", err=True)
        return 1 if failed else 0

    def _died(self, dead: Child) -> int:
        others = [child for child in self.children if child is not dead]
        names = " and ".join(child.name for child in others)
        click.echo(f"The {dead.name} {_describe(dead.exit_code or 0)}: stopping the {names}.", err=True)
        for child in others:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(child.exit_code is None for child in others) and time.monotonic() < deadline:
            if self.stops_asked > 1:
                break
            time.sleep(POLL_SECONDS / 2)
        self._kill_all()
        return 1

    def _kill_all(self) -> None:
        for child in self.children:
            child.kill_all()


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def serve_command(host, port):
    """Serve OneSlot with gunicorn and one background worker process, until Ctrl+C (make run)."""
    env = metrics_environment(dict(os.environ), current_app.instance_path)
    env.setdefault("WEB_CONCURRENCY", DEFAULT_WEB_CONCURRENCY)
    web = [
        *(sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")),
        *("--bind", _bind(host, port), "--graceful-timeout", str(GRACEFUL_TIMEOUT)),
        # The supervisor is the control here; gunicorn's control socket would sit at one path per user
        # ($HOME/.gunicorn/gunicorn.ctl), shared with every other gunicorn of that user.
        *("--no-control-socket", "wsgi:app"),
    ]
    background = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    supervisor = Supervisor([])
    supervisor.handle_signals()  # first: a Ctrl+C while the children start is a stop like any other
    supervisor.children = [Child("web server (gunicorn)", web, env), Child("worker (flask worker)", background, env)]
    click.echo(f"OneSlot is running at http://{_bind(host, port)}/ (Ctrl+C to stop)")
    sys.exit(supervisor.run())


@click.command("dev")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
def dev_command(host, port):
    """The development server: reloads on code changes, shows the debugger, runs a worker thread (make dev)."""
    app = current_app._get_current_object()
    app.debug = True
    if is_running_from_reloader():
        # The reloader's child serves, and is replaced at every edit: its worker stops at each exit.
        logs.configure(app.config["LOG_FORMAT"])
        stop_event, thread = worker.start_thread(app)
        atexit.register(worker.stop_thread, stop_event, thread, 10.0)
    else:
        click.echo(f"OneSlot (development) is running at http://{_bind(host, port)}/ (Ctrl+C to stop)")
    run_simple(host, port, app, threaded=True, use_reloader=True, use_debugger=True)


def init_app(app) -> None:
    """Attach `flask serve` and `flask dev`."""
    app.cli.add_command(serve_command)
    app.cli.add_command(dev_command)
