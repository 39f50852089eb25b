"""`flask backup` and `flask restore` on the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL):
a backup taken while a worker process runs a workflow, restored into a fresh install, books with a link
mailed before the backup; and the refusals (a database with data, an existing file, a newer schema)."""

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, make_url, select, text

from tests.conftest import make_app, recreate_database, tomorrow_at
from tests.helpers import post_booking
from webapp import backup, heartbeat
from webapp.booking.models import Booking, OneTimeLink
from webapp.calendars import services as calendars
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.heartbeat import WorkerHeartbeat
from webapp.workflows import services as workflows

ROOT = Path(__file__).resolve().parents[3]
FLASK = ROOT / ".venv" / "bin" / "flask"
SECRET_KEY = "backup-test-secret-key-0123"
CONTACTS = 40


@pytest.fixture
def databases(tmp_path) -> Iterator[tuple[str, str]]:
    """Two new databases: the running install's, and the fresh install's that the backup is restored into."""
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'running.db'}", f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    pair = (f"{base}_bsrc", f"{base}_bdst")
    for url in pair:
        recreate_database(url)
    yield pair
    for url in pair:
        recreate_database(url, create=False)


def install(tmp_path, name: str, url: str, **env):
    """An app of its own (instance folder, database), with the same SECRET_KEY as every other here."""
    return make_app(tmp_path / name, ENV_VARS={"DATABASE_URL": url, "SECRET_KEY": SECRET_KEY, **env})


def run(app, *args: str):
    """`flask <args>` in-process, on `app`."""
    result = app.test_cli_runner().invoke(args=list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def start_worker(url: str, smtp_server) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET_KEY,
        "MAIL_SERVER": smtp_server.host,
        "MAIL_PORT": str(smtp_server.port),
    }
    for name in ("TEST_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR"):  # the suite's, not this worker's
        env.pop(name, None)
    return subprocess.Popen(
        [str(FLASK), "--app", "wsgi", "worker", "--poll", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, seconds: float = 60, what: str = "it") -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def book_me_workflow(contact_count: int) -> None:
    """A calendar open all week, the workflow "tag book-me → link → email", and contacts enrolled in it."""
    calendar = calendars.create_calendar(
        {"name": "Intro call", "timezone": "UTC", "duration": 30}, weekly={d: [(0, 1440)] for d in range(7)}
    )
    workflow = workflows.create_workflow("Book-me links", "tag_added", {"tag": "book-me"})
    workflow.steps = [
        {"id": "s1", "type": "generate_link", "key": "booking_link", "config": {"calendar_id": calendar.id}},
        {
            "id": "s2",
            "type": "send_email",
            "key": "",
            "config": {"subject": "Your link", "body": "Book: {{ steps.booking_link.url }}"},
        },
    ]
    db.session.commit()
    workflows.publish(workflow)
    for n in range(contact_count):
        contact = contacts.create_contact({"first_name": f"Person{n}", "email": f"person{n}@example.com"})
        contacts.add_tags(contact, ["book-me"])
    db.session.commit()


@pytest.mark.slow
def test_a_backup_taken_while_the_worker_runs_restores_into_a_fresh_install_and_an_old_link_books(
    real_clock, tmp_path, databases, smtp_server
):
    running_url, fresh_url = databases
    running = install(tmp_path, "running", running_url)
    with running.app_context():
        upgrade()
        book_me_workflow(CONTACTS)
        db.session.remove()
    smtp_server.delay = 0.2  # the run takes a few seconds: the backup lands in the middle of it
    worker = start_worker(running_url, smtp_server)
    try:
        wait_for(lambda: smtp_server.messages, what="the first mail")
        mailed_before = list(smtp_server.messages)
        path = tmp_path / "backups" / "oneslot.backup"
        path.parent.mkdir()
        code, said = run(running, "backup", str(path))
        assert code == 0, said
        assert len(smtp_server.messages) < CONTACTS, "the backup was taken while mail was still going out"
        wait_for(lambda: len(smtp_server.messages) == CONTACTS, what="every contact's mail")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err

    with running.app_context():
        head = backup.head_revision()
    assert f"Backed up to {path}" in said and f"schema revision {head}" in said
    assert "SECRET_KEY" in said and "without it every link in it is dead" in said
    assert path.stat().st_mode & 0o777 == 0o600, "it holds personal data"
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left beside it"

    fresh = install(tmp_path, "fresh", fresh_url)
    code, said = run(fresh, "restore", str(path))
    assert code == 0, said
    assert f"Restored {path}" in said

    token = re.search(r"/book/([^\s/]+)", mailed_before[0].get_body(("plain",)).get_content())[1]
    client = fresh.test_client()
    assert client.get(f"/book/{token}").status_code == 200
    invitee = mailed_before[0]["To"].addresses[0].addr_spec
    booked = post_booking(client, token, tomorrow_at(10), email=invitee)
    assert booked.status_code == 303 and "/booking/" in booked.location, booked.get_data(as_text=True)
    with fresh.app_context():
        assert count(Booking) == 1
        link = db.session.scalar(select(OneTimeLink).where(OneTimeLink.used_at.is_not(None)))
        assert link is not None and link.contact_id == contacts.find_by_email(invitee).id
        assert count(WorkerHeartbeat) == 0, "the old install's workers are not this one's"
        db.session.remove()

    # Over a database that holds data: only with --force.
    code, said = run(fresh, "restore", str(path))
    assert code == 1 and "this database holds data" in said
    # Never over an existing file without --force.
    code, said = run(running, "backup", str(path))
    assert code == 1 and "exists" in said and "--force" in said

    # A damaged backup (cut short) is refused before anything changes.
    cut = tmp_path / "backups" / "cut.backup"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    code, said = run(fresh, "restore", "--force", str(cut))
    assert code == 1 and ("cannot read" in said or "nothing was changed" in said), said
    with fresh.app_context():
        assert count(Booking) == 1
        db.session.remove()

    # A backup made by a newer OneSlot (a schema revision this code does not know) is refused, even with
    # --force, and the database stays as it was.
    newer = tmp_path / "backups" / "newer.backup"
    with running.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
        db.session.commit()
        db.session.remove()
    code, said = run(running, "backup", str(newer))
    assert code == 0, said
    code, said = run(fresh, "restore", "--force", str(newer))
    assert code == 1 and "ffffffffffff is unknown to this version of OneSlot" in said, said
    with fresh.app_context():
        assert count(Booking) == 1
        db.session.remove()
    for app in (running, fresh):
        with app.app_context():
            db.engine.dispose()


def test_an_older_backup_is_upgraded_after_the_restore(tmp_path, databases):
    running_url, fresh_url = databases
    running = install(tmp_path, "running", running_url)
    with running.app_context():
        head = backup.head_revision()
        previous = backup._scripts().get_revision(head).down_revision
        upgrade(revision=previous)
        db.session.remove()
    path = tmp_path / "old.backup"
    code, said = run(running, "backup", str(path))
    assert code == 0 and f"schema revision {previous}" in said, said
    fresh = install(tmp_path, "fresh", fresh_url)
    code, said = run(fresh, "restore", str(path))
    assert code == 0 and f"upgraded it to {head}" in said, said
    with fresh.app_context():
        assert db.session.scalar(text("SELECT version_num FROM alembic_version")) == head
        assert count(WorkerHeartbeat) == 0  # the table the upgrade added is there
        heartbeat.beat("elsewhere:42")  # a worker runs on this database
        db.session.remove()
    code, said = run(fresh, "restore", "--force", str(path))
    assert code == 1 and "a worker wrote its heartbeat less than a minute ago" in said, said
    for app in (running, fresh):
        with app.app_context():
            db.engine.dispose()


def test_a_file_of_the_other_database_is_refused(tmp_path, app, runner):
    wrong = tmp_path / "wrong.backup"
    postgres = db.engine.dialect.name == "postgresql"
    wrong.write_bytes(b"SQLite format 3\0" + bytes(100) if postgres else b"PGDMP" + bytes(100))
    result = runner.invoke(args=["restore", str(wrong)])
    assert result.exit_code == 1
    assert "is not a PostgreSQL backup" in result.output if postgres else "is not a SQLite backup" in result.output


ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql")


def test_the_password_reaches_pg_dump_through_its_environment_only():
    url = make_url("postgresql+psycopg://ann:s3cret@db.internal:5433/oneslot?sslmode=require")
    env = backup._libpq_environment(url)
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"]) == ("db.internal", "5433", "ann", "oneslot")
    assert env["PGPASSWORD"] == "s3cret" and env["PGSSLMODE"] == "require"
    with pytest.raises(backup.BackupError, match="'frobnicate' cannot be passed on"):
        backup._libpq_environment(make_url("postgresql://ann@db.internal/oneslot?frobnicate=1"))


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only (TEST_DATABASE_URL)")
def test_a_pg_dump_older_than_the_server_is_refused(tmp_path, app, runner, monkeypatch):
    fake = tmp_path / "bin" / "pg_dump"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")  # what an old client says
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    result = runner.invoke(args=["backup", str(tmp_path / "x.backup")])
    assert result.exit_code == 1
    assert "pg_dump 9 cannot back up a PostgreSQL" in result.output and "install postgresql-client-" in result.output
    assert not (tmp_path / "x.backup").exists()


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only (TEST_DATABASE_URL)")
def test_a_missing_pg_dump_is_named(tmp_path, app, runner, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    result = runner.invoke(args=["backup", str(tmp_path / "x.backup")])
    assert result.exit_code == 1 and "pg_dump is not installed" in result.output
    assert list(tmp_path.iterdir()) == [], "no temporary file left"
