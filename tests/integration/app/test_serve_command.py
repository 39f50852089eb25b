"""`flask serve` (make run): gunicorn and one `flask worker` under one supervisor, started for real; the
supervisor's stop rules on stand-in children; `flask dev` (make dev) serving with its worker thread."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import database_url, empty_tables, free_port, make_app, wait_until_up
from webapp import serve
from webapp.extensions import db
from webapp.mail import outbox

ROOT = Path(__file__).resolve().parents[3]
FLASK = ROOT / ".venv" / "bin" / "flask"


def wait_for(condition, seconds: float = 30, what: str = "it") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def process_table() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, command line), read from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":  # a zombie is dead already, waiting for its parent to read its status
            table[int(entry.name)] = (int(fields[1]), cmdline)
    return table


def descendants(pid: int) -> dict[int, str]:
    """The living processes below pid, with their command lines."""
    table, found, todo = process_table(), {}, [pid]
    while todo:
        parent = todo.pop()
        for child, (ppid, cmdline) in table.items():
            if ppid == parent:
                found[child] = cmdline
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    return pid in process_table()


class Install:
    """A database with the schema and one queued message, and the environment `flask serve` runs in."""

    def __init__(self, tmp_path, smtp_server, **env):
        self.port = free_port()
        self.metrics_dir = tmp_path / "prometheus"
        self.metrics_dir.mkdir()
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(tmp_path),
            "SECRET_KEY": "serve-test-secret-key-0123",
            "BASE_URL": f"http://127.0.0.1:{self.port}",
            "MAIL_SERVER": smtp_server.host,
            "MAIL_PORT": str(smtp_server.port),
            # Set here: the default (instance/prometheus, wiped at start) is shared by every run of this checkout.
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        app = make_app(tmp_path)
        with app.app_context():
            empty_tables()
            outbox.queue_email("ada@example.com", "Sent by the worker process", "test_message", {"base_url": "x"})
            db.session.commit()
            db.session.remove()
            db.engine.dispose()
        self.log = tmp_path / "serve.log"

    def start(self) -> subprocess.Popen:
        with self.log.open("w") as out:
            return subprocess.Popen(
                [str(FLASK), "--app", "wsgi", "serve", "--port", str(self.port)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a process group of its own, as a terminal's foreground job has
            )

    def children(self, proc) -> tuple[int, list[int], int]:
        """(gunicorn master, its workers, the worker process) under the supervisor."""
        below = descendants(proc.pid)
        direct = {pid: cmd for pid, cmd in below.items() if process_table()[pid][0] == proc.pid}
        masters = [pid for pid, cmd in direct.items() if "gunicorn" in cmd]
        workers = [pid for pid, cmd in direct.items() if cmd.endswith("flask --app wsgi worker")]
        assert len(direct) == 2 and len(masters) == 1 and len(workers) == 1, below
        web_workers = [pid for pid in below if process_table()[pid][0] == masters[0]]
        return masters[0], web_workers, workers[0]


@pytest.fixture
def stopper():
    """Kill whatever a test leaves running (its supervisor's whole tree), also when it fails."""
    procs = []
    yield procs.append
    for proc in procs:
        for pid in descendants(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.slow
def test_serve_runs_gunicorn_and_a_worker_process_and_ctrl_c_stops_all(real_clock, tmp_path, smtp_server, stopper):
    install = Install(tmp_path, smtp_server, WEB_CONCURRENCY="3")
    proc = install.start()
    stopper(proc)
    wait_until_up(f"http://127.0.0.1:{install.port}", proc, install.log)
    master, web_workers, worker = install.children(proc)
    assert len(web_workers) == 3, "WEB_CONCURRENCY sets gunicorn's workers"
    wait_for(lambda: len(smtp_server.messages) == 1, what="the worker process to send the queued mail")
    assert smtp_server.messages[0]["Subject"] == "Sent by the worker process"
    for pid in (master, worker):  # both children count into the same metrics directory
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert f"PROMETHEUS_MULTIPROC_DIR={install.metrics_dir}".encode() in environ

    everyone = [master, worker, *web_workers]
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C: the terminal signals its foreground process group
    assert proc.wait(20) == 0, install.log.read_text()
    assert time.monotonic() - started < 10, "Ctrl+C should stop OneSlot within a few seconds"
    wait_for(lambda: not any(alive(pid) for pid in everyone), seconds=5, what="no process left behind")
    log = install.log.read_text()
    assert "OneSlot is running at http://127.0.0.1:" in log
    assert "Using worker: gthread" in log  # gunicorn.conf.py is read
    assert "worker stopped" in log and "Shutting down: Master" in log


@pytest.mark.slow
def test_a_dead_worker_stops_the_web_server_and_the_command_fails(real_clock, tmp_path, smtp_server, stopper):
    install = Install(tmp_path, smtp_server, WEB_CONCURRENCY="1")
    proc = install.start()
    stopper(proc)
    wait_until_up(f"http://127.0.0.1:{install.port}", proc, install.log)
    master, web_workers, worker = install.children(proc)
    os.kill(worker, signal.SIGKILL)
    assert proc.wait(30) == 1
    assert not any(alive(pid) for pid in (master, *web_workers))
    log = install.log.read_text()
    assert "The worker (flask worker) was killed by SIGKILL: stopping the web server (gunicorn)." in log, log


# --- the supervisor's rules, on stand-in children (plain Python processes: cheap to start) ---------------


def stand_in(on_sigterm: str = "sys.exit(0)", then: str = "time.sleep(60)") -> list[str]:
    """A Python process that does `on_sigterm` on SIGTERM, and `then`; once its handler is set it creates
    the file its last argument names."""
    code = "import signal, sys, time\n"
    code += f"signal.signal(signal.SIGTERM, lambda *_: {on_sigterm})\nopen(sys.argv[1], 'w').close()\n{then}"
    return [sys.executable, "-c", code]


def started(tmp_path, *argvs) -> list[serve.Child]:
    """The stand-ins started as a supervisor's children, each with its SIGTERM handler set."""
    ready = [tmp_path / f"ready-{n}" for n in range(1, len(argvs) + 1)]
    children = [
        serve.Child(f"child {n}", [*argv, str(path)], dict(os.environ))
        for n, (argv, path) in enumerate(zip(argvs, ready, strict=True), 1)
    ]
    wait_for(lambda: all(path.exists() for path in ready), what="the stand-ins to set their handlers")
    return children


def test_sigterm_to_the_supervisor_stops_every_child_and_exits_0(tmp_path, capsys):
    supervisor = serve.Supervisor(started(tmp_path, stand_in(), stand_in()))
    previous = supervisor.handle_signals()
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
        assert supervisor.run() == 0
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    assert all(child.exit_code == 0 for child in supervisor.children)
    assert "Stopping OneSlot" in capsys.readouterr().err


def test_a_second_stop_kills_children_that_take_their_time(tmp_path, capsys):
    slow = stand_in(on_sigterm="None")  # ignores SIGTERM
    supervisor = serve.Supervisor(started(tmp_path, slow, stand_in()))
    supervisor.ask_to_stop(signal.SIGINT, None)
    threading.Timer(0.5, supervisor.ask_to_stop, (signal.SIGINT, None)).start()
    began = time.monotonic()
    assert supervisor.run() == 130
    assert time.monotonic() - began < 5
    assert supervisor.children[0].exit_code == -signal.SIGKILL
    assert "Stopping at once" in capsys.readouterr().err


def test_children_that_do_not_stop_in_time_are_killed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(serve, "STOP_TIMEOUT", 1.0)
    supervisor = serve.Supervisor(started(tmp_path, stand_in(on_sigterm="None"), stand_in()))
    supervisor.ask_to_stop(signal.SIGTERM, None)
    assert supervisor.run() == 1
    assert "Still running after 1 s, killed: child 1." in capsys.readouterr().err


def test_a_child_that_exits_stops_the_other_and_the_command_fails(tmp_path, capsys):
    supervisor = serve.Supervisor(started(tmp_path, stand_in(then="time.sleep(0.5); sys.exit(3)"), stand_in()))
    assert supervisor.run() == 1
    assert supervisor.children[1].exit_code == 0, "the other child was stopped with SIGTERM"
    assert "The child 1 exited with code 3: stopping the child 2." in capsys.readouterr().err


def test_children_get_sigterm_when_the_supervisor_itself_is_killed(tmp_path):
    stopped = tmp_path / "stopped"
    ready = tmp_path / "ready"
    argv = [*stand_in(on_sigterm=f"(open({str(stopped)!r}, 'w').close(), sys.exit(0))"), str(ready)]
    code = f"import os, time\nfrom webapp import serve\nchild = serve.Child('stand-in', {argv!r}, dict(os.environ))\n"
    code += "print(child.process.pid, flush=True)\ntime.sleep(60)"
    supervisor = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        child = int(supervisor.stdout.readline())
        wait_for(ready.exists, what="the stand-in to set its handler")
    finally:
        supervisor.kill()  # SIGKILL: no handler of the supervisor runs
        supervisor.wait()
    wait_for(stopped.exists, seconds=10, what="the orphan's SIGTERM")
    wait_for(lambda: not alive(child), seconds=10, what="the orphan to exit")


def test_the_metrics_directory_is_emptied_at_each_start_unless_the_operator_chose_one(tmp_path):
    instance = tmp_path / "instance"
    env = serve.metrics_environment({}, str(instance))
    directory = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    assert directory == instance / "prometheus" and directory.is_dir()
    (directory / "counter_123.db").write_bytes(b"old counts")
    serve.metrics_environment({}, str(instance))
    assert list(directory.iterdir()) == [], "a previous run's files would add old counts"
    assert (directory.stat().st_mode & 0o777) == 0o700
    own = tmp_path / "mine"
    own.mkdir()
    (own / "keep.db").write_bytes(b"x")
    assert serve.metrics_environment({"PROMETHEUS_MULTIPROC_DIR": str(own)}, str(instance)) == {
        "PROMETHEUS_MULTIPROC_DIR": str(own)
    }
    assert (own / "keep.db").exists()


# --- make dev --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_dev_serves_with_the_reloader_and_a_worker_thread(real_clock, tmp_path, smtp_server, stopper):
    install = Install(tmp_path, smtp_server)
    with install.log.open("w") as out:
        proc = subprocess.Popen(
            [str(FLASK), "--app", "wsgi", "--debug", "dev", "--port", str(install.port)],
            cwd=ROOT,
            env=install.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stopper(proc)
    wait_until_up(f"http://127.0.0.1:{install.port}", proc, install.log)
    wait_for(lambda: len(smtp_server.messages) == 1, what="the worker thread to send the queued mail")
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C reaches the reloader and the child it serves in
    assert proc.wait(20) == 0, install.log.read_text()
    log = install.log.read_text()
    assert "Debugger is active!" in log and "Restarting with" in log
    assert "worker stopped" in log
