"""Claiming due rows for a worker with a lease: shared by the mail outbox and the workflow engine.

PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers pass over each other's rows.
SQLite: the candidates are read, then taken by one conditional UPDATE … RETURNING (a row another worker
took in between no longer matches its WHERE).
A lease that ran out (its worker died) counts as no claim: `due` must say so.

Every lease lasts WORKER_LEASE_SECONDS (`lease_until`). Inside a worker's task source (`tracked()`), what
each claim wins is also recorded in this process, so the worker's heartbeat thread renews exactly those
rows by id (`renew_held`) while the worker lives, and a stop lets them go at once (`Held.release`): a
worker that dies leaves its claims to another within one lease, a long batch keeps its own.
"""

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Boolean, Table, and_, func, select, text, update
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.expression import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from webapp.extensions import db


class _Recheck(ColumnElement):
    """Conditions checked on rows already found by id, never used to find rows (see recheck())."""

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]

    def __init__(self, clause):
        self.clause = clause


@compiles(_Recheck)
def _compile_recheck(element, compiler, **kw):
    return compiler.process(element.clause, **kw)


@compiles(_Recheck, "sqlite")
def _compile_recheck_sqlite(element, compiler, **kw):
    # SQLite's unary "+" keeps the value and disqualifies the term from answering through an index.
    return f"+({compiler.process(element.clause, **kw)})"


def recheck(*conditions) -> ColumnElement:
    """`conditions` for the WHERE of a statement that names its rows by id (`id IN (…)`).

    Without it SQLite, which has no statistics, answers `id IN (…) AND status = 'active' AND run_at <= …`
    through the (status, run_at) index: it walks every due row to keep the few asked for, so each claim
    costs as much as the whole backlog, and a run of N enrolments costs N². Rechecked, the rows are
    looked up by id (PostgreSQL, which plans by statistics, does so anyway).
    """
    return _Recheck(and_(*conditions).self_group())


def lease_until(now: datetime) -> datetime:
    """When a claim made (or renewed) at `now` runs out."""
    return now + timedelta(seconds=current_app.config["WORKER_LEASE_SECONDS"])


def claim(model, due: Sequence, order_by: Sequence, limit: int, lease: Mapping) -> list[int]:
    """Take up to `limit` rows of `model` matching `due`, setting `lease`; commits, returns their ids."""
    query = select(model.id).where(*due).order_by(*order_by).limit(limit)
    if db.session.get_bind().dialect.name != "postgresql":
        candidates = list(db.session.scalars(query))
        db.session.commit()  # end the read, so each UPDATE in take() starts its own write
        return take(model, candidates, due, lease)
    ids = list(db.session.scalars(query.with_for_update(skip_locked=True)))
    if ids:
        db.session.execute(
            update(model).where(model.id.in_(ids)).values(**lease),
            execution_options={"synchronize_session": False},
        )
    db.session.commit()
    _remember(model, lease, ids)
    return ids


def take(model, ids: Iterable[int], due: Sequence, lease: Mapping) -> list[int]:
    """Claim those of `ids` still matching `due`; commits, returns the winners' ids in the order asked."""
    wanted = list(ids)
    won = set(_take(model, wanted, due, lease, model.id))
    return [row_id for row_id in wanted if row_id in won]


def take_rows(model, ids: Iterable[int], due: Sequence, lease: Mapping) -> list:
    """Claim those of `ids` still matching `due` and return them loaded (and not expired by the commit)."""
    return _take(model, ids, due, lease, model)


def _take(model, ids: Iterable[int], due: Sequence, lease: Mapping, returning) -> list:
    """One conditional UPDATE … RETURNING, whose WHERE each row must still meet when it is written. Commits."""
    wanted = list(ids)
    if not wanted:
        return []
    with kept_loaded():
        rows = list(
            db.session.scalars(
                update(model).where(model.id.in_(wanted), recheck(*due)).values(**lease).returning(returning),
                execution_options={"synchronize_session": False, "populate_existing": True},
            )
        )
        db.session.commit()
    _remember(model, lease, [row if returning is model.id else row.id for row in rows])
    return rows


def release(model, ids: Iterable[int], worker: str) -> None:
    """Let go of our claims on `ids` of `model` (a model or its Table); rows another worker holds, or
    nobody, are left as they are. Commits."""
    table: Table = getattr(model, "__table__", model)
    wanted = list(ids)
    if wanted:
        db.session.execute(
            update(table)
            .where(table.c.id.in_(wanted), recheck(table.c.locked_by == worker))
            .values(locked_until=None, locked_by=None)
        )
    db.session.commit()


# --- what this process holds ------------------------------------------------------------------------


@dataclass
class Held:
    """The claims one thread won inside tracked(): ids by (table, claimer), and until when the heartbeat
    last renewed each (committed), for code that checks a lease on a row it loaded before."""

    ids: dict[tuple[Table, str], set[int]] = field(default_factory=dict)
    renewed: dict[tuple[Table, int], datetime] = field(default_factory=dict)

    def release(self) -> None:
        """Let go of every row still claimed in our name (a stop, a source that failed); commits."""
        db.session.rollback()
        with _held_lock:
            work = [(key, sorted(ids)) for key, ids in self.ids.items()]
        for (table, worker), ids in work:
            release(table, ids, worker)


_held_lock = threading.Lock()
_held: dict[int, Held] = {}  # by thread ident: the threads inside tracked()


@contextmanager
def tracked() -> Iterator[Held]:
    """Record the claims this thread wins inside the block, for renew_held(); forgotten when it ends.

    The worker runs each task source inside one. Claims made elsewhere (a web request that refreshes a
    calendar) are short, and simply last their lease."""
    held = Held()
    ident = threading.get_ident()
    with _held_lock:
        _held[ident] = held
    try:
        yield held
    finally:
        with _held_lock:
            _held.pop(ident, None)


def _remember(model, lease: Mapping, ids: Iterable[int]) -> None:
    held = _held.get(threading.get_ident())
    worker = lease.get("locked_by")
    if held is None or not worker:
        return
    with _held_lock:
        held.ids.setdefault((model.__table__, worker), set()).update(ids)


def held_until(model, row_id: int, loaded: datetime | None) -> datetime | None:
    """Until when our claim on a row holds: the lease `loaded` with it, or a later one the heartbeat wrote."""
    held = _held.get(threading.get_ident())
    renewed = held.renewed.get((model.__table__, row_id)) if held is not None else None
    if loaded is None or renewed is None:
        return loaded or renewed
    return max(loaded, renewed)


def renew_held(now: datetime) -> int:
    """Extend the lease of every row this process's tracked threads still hold; commits, returns how many.

    One UPDATE by id per table and claimer (the primary key: no scan). A row released, finished or taken
    over since is no longer `locked_by` its claimer and is left alone. PostgreSQL skips rows that a
    worker's open transaction has locked: that transaction renewed them itself, and the heartbeat must
    never wait behind a step."""
    with _held_lock:
        work = [(held, key, sorted(ids)) for held in _held.values() for key, ids in held.ids.items() if ids]
    postgres = db.session.get_bind().dialect.name == "postgresql"
    until = lease_until(now)
    renewed: list[tuple[Held, Table, int]] = []
    for held, (table, worker), ids in work:
        mine: ColumnElement = and_(table.c.id.in_(ids), recheck(table.c.locked_by == worker))
        if postgres:
            rows = select(table.c.id).where(mine).with_for_update(skip_locked=True)
            mine = table.c.id.in_(rows.scalar_subquery())
        statement = update(table).where(mine).values(locked_until=until).returning(table.c.id)
        renewed.extend((held, table, row_id) for row_id in db.session.scalars(statement))
    db.session.commit()
    with _held_lock:
        for held, table, row_id in renewed:
            held.renewed[(table, row_id)] = until
    return len(renewed)


def relaxed_commit() -> None:
    """Call first in a worker's bookkeeping transaction: on PostgreSQL its COMMIT does not wait for the disk.

    A crash of the database server can then lose the last fraction of a second of such commits,
    which the worker simply does again; it can never lose what an email already sent refers to,
    because claiming a message to send (take/claim) commits synchronously, and that flushes every
    earlier commit too. SQLite runs with synchronous=NORMAL (webapp/extensions.py) to the same end.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL synchronous_commit TO off"))


@contextmanager
def kept_loaded() -> Iterator[None]:
    """Commits inside the block leave the session's loaded objects as they are, instead of expiring them
    (which would read each one again at its next use). For a worker's many small transactions over rows
    it holds a claim on; whatever decides what to do next it reads fresh (populate_existing)."""
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        yield
    finally:
        session.expire_on_commit = expire_on_commit


@dataclass(frozen=True)
class Backlog:
    """What a task source has waiting, by the same `due` conditions its claims use: how many rows are due
    and since when the oldest one is (/readyz and /metrics ask at request time).

    `due(now)` gives the conditions; `since` is the column that says from when a row is due, and the
    leading column after the equality ones of the index that answers `due`: the oldest is the first entry
    of that index range, and the depth a count of at most `cap` of its entries.
    """

    due: Callable[[datetime], Sequence]
    since: QueryableAttribute

    def oldest(self, now: datetime) -> datetime | None:
        """When the longest-waiting due row became due; None when nothing is due."""
        query = select(self.since).where(*self.due(now)).order_by(self.since).limit(1)
        return db.session.scalar(query)

    def depth(self, now: datetime, cap: int) -> int:
        """How many rows are due, counted up to `cap` (a bigger backlog reads `cap`)."""
        limited = select(self.since).where(*self.due(now)).limit(cap).subquery()
        return db.session.scalar(select(func.count()).select_from(limited)) or 0
