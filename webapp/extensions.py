"""Flask extensions, created unbound and initialised in create_app()."""

import sqlite3

from flask_babel import Babel
from flask_htmx import HTMX
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session as FlaskSession
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


# Primary keys are INTEGER columns: 32-bit signed on PostgreSQL (one limit for SQLite too).
MAX_ID = 2**31 - 1


class Session(FlaskSession):
    """Flask-SQLAlchemy's session, where get() by a key no INTEGER column can hold finds nothing.

    Ids come from URLs, forms, imported documents and metadata; a number past the column's range
    names no row, and asking the database would overflow its driver (a 500) instead of saying so.
    """

    def get(self, entity, ident, **kwargs):
        if isinstance(ident, int) and not isinstance(ident, bool) and not -MAX_ID - 1 <= ident <= MAX_ID:
            return None
        return super().get(entity, ident, **kwargs)


db = SQLAlchemy(model_class=Base, session_options={"class_": Session})
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
csrf = CSRFProtect()
htmx = HTMX()
mail = Mail()
# Invitee pages and mail in their language; the locale selector and the filters are in webapp/i18n.py.
babel = Babel()
# Limits sit on the public endpoints; RATELIMIT_STORAGE_URI / RATELIMIT_ENABLED come from the config.
limiter = Limiter(key_func=get_remote_address)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: enforce foreign keys, let readers run beside a writer, wait for locks instead of failing.

    synchronous=NORMAL is the setting SQLite recommends with WAL: a commit no longer waits for the disk
    (fsync happens at checkpoints), the database stays consistent through any crash, and only a power
    loss can undo the last transactions. A workflow run commits several times per contact; with FULL
    each commit costs an fsync (2–3 ms on these machines).
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
