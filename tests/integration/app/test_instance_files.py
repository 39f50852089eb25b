"""instance/ is its owner's alone: the directory 0700, the SQLite database, its -wal and -shm files and the
secret key readable by the owner only, whatever the umask, and tightened on an install made before."""

import os
import stat
from contextlib import contextmanager

from sqlalchemy import text

from tests.conftest import make_app
from webapp.extensions import db


@contextmanager
def umask(mask):
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def start_default_install(instance):
    """The app as `make run` starts it: no SECRET_KEY, no DATABASE_URL, so both live in instance/."""
    app = make_app(instance.parent, ENV_VARS={"SECRET_KEY": "", "DATABASE_URL": ""}, INSTANCE_PATH=str(instance))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance / 'oneslot.db'}"
    return app


def test_a_new_instance_is_readable_by_its_owner_only(tmp_path):
    instance = tmp_path / "instance"
    with umask(0o022):  # the usual umask, which makes files 0644
        app = start_default_install(instance)
        with app.app_context():
            db.create_all()
            with db.engine.begin() as connection:  # a write in WAL mode: -wal and -shm exist while it is open
                connection.execute(
                    text("INSERT INTO users (email, password_hash, created_at) VALUES ('a', 'b', '2026-01-01')")
                )
                names = sorted(path.name for path in instance.iterdir())
                modes = {path.name: mode(path) for path in instance.iterdir()}
            db.engine.dispose()
    assert names == ["oneslot.db", "oneslot.db-shm", "oneslot.db-wal", "secret_key"]
    assert mode(instance) == 0o700
    assert modes == dict.fromkeys(names, 0o600)


def test_an_older_install_is_tightened_at_start(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    for name in ("oneslot.db", "oneslot.db-wal", "secret_key"):
        (instance / name).write_bytes(b"" if name != "secret_key" else b"0123456789abcdef0123456789abcdef")
        (instance / name).chmod(0o644)
    start_default_install(instance)
    assert mode(instance) == 0o700
    assert {path.name: mode(path) for path in instance.iterdir()} == {
        "oneslot.db": 0o600,
        "oneslot.db-wal": 0o600,
        "secret_key": 0o600,
    }
