"""`flask backup PATH` and `flask restore PATH` (docs/backup.md).

SQLite: the online backup API copies the database page by page inside one read transaction, so the copy
is consistent while the app and the worker write (rows still in the WAL included, which `cp` misses);
the copy is one self-contained file. A restore writes it back through the same API, never as a file
copy under a running app. PostgreSQL: `pg_dump -Fc`, and `pg_restore` replayed by `psql` inside one
transaction that first drops OneSlot's tables: a restore that fails changes nothing. The connection
settings reach both through libpq's environment variables, the password too, never the command line.

Each backup records its schema revision (alembic_version, inside it); a restore refuses one this code
does not know (made by a newer OneSlot), and upgrades one that is older.
"""

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
from datetime import timedelta
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from sqlalchemy import delete, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from webapp import heartbeat
from webapp.clock import utcnow
from webapp.extensions import db


class BackupError(click.ClickException):
    """Why a backup or a restore cannot go ahead; the command prints it and exits 1."""


# Tables whose rows are not the installation's data: a database holding only these counts as empty.
NOT_DATA = {"alembic_version", heartbeat.WorkerHeartbeat.__tablename__}
# A restore under a running worker would pull the database from under it.
WORKER_GONE_AFTER = timedelta(minutes=1)
# libpq's environment variables for the options a DATABASE_URL may carry after "?".
LIBPQ_OPTIONS = {
    "host": "PGHOST",
    "port": "PGPORT",
    "sslmode": "PGSSLMODE",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "channel_binding": "PGCHANNELBINDING",
    "gssencmode": "PGGSSENCMODE",
    "options": "PGOPTIONS",
    "service": "PGSERVICE",
    "passfile": "PGPASSFILE",
}
SQLITE_HEADER = b"SQLite format 3\0"
PG_DUMP_HEADER = b"PGDMP"


# --- what both databases share ------------------------------------------------------------------------


def _url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def head_revision() -> str:
    """The newest schema revision this code knows."""
    return _scripts().get_current_head() or ""


def check_revision(revision: str | None) -> None:
    """Refuse a backup without a schema revision, or with one this code does not have (a newer OneSlot's)."""
    if not revision:
        raise BackupError("this backup has no schema revision (alembic_version): it is not a OneSlot database")
    try:
        known = _scripts().get_revision(revision)
    except CommandError:
        known = None
    if known is None:
        raise BackupError(
            f"this backup's schema revision {revision} is unknown to this version of OneSlot (head {head_revision()}):"
            " it was made by a newer OneSlot. Restore it with that version, or upgrade this one first."
        )


def has_data() -> bool:
    """Whether the database holds any row of the installation (an upgraded but unused one does not)."""
    names = [name for name in inspect(db.engine).get_table_names() if name not in NOT_DATA]
    quote = db.engine.dialect.identifier_preparer.quote
    with db.engine.connect() as conn:
        return any(conn.execute(text(f"SELECT 1 FROM {quote(name)} LIMIT 1")).first() for name in names)


def _worker_running() -> bool:
    if heartbeat.WorkerHeartbeat.__tablename__ not in inspect(db.engine).get_table_names():
        return False
    try:
        return heartbeat.alive_since(utcnow(), WORKER_GONE_AFTER)
    finally:
        db.session.remove()


def _human_size(size: int) -> str:
    """1536 → "1.5 KB"."""
    amount, unit = float(size), "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    return f"{size} bytes" if unit == "bytes" else f"{amount:.1f} {unit}"


def _key_reminder() -> str:
    instance = Path(current_app.config.get("INSTANCE_PATH", current_app.instance_path))
    key_file = instance / "secret_key"
    if key_file.exists() and key_file.read_text().strip() == current_app.config["SECRET_KEY"]:
        key = f"the secret key in {key_file}"
    else:
        key = "SECRET_KEY (as set in this environment)"
    if current_app.config.get("ENCRYPTION_KEY"):
        key += " and ENCRYPTION_KEY"
    return (
        f"Keep {key} with this backup, somewhere else as safe: without it every link in it is dead and its"
        " encrypted secrets cannot be read. The backup holds personal data: store it encrypted."
    )


def _target_path(path: str, force: bool) -> Path:
    target = Path(path)
    if target.is_dir():
        raise BackupError(f"{target} is a folder: give the backup's file name")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    if target.exists() and not force:
        raise BackupError(f"{target} exists: choose another name, or add --force to replace it")
    return target


def _publish(temp: Path, target: Path, force: bool) -> None:
    """Put the finished file at its name in one step: replace (--force), or link only if the name is free."""
    with open(temp, "rb") as handle:
        os.fsync(handle.fileno())
    if force:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)
        except FileExistsError:
            raise BackupError(f"{target} appeared meanwhile: choose another name, or add --force") from None
        finally:
            temp.unlink(missing_ok=True)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


# --- SQLite -----------------------------------------------------------------------------------------------


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None  # no such table
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"cannot read the SQLite file: {exc}") from None
    return row[0] if row else None


def _sqlite_backup(temp: Path) -> str | None:
    source = _url().database
    if not source or source == ":memory:" or not Path(source).exists():
        raise BackupError(f"there is no SQLite database at {source}")
    copy = sqlite3.connect(temp)
    try:
        with db.engine.connect() as conn:
            conn.connection.driver_connection.backup(copy)  # type: ignore[union-attr]  # pysqlite's connection
        copy.execute("PRAGMA journal_mode=DELETE")  # one file: no -wal beside it
        if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError("the copy did not pass SQLite's integrity check; nothing was written")
        return _sqlite_revision(copy)
    finally:
        copy.close()


def _sqlite_backup_revision(path: Path) -> str | None:
    if path.read_bytes()[:16] != SQLITE_HEADER:
        raise BackupError(f"{path} is not a SQLite backup (DATABASE_URL is SQLite)")
    backup = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        revision = _sqlite_revision(backup)
        # Whole before anything is replaced: a file cut short can still show its first pages.
        problem = backup.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        problem = str(exc)
    finally:
        backup.close()
    if problem != "ok":
        raise BackupError(f"cannot read the SQLite file {path}, it is damaged: {problem}")
    return revision


def _sqlite_restore(path: Path) -> None:
    db.session.remove()
    db.engine.dispose()
    backup = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    target = sqlite3.connect(_url().database or "", timeout=5)
    try:
        # Out of WAL mode first: it fails while anyone else has the database open.
        target.execute("PRAGMA journal_mode=DELETE")
        backup.backup(target)
    except sqlite3.OperationalError as exc:
        raise BackupError(f"the database is in use ({exc}): stop the app and every worker, then restore") from None
    finally:
        target.close()
        backup.close()


# --- PostgreSQL ------------------------------------------------------------------------------------------


def _libpq_environment(url: URL) -> dict:
    """The connection settings of DATABASE_URL as libpq's variables, the password among them."""
    env = dict(os.environ)
    parts = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGDATABASE": url.database}
    parts["PGPASSWORD"] = url.password
    env.update({name: str(value) for name, value in parts.items() if value is not None})
    for option, given in url.query.items():
        if option not in LIBPQ_OPTIONS:
            raise BackupError(f"DATABASE_URL option {option!r} cannot be passed on to pg_dump and pg_restore")
        env[LIBPQ_OPTIONS[option]] = given if isinstance(given, str) else given[-1]
    return env


def _program(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} is not installed: install PostgreSQL's client programs (Debian: postgresql-client)")
    return found


def _major(version_line: str) -> int:
    found = re.search(r"\)\s+(\d+)", version_line) or re.search(r"(\d+)", version_line)
    if not found:
        raise BackupError(f"cannot read the version of pg_dump from {version_line.strip()!r}")
    return int(found[1])


def _pg_backup(temp: Path) -> str | None:
    pg_dump = _program("pg_dump")
    _program("pg_restore")  # reads the revision back
    client = _major(subprocess.run([pg_dump, "--version"], capture_output=True, text=True, check=True).stdout)
    with db.engine.connect() as conn:
        server = int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    if client < server:
        raise BackupError(
            f"pg_dump {client} cannot back up a PostgreSQL {server} server: install postgresql-client-{server}"
        )
    with open(temp, "wb") as out:
        done = subprocess.run(
            [pg_dump, "--format=custom", "--no-password"],
            stdout=out,
            stderr=subprocess.PIPE,
            env=_libpq_environment(_url()),
        )
    if done.returncode:
        raise BackupError(f"pg_dump failed: {done.stderr.decode(errors='replace').strip()}")
    return _pg_backup_revision(temp)


def _pg_backup_revision(path: Path) -> str | None:
    with open(path, "rb") as handle:
        if handle.read(5) != PG_DUMP_HEADER:
            raise BackupError(f"{path} is not a PostgreSQL backup made by pg_dump -Fc (DATABASE_URL is PostgreSQL)")
    done = subprocess.run(
        [_program("pg_restore"), "--data-only", "--table=alembic_version", "--file=-", str(path)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise BackupError(f"pg_restore cannot read {path}: {done.stderr.strip()}")
    # COPY public.alembic_version (version_num) FROM stdin;\n<revision>\n\.
    found = re.search(r"^COPY \S*alembic_version .*FROM stdin;\n(\S+)\n", done.stdout, re.MULTILINE)
    return found[1] if found and found[1] != "\\." else None


def _pg_restore(path: Path) -> None:
    """Drop OneSlot's tables and replay the backup, all in one transaction of psql's."""
    pg_restore, psql = _program("pg_restore"), _program("psql")
    env = _libpq_environment(_url())
    quote = db.engine.dialect.identifier_preparer.quote
    ours = set(db.metadata.tables) | NOT_DATA
    drops = "".join(
        f"DROP TABLE IF EXISTS {quote(name)} CASCADE;\n"
        for name in inspect(db.engine).get_table_names()
        if name in ours
    )
    db.session.remove()
    db.engine.dispose()
    with tempfile.TemporaryFile() as restore_errors, tempfile.TemporaryFile() as psql_errors:
        script = subprocess.Popen(
            [pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--file=-", str(path)],
            stdout=subprocess.PIPE,
            stderr=restore_errors,
        )
        replay = subprocess.Popen(
            [psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1", "--file=-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_errors,
            env=env,
        )
        assert script.stdout is not None and replay.stdin is not None
        try:
            replay.stdin.write(f"BEGIN;\n{drops}".encode())
            shutil.copyfileobj(script.stdout, replay.stdin)
            # Only a whole script commits: psql rolls back what is open when its input ends without COMMIT.
            if script.wait() == 0:
                replay.stdin.write(b"COMMIT;\n")
            replay.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error (ON_ERROR_STOP): its message is read below
        script.wait()
        replay.wait()
        if script.returncode or replay.returncode:
            restore_errors.seek(0)
            psql_errors.seek(0)
            said = (restore_errors.read() + psql_errors.read()).decode(errors="replace").strip()
            raise BackupError(f"the restore failed and nothing was changed: {said}")


# --- the commands --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _reachable_database():
    """A database that cannot be reached (down, missing, wrong password) is one line, not a traceback."""
    try:
        yield
    except OperationalError as exc:
        raise BackupError(f"cannot use the database of DATABASE_URL: {str(exc.orig).strip()}") from None


def backup(path: str, force: bool) -> str:
    """Write the backup to `path`; returns the lines to print."""
    target = _target_path(path, force)
    postgres = _url().get_backend_name() == "postgresql"
    # Made owner-only (mkstemp's 0600) in the target's folder, so the rename below stays on one disk.
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(handle)
    temp = Path(name)
    try:
        revision = _pg_backup(temp) if postgres else _sqlite_backup(temp)
        if not revision:
            raise BackupError("the database has no schema revision (alembic_version): run `flask db upgrade` first")
        size = temp.stat().st_size
        _publish(temp, target, force)
    finally:
        temp.unlink(missing_ok=True)
    what = "pg_dump archive" if postgres else "SQLite database"
    return f"Backed up to {target}: {what}, {_human_size(size)}, schema revision {revision}.\n{_key_reminder()}"


def restore(path: str, force: bool) -> str:
    """Put the backup at `path` in place of the database, and upgrade it; returns the lines to print."""
    backup = Path(path)
    url = _url()
    postgres = url.get_backend_name() == "postgresql"
    if not postgres and url.database and backup.resolve() == Path(url.database).resolve():
        raise BackupError(f"{backup} is the database itself: give a backup made by `flask backup`")
    revision = _pg_backup_revision(backup) if postgres else _sqlite_backup_revision(backup)
    check_revision(revision)
    if _worker_running():
        raise BackupError(
            "a worker wrote its heartbeat less than a minute ago: stop the app and every worker, then restore"
            " (a worker that was killed stops counting after a minute)"
        )
    if has_data() and not force:
        raise BackupError(
            "this database holds data: restoring replaces all of it. Add --force if that is what you want"
            " (take a backup of it first)."
        )
    if postgres:
        _pg_restore(backup)
    else:
        _sqlite_restore(backup)
    head = head_revision()
    if revision != head:
        upgrade()
    # The backup's heartbeats are of processes of the old installation, not workers of this one.
    db.session.execute(delete(heartbeat.WorkerHeartbeat))
    db.session.commit()
    upgraded = f" and upgraded it to {head}" if revision != head else ""
    return (
        f"Restored {backup} (schema revision {revision}){upgraded}.\n"
        "Start the app and the worker with the same SECRET_KEY (or instance/secret_key) as when it was made."
    )


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@with_appcontext
def backup_command(path, force):
    """Write a consistent copy of the database to PATH, while OneSlot runs (SQLite file or pg_dump -Fc)."""
    with _reachable_database():
        click.echo(backup(path, force))


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--force", is_flag=True, help="Replace a database that holds data.")
@with_appcontext
def restore_command(path, force):
    """Replace the database with the backup at PATH (stop the app and every worker first), then upgrade it."""
    with _reachable_database():
        click.echo(restore(path, force))


def init_app(app) -> None:
    """Attach `flask backup` and `flask restore`."""
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
