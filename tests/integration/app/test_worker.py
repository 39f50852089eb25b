"""The worker: task sources, the loop, `flask worker` and signals (`flask serve`, `flask dev`: test_serve_command)."""

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.helpers import ROOT
from webapp import create_app, worker
from webapp.extensions import db
from webapp.mail import outbox
from webapp.mail.models import OutboxMessage

FLASK = Path(sys.executable).with_name("flask")


@pytest.fixture
def sources(monkeypatch):
    """An empty registry for the test; the app's own sources come back afterwards."""
    monkeypatch.setattr(worker, "_SOURCES", {})
    return worker._SOURCES


def wait_for(condition, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# --- the registry and the loop -------------------------------------------------------------------


def test_the_outbox_is_a_task_source(app):
    assert worker.task_sources()["outbox"] is outbox.send_due


def test_run_once_asks_every_source_and_adds_up(app, sources):
    calls = []
    worker.register_task_source("a", lambda limit: calls.append(("a", limit)) or 2)
    worker.register_task_source("b", lambda limit: calls.append(("b", limit)) or 0)
    assert worker.run_once(app, limit=7) == 2
    assert calls == [("a", 7), ("b", 7)]


def test_a_failing_source_is_logged_and_the_others_still_run(app, sources, caplog):
    def broken(limit):
        raise RuntimeError("database is down")

    worker.register_task_source("broken", broken)
    worker.register_task_source("fine", lambda limit: 1)
    with caplog.at_level(logging.ERROR, logger="oneslot.worker"):
        assert worker.run_once(app) == 1
    assert "task source broken failed" in caplog.text and "database is down" in caplog.text


def test_run_works_until_idle_then_sleeps_and_stops_when_asked(app, sources):
    remaining = [3]
    polls = []

    def source(limit):
        polls.append(time.monotonic())
        if remaining[0]:
            remaining[0] -= 1
            return 1
        return 0

    worker.register_task_source("count", source)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(app, stop, 0.2))
    thread.start()
    wait_for(lambda: len(polls) >= 6, what="idle polls")
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert remaining == [0]
    # Busy: no pause between batches. Idle: one poll interval between looks.
    assert polls[2] - polls[0] < 0.15
    assert polls[5] - polls[4] >= 0.19


def test_drain_runs_until_nothing_is_due(app, sources):
    remaining = [25]

    def source(limit):
        done = min(limit, remaining[0])
        remaining[0] -= done
        return done

    worker.register_task_source("many", source)
    assert worker.drain(app) == 25 and remaining == [0]


def test_worker_command_once(app, sources, runner):
    worker.register_task_source("one", lambda limit: 0)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["worker", "--poll", "0"]).exit_code == 2, "a zero poll would spin"


# --- real processes ------------------------------------------------------------------------------


class Process:
    """A SQLite database with the schema and one queued message, and the environment of a process using it."""

    def __init__(self, tmp_path, smtp_server):
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
            "SECRET_KEY": "worker-test-secret-key",
            "MAIL_SERVER": smtp_server.host,
            "MAIL_PORT": str(smtp_server.port),
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("TEST_DATABASE_URL", None)
        self.app = create_app({"ENV_VARS": self.env, "INSTANCE_PATH": str(tmp_path / "instance")})
        with self.app.app_context():
            db.create_all()
            outbox.queue_email("ada@example.com", "Sent by a process", "test_message", {"base_url": "x"})
            db.session.commit()
            db.session.remove()

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [str(FLASK), "--app", "wsgi", *args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def statuses(self) -> list[str]:
        with self.app.app_context():
            result = list(db.session.scalars(select(OutboxMessage.status)))
            db.session.remove()
        return result


@pytest.fixture
def process(real_clock, tmp_path, smtp_server):
    process = Process(tmp_path, smtp_server)
    yield process
    with process.app.app_context():
        db.engine.dispose()


@pytest.mark.slow
def test_sigterm_lets_the_current_send_finish_then_exits_0(process, smtp_server):
    smtp_server.delay = 1.5  # the server takes its time: SIGTERM arrives mid-send
    proc = process.start("worker", "--poll", "0.2")
    try:
        assert smtp_server.receiving.wait(30), "the worker never sent"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert len(smtp_server.messages) == 1 and smtp_server.messages[0]["Subject"] == "Sent by a process"
    assert process.statuses() == ["sent"]
    assert "SIGTERM received: stopping after the current message or step" in err
    assert "worker stopped" in err
    assert err.index("SIGTERM received") < err.index("mail sent outbox_id=1") < err.index("worker stopped")


@pytest.mark.slow
def test_sigint_stops_an_idle_worker(process, smtp_server):
    proc = process.start("worker", "--poll", "0.2")
    try:
        wait_for(lambda: len(smtp_server.messages) == 1, what="the queued message")
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "SIGINT received" in err and "worker stopped" in err
