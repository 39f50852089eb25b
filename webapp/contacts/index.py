"""Keeps every contact's search terms and sort key current, whatever path writes the contact.

One choke point, so no write path can forget it: session events see each contact the unit of work
inserts or whose name or email changes (the forms, the API, the webhook trigger, the demo, the
importer's updates, a test's `Contact(...)`), set its `sort_name` before the flush and rewrite its
`contact_terms` rows after it, in the same transaction. A bulk INSERT or UPDATE statement bypasses
the unit of work, so it must go through `insert_contacts` (the importer's path); any other bulk
statement that writes names or emails is refused by `_guard_bulk_writes` rather than left unsearchable.
"""

from collections.abc import Iterable, Mapping

from sqlalchemy import Connection, delete, event, insert, inspect
from sqlalchemy.orm import InstanceState, Session, scoped_session
from sqlalchemy.sql import Insert, Update

from webapp.contacts.models import Contact, contact_terms
from webapp.contacts.terms import contact_terms as terms_of
from webapp.contacts.terms import sort_key

SOURCE_FIELDS = ("first_name", "last_name", "email")
INDEXED = "contact_index"  # the execution option insert_contacts sets on its statement
PENDING = "contacts_to_index"
CHUNK = 500


def write_terms(connection: Connection, contacts: Iterable[tuple[int, str, str, str]], replace: bool = True) -> None:
    """Store the terms of (id, first_name, last_name, email) rows, replacing what they had when `replace`."""
    contacts = list(contacts)
    for start in range(0, len(contacts), CHUNK):
        chunk = contacts[start : start + CHUNK]
        if replace:
            connection.execute(delete(contact_terms).where(contact_terms.c.contact_id.in_([c[0] for c in chunk])))
        rows = [
            {"contact_id": contact_id, "term": term}
            for contact_id, first, last, email in chunk
            for term in sorted(terms_of(first, last, email))
        ]
        if rows:
            connection.execute(insert(contact_terms), rows)


def insert_contacts(session: Session | scoped_session, rows: list[Mapping]) -> list[Contact]:
    """Bulk-insert contacts (one INSERT … RETURNING) with their sort keys and search terms; does NOT commit."""
    values = [{**row, "sort_name": sort_key(row["first_name"], row["last_name"], row["email"])} for row in rows]
    statement = insert(Contact).returning(Contact).execution_options(**{INDEXED: True})
    contacts = list(session.scalars(statement, values))
    write_terms(session.connection(), ((c.id, c.first_name, c.last_name, c.email) for c in contacts), replace=False)
    return contacts


def _changed(contact: Contact) -> bool:
    state: InstanceState = inspect(contact)
    return state.pending or any(state.attrs[name].history.has_changes() for name in SOURCE_FIELDS)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    """Give each new or renamed contact its sort key, and remember it for its terms."""
    pending = session.info.setdefault(PENDING, {})
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Contact) and _changed(obj):
            obj.sort_name = sort_key(obj.first_name or "", obj.last_name or "", obj.email or "")
            pending[id(obj)] = obj


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    """Rewrite the terms of the contacts the flush wrote (their ids are known now)."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    written = [c for c in pending.values() if c.id is not None and not inspect(c).deleted]
    rows = ((c.id, c.first_name or "", c.last_name or "", c.email or "") for c in written)
    write_terms(session.connection(), rows)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    """A rolled-back flush leaves nothing to index."""
    session.info.pop(PENDING, None)


@event.listens_for(Session, "do_orm_execute")
def _guard_bulk_writes(state) -> None:
    """Refuse a bulk INSERT/UPDATE of contact names or emails that would skip the search terms."""
    statement = state.statement
    if not isinstance(statement, Insert | Update) or state.execution_options.get(INDEXED):
        return
    if getattr(statement.table, "name", None) != Contact.__tablename__:
        return
    columns = {getattr(column, "key", str(column)) for column in (statement._values or {})}
    params = state.parameters
    for row in params if isinstance(params, list) else [params or {}]:
        columns.update(row)
    if isinstance(statement, Insert) or columns & {*SOURCE_FIELDS, "email_key"}:
        raise RuntimeError("Write contacts through the ORM or index.insert_contacts, so search finds them.")
