"""Keyset paging (webapp/paging.py): every row once, in order, both ways; a bad cursor starts the list again."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from webapp import paging
from webapp.contacts.models import Contact
from webapp.extensions import db

KEYS = paging.newest_first(Contact.created_at, Contact.id)


@pytest.fixture
def contacts(app, make_contact):
    """23 contacts; several share a creation time, so the id has to break the ties."""
    start = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    made = []
    for n in range(23):
        contact = make_contact()
        contact.created_at = start + timedelta(minutes=n // 4)
        made.append(contact)
    db.session.commit()
    return sorted(made, key=lambda c: (c.created_at, c.id), reverse=True)


def walk(direction: str, per_page: int) -> list[list[int]]:
    """The ids of every page, from the first page forwards (or from the last backwards)."""
    query = select(Contact)
    pages, cursor = [], None
    while True:
        page = paging.page_of(query, KEYS, **({direction: cursor} if cursor else {}), per_page=per_page)
        pages.append([c.id for c in page])
        cursor = page.older if direction == "after" else page.newer
        if cursor is None:
            return pages


def test_forward_pages_hold_every_row_once_in_order(contacts):
    pages = walk("after", 5)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for p in pages for i in p] == [c.id for c in contacts]


def test_backward_from_the_last_page_gives_the_same_pages(contacts):
    last = paging.page_of(select(Contact), KEYS, per_page=5)
    while last.older:
        last = paging.page_of(select(Contact), KEYS, after=last.older, per_page=5)
    back = [[c.id for c in last]]
    page = last
    while page.newer:
        page = paging.page_of(select(Contact), KEYS, before=page.newer, per_page=5)
        back.append([c.id for c in page])
    assert list(reversed(back)) == walk("after", 5)
    assert page.is_first


@pytest.mark.parametrize(
    "cursor",
    ["nonsense", "W10", paging.encode(["2027-03-01", 1]), paging.encode([1, 2]), paging.encode([True, 1]), "x" * 700],
)
def test_a_cursor_the_list_did_not_make_shows_the_first_page(contacts, cursor):
    page = paging.page_of(select(Contact), KEYS, after=cursor, per_page=5)
    assert [c.id for c in page] == [c.id for c in contacts[:5]]
    assert page.is_first


def test_a_bad_before_cursor_shows_the_first_page_too(contacts):
    page = paging.page_of(select(Contact), KEYS, before="nonsense", per_page=5)
    assert [c.id for c in page] == [c.id for c in contacts[:5]]
    assert page.is_first and page.older


def test_a_cursor_past_the_end_starts_the_list_again(contacts):
    past = paging.encode([datetime(2000, 1, 1, tzinfo=UTC), 1])
    page = paging.page_of(select(Contact), KEYS, after=past, per_page=5)
    assert [c.id for c in page] == [c.id for c in contacts[:5]]


def test_the_list_page_reads_after_from_the_address(client, login, contacts):
    first = client.get("/contacts/")
    assert first.status_code == 200
    assert client.get("/contacts/?after=%00%ff&before=../").status_code == 200


def test_count_upto_stops_at_the_cap(contacts):
    assert str(paging.count_upto(select(Contact.id), cap=10)) == "10+"
    exact = paging.count_upto(select(Contact.id), cap=100)
    assert (int(exact), exact.capped, str(exact)) == (23, False, "23")
    assert not paging.count_upto(select(Contact.id).where(Contact.id < 0))
