"""Lists read one page at a time, in a stable order, at a cost that does not grow with the table.

Keyset paging: a page is "the next `per_page` rows after this one" in an order whose last key is
unique (the id). The address carries an opaque cursor (`?after=…` or `?before=…`) holding the sort
keys of the row at the page's edge, so page 2,000 costs what page 1 costs, and a row added while
someone reads does not shift the rows they see. The orders used are served by an index.

Counts shown beside a list are counted up to a cap (`count_upto`): "1,000+" costs what 1,000 costs.
"""

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql import ColumnElement

from webapp.extensions import db

# Longer cursors are not ours: refused before decoding.
MAX_CURSOR = 600
COUNT_CAP = 1000


@dataclass(frozen=True)
class Key:
    """One sort key of a list: a NOT NULL mapped column and its direction. The last key is unique (the id)."""

    expr: QueryableAttribute
    descending: bool = False

    def after(self, value) -> ColumnElement:
        """Rows past `value` in this key's direction."""
        return self.expr < value if self.descending else self.expr > value

    def ordered(self, reverse: bool = False) -> ColumnElement:
        """ORDER BY for this key, turned around for a page read backwards."""
        return self.expr.asc() if self.descending == reverse else self.expr.desc()


def newest_first(*exprs: QueryableAttribute) -> list[Key]:
    """Keys for a newest-first list, e.g. newest_first(Model.created_at, Model.id)."""
    return [Key(expr, descending=True) for expr in exprs]


def oldest_first(*exprs: QueryableAttribute) -> list[Key]:
    """Keys for an ascending list, e.g. oldest_first(Booking.start_at, Booking.id)."""
    return [Key(expr) for expr in exprs]


@dataclass
class Page:
    """One page of rows, and the cursors of the pages either side (None at either end)."""

    items: list
    newer: str | None = None  # the cursor for ?before=: the previous page
    older: str | None = None  # the cursor for ?after=: the next page

    @property
    def is_first(self) -> bool:
        """True on the first page of the list."""
        return self.newer is None

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def _dump(value):
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _load(value):
    if isinstance(value, dict) and isinstance(value.get("t"), str):
        return datetime.fromisoformat(value["t"])
    return value


def encode(values: Sequence) -> str:
    """The cursor for a row's sort keys."""
    raw = json.dumps([_dump(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, keys: Sequence[Key]) -> list | None:
    """The sort keys a cursor holds, or None for no cursor or one this list did not make."""
    if not cursor or len(cursor) > MAX_CURSOR:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = [_load(v) for v in values]
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(keys):
        return None
    for key, value in zip(keys, values, strict=True):
        expected = getattr(key.expr.type, "impl_instance", key.expr.type).python_type  # TypeDecorators: their impl's
        if isinstance(value, bool) or not isinstance(value, expected):
            return None  # the keys are NOT NULL columns: a cursor never holds None
    return values


def _past(keys: Sequence[Key], values: Sequence, reverse: bool) -> ColumnElement:
    """Rows after the cursor's row in the list's order (before it when reverse)."""
    flipped = [Key(key.expr, not key.descending) if reverse else key for key in keys]
    clauses = []
    for index, key in enumerate(flipped):
        equal = [k.expr == v for k, v in zip(keys[:index], values[:index], strict=True)]
        clauses.append(and_(*equal, key.after(values[index])))
    # The first key's bound repeated on its own: the OR above is no index range, this is, so the index
    # scan starts at the cursor instead of reading (and filtering) every row before it.
    first = flipped[0]
    bound = first.expr <= values[0] if first.descending else first.expr >= values[0]
    return and_(bound, or_(*clauses)) if len(keys) > 1 else clauses[0]


def page_of(
    query: Select, keys: Sequence[Key], *, after=None, before=None, per_page: int = 50, restart: bool = True
) -> Page:
    """One page of `query` in the order of `keys`: the first, the one after `after` or before `before`.
    restart=False (the API): a cursor past the end gives an empty page, so a client's loop ends."""
    reverse = before is not None and after is None
    cursor = decode(before if reverse else after, keys)
    reverse = reverse and cursor is not None  # a bad ?before= shows the first page, not the last
    paged = query
    if cursor is not None:
        paged = paged.where(_past(keys, cursor, reverse))
    paged = paged.order_by(*(key.ordered(reverse) for key in keys)).limit(per_page + 1)
    rows = list(db.session.scalars(paged).unique())
    more = len(rows) > per_page
    rows = rows[:per_page]
    if reverse:
        rows.reverse()
    if not rows:
        # Past the end, or the edge row's keys changed: the list starts again rather than shows nothing.
        return page_of(query, keys, per_page=per_page) if cursor is not None and restart else Page([])
    page = Page(rows)
    edge = _key_values(keys, rows[0]), _key_values(keys, rows[-1])
    if reverse:
        page.newer = encode(edge[0]) if more else None
        page.older = encode(edge[1])
    else:
        page.newer = encode(edge[0]) if cursor is not None else None
        page.older = encode(edge[1]) if more else None
    return page


def _key_values(keys: Sequence[Key], row) -> list:
    """A row's sort keys, read off the row's attributes (each key names a mapped column or a label)."""
    return [getattr(row, key.expr.key) for key in keys]


def from_args(query: Select, keys: Sequence[Key], args: Mapping, per_page: int, prefix: str = "") -> Page:
    """The page a request's ?after= / ?before= asks for (?<prefix>after= for a second list on one page)."""
    after, before = args.get(f"{prefix}after"), args.get(f"{prefix}before")
    return page_of(query, keys, after=after, before=before, per_page=per_page)


@dataclass(frozen=True)
class Count:
    """A number of rows counted up to a cap: shown as "1,000+" past it."""

    value: int
    capped: bool = False

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else f"{self.value:,}"

    def __int__(self) -> int:
        return self.value

    def __eq__(self, other) -> bool:
        # Equal to a plain number when it is exact, so code and templates can compare it with one.
        if isinstance(other, Count):
            return (self.value, self.capped) == (other.value, other.capped)
        if isinstance(other, int) and not isinstance(other, bool):
            return not self.capped and self.value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.value, self.capped))

    def __bool__(self) -> bool:
        return self.value > 0


def count_upto(query: Select, cap: int = COUNT_CAP) -> Count:
    """How many rows `query` has, reading at most cap + 1 of them."""
    limited = query.order_by(None).limit(cap + 1).subquery()
    value = db.session.scalar(select(func.count()).select_from(limited)) or 0
    return Count(min(value, cap), capped=value > cap)
