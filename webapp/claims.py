"""Claiming due rows for a worker with a lease: shared by the mail outbox and the workflow engine.

PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent workers pass over each other's rows.
SQLite: the candidates are read, then each is taken by a conditional UPDATE whose row count decides.
A lease that ran out (its worker died) counts as no claim: `due` must say so.
"""

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import select, update

from webapp.extensions import db


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
    return ids


def take(model, ids: Iterable[int], due: Sequence, lease: Mapping) -> list[int]:
    """Claim those of `ids` still matching `due`, one conditional UPDATE each; commits, returns the winners."""
    claimed = []
    for row_id in ids:
        result = db.session.execute(
            update(model).where(model.id == row_id, *due).values(**lease),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount == 1:
            claimed.append(row_id)
    db.session.commit()
    return claimed
