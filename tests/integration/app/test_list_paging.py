"""The admin lists read a page at a time (webapp/paging.py): links of a calendar and of a contact, a workflow's
and a contact's enrolments, sent mail, bookings. Each walks every row once both ways, keeps its filters,
shrugs off bad cursors and old ?page= addresses, and sends as many statements for 30 rows as for 3."""

import html
import re
import secrets
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests.conftest import statements_run
from webapp.booking import links
from webapp.booking.models import Booking
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.workflows import services as workflows
from webapp.workflows.models import Enrolment


class Lists:
    """Makes rows for each list and says where the list is and how a row shows in it."""

    def __init__(self, make_calendar, make_contact):
        self.make_contact = make_contact
        self.calendar = make_calendar(weekly={d: [(0, 1440)] for d in range(7)})
        self.contact = make_contact(first_name="Paged")
        self.workflow = workflows.create_workflow("Paged", "manual", {})
        self.workflow.steps = [
            {"id": "s-wait", "type": "wait", "key": "", "config": {"mode": "duration", "amount": 1, "unit": "days"}}
        ]
        db.session.commit()
        workflows.publish(self.workflow)
        self.made = 0

    def add(self, kind: str, n: int) -> None:
        """n more rows of one list; several share a time, so the id breaks ties."""
        self.attach()
        base = utcnow() - timedelta(hours=1)
        for _ in range(n):
            self.made += 1
            at = base + timedelta(minutes=self.made // 3)
            if kind in ("calendar_links", "contact_links"):
                contact = self.contact if kind == "contact_links" else self.make_contact()
                link = links.issue(self.calendar, contact)
                link.created_at = at
            elif kind in ("enrolments", "contact_enrolments"):
                contact = self.contact if kind == "contact_enrolments" else self.make_contact()
                status = "failed" if self.made % 3 == 0 else "active"
                db.session.add(
                    Enrolment(
                        workflow_id=self.workflow.id,
                        version_id=self.workflow.published_version_id,
                        contact_id=contact.id,
                        status=status,
                        started_at=at,
                    )
                )
            elif kind == "mail":
                status = "failed" if self.made % 3 == 0 else "sent"
                db.session.add(
                    OutboxMessage(
                        to_addr="ada@example.com",
                        subject=f"Message {self.made}",
                        message_id=f"<{secrets.token_hex(8)}@x>",
                        status=status,
                        created_at=at,
                    )
                )
            else:  # bookings: kind is the view
                future = kind == "upcoming"
                start = utcnow() + timedelta(days=1 if future else -1, minutes=(self.made // 3) * (1 if future else -1))
                cancelled = kind == "cancelled"
                db.session.add(
                    Booking(
                        calendar_id=self.calendar.id,
                        start_at=start,
                        end_at=start + timedelta(minutes=30),
                        name=f"Guest{self.made}",
                        email=f"guest{self.made}@example.com",
                        status="cancelled" if cancelled else "confirmed",
                        cancelled_at=at if cancelled else None,
                    )
                )
        db.session.commit()

    def attach(self) -> None:
        """Back in the session after a test emptied it."""
        self.calendar, self.contact, self.workflow = (
            db.session.merge(o) for o in (self.calendar, self.contact, self.workflow)
        )

    def url(self, kind: str) -> str:
        """The list's address."""
        self.attach()
        return {
            "calendar_links": f"/links/calendar/{self.calendar.id}",
            "contact_links": f"/contacts/{self.contact.id}",
            "enrolments": f"/workflows/{self.workflow.id}/enrolments",
            "contact_enrolments": f"/contacts/{self.contact.id}",
            "mail": "/mail/",
        }.get(kind) or f"/bookings/?view={kind}&calendar_id={self.calendar.id}"

    def expected(self, kind: str, status: str | None = None) -> list[str]:
        """The list's rows, in its order, as rows() reads them off a page."""
        if kind in ("calendar_links", "contact_links"):
            rows = db.session.query(links.OneTimeLink).all()
            rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            return [str(r.id) for r in rows]
        if kind in ("enrolments", "contact_enrolments"):
            rows = [e for e in db.session.query(Enrolment).all() if status in (None, e.status)]
            rows.sort(key=lambda r: (r.started_at, r.id), reverse=True)
            return [str(r.id) for r in rows]
        if kind == "mail":
            rows = [m for m in db.session.query(OutboxMessage).all() if status in (None, m.status)]
            rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            return [str(r.id) for r in rows]
        rows = db.session.query(Booking).all()
        if kind == "cancelled":
            rows.sort(key=lambda r: (r.cancelled_at, r.id), reverse=True)
        else:
            rows.sort(key=lambda r: (r.start_at, r.id), reverse=kind == "past")
        return [r.name for r in rows]


ROW = {
    "calendar_links": r'action="/links/(\d+)/revoke"',
    "contact_links": r'action="/links/(\d+)/revoke"',
    "enrolments": r'href="/enrolments/(\d+)"',
    "contact_enrolments": r'href="/enrolments/(\d+)"',
    "mail": r'href="/mail/(\d+)"',
    "upcoming": r"(Guest\d+)</a>|(Guest\d+)<br>",
    "past": r"(Guest\d+)</a>|(Guest\d+)<br>",
    "cancelled": r"(Guest\d+)</a>|(Guest\d+)<br>",
}
KINDS = list(ROW)


def rows(kind: str, text: str) -> list[str]:
    """The row keys a page shows, once each, in order."""
    found = []
    for match in re.finditer(ROW[kind], text):
        value = next(g for g in match.groups() if g)
        if value not in found:
            found.append(value)
    return found


def pager_link(text: str, rel: str, prefix: str = "") -> str | None:
    """The address of the page's next (or previous) page, as a browser without JavaScript follows it."""
    for match in re.finditer(r'<a href="([^"]+)"[^>]*rel="' + rel + '"', text):
        href = html.unescape(match[1])
        if f"{prefix}after=" in href or f"{prefix}before=" in href:
            return href
    return None


@pytest.fixture
def lists(app, make_calendar, make_contact):
    app.config["PAGE_SIZE"] = 4
    return Lists(make_calendar, make_contact)


def walk(login, kind: str, url: str) -> tuple[list[list[str]], list[list[str]]]:
    """Pages forwards from the first, then backwards from the last."""
    prefix = "enrolments_" if kind == "contact_enrolments" else ""
    forwards, page = [], login.get(url).text
    while True:
        forwards.append(rows(kind, page))
        href = pager_link(page, "next", prefix)
        if not href:
            break
        assert len(forwards) < 20
        page = login.get(href).text
    backwards = [rows(kind, page)]
    while href := pager_link(page, "prev", prefix):
        page = login.get(href).text
        backwards.append(rows(kind, page))
        assert len(backwards) < 20
    return forwards, list(reversed(backwards))


@pytest.mark.parametrize("kind", KINDS)
def test_each_list_walks_every_row_once_both_ways(login, lists, kind):
    lists.add(kind, 11)
    forwards, backwards = walk(login, kind, lists.url(kind))
    assert [len(p) for p in forwards] == [4, 4, 3]
    assert [r for p in forwards for r in p] == lists.expected(kind)
    assert backwards == forwards


@pytest.mark.parametrize(
    "kind, status, address", [("enrolments", "failed", "status=failed"), ("mail", "failed", "status=failed")]
)
def test_a_filtered_list_keeps_its_filter_on_every_page(login, lists, kind, status, address):
    lists.add(kind, 15)
    url = f"{lists.url(kind)}?{address}"
    forwards, backwards = walk(login, kind, url)
    assert [r for p in forwards for r in p] == lists.expected(kind, status)
    assert len(forwards) == 2 and backwards == forwards
    page = login.get(url).text
    assert address in pager_link(page, "next")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("query", ["after=nonsense", "before=%00%ff", "after=" + "x" * 700, "page=3", "page=-1"])
def test_bad_cursors_and_old_page_numbers_show_the_first_page(login, lists, kind, query):
    lists.add(kind, 6)
    url = lists.url(kind)
    response = login.get(f"{url}{'&' if '?' in url else '?'}{query}")
    assert response.status_code == 200
    assert rows(kind, response.text)[:4] == lists.expected(kind)[:4]


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_sends_as_many_statements_for_30_rows_as_for_3(app, login, lists, kind):
    app.config["PAGE_SIZE"] = 50
    lists.add(kind, 3)
    url = lists.url(kind)
    login.get(url)  # warm: the first request of a session may load what later ones reuse
    db.session.expunge_all()  # the test's objects would spare the page some reads, and not others
    with statements_run() as few:
        assert login.get(url).status_code == 200
    lists.add(kind, 27)
    db.session.expunge_all()
    with statements_run() as many:
        text = login.get(url).text
    assert len(rows(kind, text)) == 30
    assert len(many) == len(few), "\n".join(many)


def test_the_link_panels_pager_works_with_htmx_and_without(login, lists, hx):
    lists.add("contact_links", 6)
    page = login.get(lists.url("contact_links")).text
    older = re.search(r'<a href="([^"]+)" hx-get="([^"]+)" rel="next">', page)
    assert older and "#links-panel" in older[1] and "/links/contact/" in older[2]
    fragment = login.get(html.unescape(older[2]), headers=hx)
    assert "<html" not in fragment.text and rows("contact_links", fragment.text) == lists.expected("contact_links")[4:]
    plain = login.get(html.unescape(older[2]))
    assert plain.status_code == 303 and "after=" in plain.location


def plan(statement: str, parameters) -> list[str]:
    """The database's plan for one statement, one line per step (PostgreSQL: as if its tables were large)."""
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return [row[-1] for row in rows]
    # Tiny test tables make a sequential scan and a sort cheapest; price them out, so the plan shows
    # whether an index can serve the filter and the order at all.
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    connection.exec_driver_sql("SET LOCAL enable_sort = off")
    try:
        return [row[0] for row in connection.exec_driver_sql("EXPLAIN " + statement, parameters)]
    finally:
        connection.exec_driver_sql("RESET enable_seqscan")
        connection.exec_driver_sql("RESET enable_sort")


@pytest.mark.parametrize("kind", KINDS + ["enrolments?status=failed", "mail?status=failed", "all"])
def test_each_page_query_is_served_by_an_index_without_a_sort(login, lists, kind):
    kind, _, filters = kind.partition("?")
    lists.add("upcoming" if kind == "all" else kind, 15)
    url = lists.url(kind) if kind != "all" else "/bookings/?view=all"
    url += ("&" if "?" in url else "?") + filters if filters else ""
    prefix = "enrolments_" if kind == "contact_enrolments" else ""
    second = pager_link(login.get(url).text, "next", prefix)  # a page with a cursor: the query that must seek
    captured = []
    listener = lambda _c, _cur, statement, parameters, *_: captured.append((statement, parameters))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert login.get(second).status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    paged = [(s, p) for s, p in captured if "ORDER BY" in s and "LIMIT" in s]
    paged = [(s, p) for s, p in paged if re.search(r"WHERE .*[<>]=? ", s.split("ORDER BY")[0])]
    assert paged, "no keyset query seen"
    for statement, parameters in paged:
        steps = plan(statement, parameters)
        text = "\n".join(steps)
        # An incremental sort orders only the rows that tie on the index's keys (bookings of one start).
        full_sorts = [s for s in steps if "Sort" in s and not re.search(r"Incremental Sort|Sort Key|Presorted Key", s)]
        assert "TEMP B-TREE" not in text and not full_sorts, text
        assert not re.search(r"^SCAN \w+$|Seq Scan", text, re.M), text
