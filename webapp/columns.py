"""Column types shared by the models."""

from datetime import UTC

from sqlalchemy import DateTime, Index, text
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        # SQLite stores text: keep it naive UTC so comparisons sort correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def unpruned_index(name: str, *columns: str) -> Index:
    """A partial index of the rows retention has not pruned yet (webapp/retention.py): the pruned history
    stays out of it, and "pruned_at IS NULL" in a query's WHERE lets PostgreSQL read it in order."""
    where = text("pruned_at IS NULL")
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)
