"""Keyset cursors (webapp/paging.py: encode, decode), without an app: a cursor round-trips its row's sort
keys, and anything this list did not make reads as no cursor."""

import base64
import json
from datetime import UTC, datetime

import pytest

from webapp import paging
from webapp.contacts.models import Contact

KEYS = paging.newest_first(Contact.created_at, Contact.id)
AT = datetime(2027, 2, 1, 8, 20, 5, 123456, tzinfo=UTC)


def raw(values) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_a_cursor_round_trips_its_values_and_is_url_safe():
    cursor = paging.encode([AT, 42])
    assert paging.decode(cursor, KEYS) == [AT, 42]
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor


@pytest.mark.parametrize(
    "cursor",
    [
        None,
        "",
        "not base64 at all!",
        raw([42]),  # one value for two keys
        raw([{"t": AT.isoformat()}, "42"]),  # a string where the id is
        raw([{"t": AT.isoformat()}, True]),  # a bool is not an id
        raw([{"t": AT.isoformat()}, None]),  # the keys are NOT NULL
        raw([AT.isoformat(), 42]),  # a time that is not marked as one
        raw({"t": 1}),
        "A" * (paging.MAX_CURSOR + 1),
    ],
)
def test_a_cursor_this_list_did_not_make_is_no_cursor(cursor):
    assert paging.decode(cursor, KEYS) is None


def test_the_direction_of_each_key():
    newest, oldest = paging.newest_first(Contact.id)[0], paging.oldest_first(Contact.id)[0]
    assert newest.descending and not oldest.descending
    assert str(newest.after(5).compile()).startswith("contacts.id <")
    assert str(oldest.after(5).compile()).startswith("contacts.id >")
    assert str(newest.ordered()).endswith("DESC") and str(newest.ordered(reverse=True)).endswith("ASC")
