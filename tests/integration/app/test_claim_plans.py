"""The worker's statements that name their rows by id find them by id, whatever else they check:
otherwise each claim walks the whole backlog through the due index, and a run of N costs N²."""

import os

import pytest
from sqlalchemy import event, update
from sqlalchemy.dialects import postgresql, sqlite

from tests.conftest import statements_run
from tests.factories import ALL_WEEK, send_link_workflow, tag
from webapp import claims
from webapp.extensions import db
from webapp.worker import drain
from webapp.workflows.actions import generate_link
from webapp.workflows.models import Enrolment


def test_recheck_is_plain_sql_on_postgresql_and_unindexed_on_sqlite():
    statement = update(Enrolment).where(Enrolment.id.in_([1, 2]), claims.recheck(Enrolment.status == "active"))
    assert "+((enrolments.status = ?))" in str(statement.compile(dialect=sqlite.dialect()))
    assert "AND (enrolments.status = %(status_1)s)" in str(statement.compile(dialect=postgresql.dialect()))


def test_two_rechecks_of_one_shape_are_not_confused_by_the_statement_cache(app):
    """recheck() takes part in SQLAlchemy's cache key: another condition is another statement."""
    with statements_run() as sent:
        for condition in (Enrolment.status == "active", Enrolment.locked_by == "x"):
            db.session.execute(
                update(Enrolment).where(Enrolment.id.in_([1]), claims.recheck(condition)).values(attempts=0)
            )
    db.session.rollback()
    assert "enrolments.status" in sent[0] and "enrolments.locked_by" in sent[1], sent


@pytest.mark.skipif(
    "postgresql" in os.environ.get("TEST_DATABASE_URL", ""),
    reason="SQLite's plans (PostgreSQL's follow its statistics)",
)
def test_claims_and_lease_renewals_find_their_rows_by_primary_key(app, smtp_server, make_calendar, make_contact):
    smtp_server.configure(app)
    send_link_workflow(make_calendar(weekly=ALL_WEEK))
    for i in range(5):
        tag(make_contact(first_name=f"C{i}", email=f"c{i}@example.com"))
    captured = []

    def capture(_conn, _cursor, statement, parameters, _context, executemany):
        if not executemany and statement.startswith("UPDATE") and ".id IN (?" in statement:
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        drain(app)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    tables = {statement.split()[1] for statement, _ in captured}
    assert {"enrolments", "outbox_messages"} <= tables, tables
    connection = db.session.connection()
    for statement, parameters in captured:
        plan = [row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        table = statement.split()[1]
        assert f"SEARCH {table} USING INTEGER PRIMARY KEY (rowid=?)" in plan, (statement, plan)
        assert not any(line.startswith(f"SEARCH {table} USING INDEX") for line in plan), (statement, plan)


@pytest.mark.skipif("postgresql" in os.environ.get("TEST_DATABASE_URL", ""), reason="SQLite's plans")
def test_a_contacts_active_link_on_a_calendar_is_found_by_both_not_through_the_calendars_links(app):
    """Generate One-Time Booking Link's first question; through the calendar's index alone it read every
    link of the calendar for each new one (60 ms at 32,000 links), so issuing N links cost N²."""
    statement = generate_link._LATEST_ACTIVE.compile(db.engine)
    parameters = {"contact_id": 1, "calendar_id": 1, "now": "2027-01-01 00:00:00", "param_1": 1, "param_2": 0}
    sql = str(statement)
    plan = [
        row[-1]
        for row in db.session.connection().exec_driver_sql(
            f"EXPLAIN QUERY PLAN {sql}", tuple(parameters.get(name, 0) for name in statement.positiontup)
        )
    ]
    assert plan == ["SEARCH one_time_links USING INDEX ix_one_time_links_replaced (contact_id=? AND calendar_id=?)"]
