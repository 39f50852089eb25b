"""`flask db upgrade` builds exactly the schema the models describe."""

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import make_app
from tests.helpers import empty_database_upgraded_to
from webapp.extensions import db


def test_migrations_match_the_models(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
        assert diff == [], diff
        downgrade(revision="base")
        with db.engine.connect() as conn:
            tables = set(db.inspect(conn).get_table_names()) - {"alembic_version"}
        assert tables == set()


def test_upgrade_keeps_existing_bookings_and_gives_them_manage_links(tmp_path):
    from sqlalchemy import text

    from webapp.booking import services

    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to("08b0702e6c9a")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO calendars (id, name, slug, description, location, timezone, duration, buffer_before,"
                    " buffer_after, min_notice, window_days, seats, confirmation_message, is_active, created_at,"
                    " updated_at) VALUES (1, 'Old', 'old', '', '', 'UTC', 30, 0, 0, 0, 60, 1, '', true,"
                    " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO bookings (id, calendar_id, start_at, end_at, name, email, timezone, notes, status,"
                    " created_at) VALUES (1, 1, '2026-02-01 10:00:00', '2026-02-01 10:30:00', 'A', 'a@x.io', 'UTC',"
                    " '', 'confirmed', '2026-01-01 00:00:00')"
                )
            )
        upgrade()
        from webapp.booking.models import Booking
        from webapp.calendars.models import Calendar

        booking = db.session.get(Booking, 1)
        assert booking.manage_salt and booking.cancel_reason == ""
        token = services.manage_url(booking).rsplit("/", 1)[1]
        assert services.find_by_manage_token(token).id == 1
        assert db.session.get(Calendar, 1).booking_seq == 0
        db.session.remove()
        downgrade(revision="base")


def test_upgrade_keeps_only_the_markers_a_stored_message_legitimately_had(tmp_path):
    """Old mail held ⟦book:N⟧ / ⟦manage:N⟧; after the upgrade a message resolves only its recipient's link
    and its own booking's manage link, and every other marker is the text it was."""
    from sqlalchemy import text

    from webapp.mail.models import OutboxMessage

    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to("e7a3c5d1f9b2")
        now = "'2026-01-01 00:00:00'"
        with db.engine.begin() as conn:
            for sql in (
                "INSERT INTO calendars (id, name, slug, description, location, timezone, duration, buffer_before,"
                " buffer_after, min_notice, window_days, seats, confirmation_message, is_active, created_at,"
                f" updated_at, booking_seq) VALUES (1, 'C', 'c', '', '', 'UTC', 30, 0, 0, 0, 60, 1, '', true, {now},"
                f" {now}, 0)",
                "INSERT INTO contacts (id, first_name, last_name, email, email_key, phone, created_at, updated_at)"
                f" VALUES (1, 'Ada', '', 'ada@example.com', 'ada@example.com', '', {now}, {now})",
                "INSERT INTO one_time_links (id, calendar_id, contact_id, salt, token_digest, source, metadata,"
                f" created_by, created_at) VALUES (1, 1, 1, 's1', 'd1', 'admin', '{{}}', 'system', {now}),"
                f" (2, 1, NULL, 's2', 'd2', 'admin', '{{}}', 'system', {now})",
                "INSERT INTO bookings (id, calendar_id, start_at, end_at, name, email, timezone, notes, status,"
                " cancel_reason, cancelled_by, manage_salt, manage_digest, created_at) VALUES (1, 1,"
                f" '2026-02-01 10:00:00', '2026-02-01 10:30:00', 'Ada', 'ada@example.com', 'UTC', '', 'confirmed',"
                f" '', '', 'm1', 'md1', {now})",
            ):
                conn.execute(text(sql))
            for message_id, to, body, booking_id in (
                (1, "Ada <ada@example.com>", "Yours: ⟦book:1⟧ Not yours: ⟦book:2⟧ ⟦manage:1⟧", None),
                (2, "eve@example.com", "Typed by Eve: ⟦book:1⟧", None),
                (3, "Ada <ada@example.com>", "Manage: ⟦manage:1⟧", 1),  # Ada's own booking's mail
                (4, "mallory@example.com", "Hello ⟦manage:1⟧", 1),  # about Ada's booking, to someone else
            ):
                conn.execute(
                    text(
                        "INSERT INTO outbox_messages (id, kind, from_name, to_addr, subject, text_body, html_body,"
                        " attachments, status, attempts, next_attempt_at, last_error, created_at, message_id,"
                        f" booking_id) VALUES (:id, 'workflow', '', :to, 'S', :body, :body, '[]', 'pending', 0, {now},"
                        f" '', {now}, :mid, :booking)"
                    ),
                    {"id": message_id, "to": to, "body": body, "mid": f"<{message_id}@x>", "booking": booking_id},
                )
        upgrade()
        ada, eve = db.session.get(OutboxMessage, 1), db.session.get(OutboxMessage, 2)
        assert ada.secret_links == [["book", 1]] and eve.secret_links == [] and eve.link_nonce == ""
        assert f"Yours: ⟦book:1:{ada.link_nonce}⟧ Not yours: ⟦book:2⟧ ⟦manage:1⟧" == ada.text_body == ada.html_body
        assert eve.text_body == "Typed by Eve: ⟦book:1⟧"
        own, other = db.session.get(OutboxMessage, 3), db.session.get(OutboxMessage, 4)
        assert own.secret_links == [["manage", 1]] and own.text_body == f"Manage: ⟦manage:1:{own.link_nonce}⟧"
        assert other.secret_links == [] and other.text_body == "Hello ⟦manage:1⟧"
        forged = f" ⟦book:2:{'0' * 32}⟧"  # typed after the upgrade: never becomes an old-style marker again
        ada.text_body += forged
        db.session.commit()
        # Ids are never given again after a delete (SQLite AUTOINCREMENT).
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":  # the rows above were inserted with their ids
                conn.execute(text("SELECT setval(pg_get_serial_sequence('one_time_links', 'id'), 2)"))
            conn.execute(text("DELETE FROM one_time_links WHERE id = 2"))
            conn.execute(
                text(
                    "INSERT INTO one_time_links (calendar_id, salt, token_digest, source, metadata, created_by,"
                    f" created_at) VALUES (1, 's3', 'd3', 'admin', '{{}}', 'system', {now})"
                )
            )
            assert conn.execute(text("SELECT max(id) FROM one_time_links")).scalar() == 3
        db.session.remove()
        downgrade(revision="e7a3c5d1f9b2")
        with db.engine.connect() as conn:
            body = conn.execute(text("SELECT text_body FROM outbox_messages WHERE id = 1")).scalar()
        assert body == "Yours: ⟦book:1⟧ Not yours: ⟦book:2⟧ ⟦manage:1⟧" + forged
        downgrade(revision="base")


def test_upgrade_keeps_webhook_secrets_working_but_never_in_clear(tmp_path):
    """Inbound secrets become digests (the URLs handed out keep working); outgoing signing secrets, in
    drafts, published versions and if/else branches, are sealed; downgrading opens them again."""
    import json

    from sqlalchemy import text

    from webapp.workflows import services
    from webapp.workflows.actions import webhook
    from webapp.workflows.models import Workflow, WorkflowVersion

    hook = {
        "id": "h",
        "type": "webhook",
        "key": "",
        "config": {"url": "https://x.test/", "body": "{}", "secret": "a1" * 32},
    }
    nested = {"id": "i", "type": "if_else", "key": "", "config": {}, "branches": {"yes": [], "no": [hook]}}
    steps = json.dumps([hook, nested])
    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to("e7a3c5d1f9b2")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO workflows (id, name, status, trigger_type, trigger_config, steps, allow_reentry,"
                    " sender_name, webhook_secret, created_at, updated_at) VALUES (1, 'Old', 'draft', 'webhook',"
                    " '{}', :steps, false, '', 'inbound-secret-0123456789abcdef', '2026-01-01 00:00:00',"
                    " '2026-01-01 00:00:00')"
                ),
                {"steps": steps},
            )
            conn.execute(
                text(
                    "INSERT INTO workflow_versions (id, workflow_id, number, trigger_type, trigger_config, steps,"
                    " settings, created_at, created_by) VALUES (1, 1, 1, 'webhook', '{}', :steps, '{}',"
                    " '2026-01-01 00:00:00', 'system')"
                ),
                {"steps": steps},
            )
        upgrade()
        with db.engine.connect() as conn:
            stored = repr(conn.execute(text("SELECT * FROM workflows")).all())
            stored += repr(conn.execute(text("SELECT * FROM workflow_versions")).all())
        assert "a1" * 32 not in stored and "inbound-secret-0123456789abcdef" not in stored
        workflow = db.session.get(Workflow, 1)
        assert services.webhook_secret_matches(workflow, "inbound-secret-0123456789abcdef")
        for owner in (workflow, db.session.get(WorkflowVersion, 1)):
            top, inner = owner.steps[0], owner.steps[1]["branches"]["no"][0]
            assert webhook.reveal(top["config"]) == webhook.reveal(inner["config"]) == "a1" * 32
        db.session.remove()

        downgrade(revision="e7a3c5d1f9b2")
        with db.engine.connect() as conn:
            [(secret, draft)] = conn.execute(text("SELECT webhook_secret, steps FROM workflows")).all()
            [(version,)] = conn.execute(text("SELECT steps FROM workflow_versions")).all()
        for held in (draft, version):
            held = json.loads(held) if isinstance(held, str) else held
            assert held[0]["config"]["secret"] == held[1]["branches"]["no"][0]["config"]["secret"] == "a1" * 32
        assert secret and secret != "inbound-secret-0123456789abcdef"  # a digest cannot be undone: a new URL
        downgrade(revision="base")


def test_upgrade_moves_the_app_keys_of_workflow_links_into_columns_and_counts_them(tmp_path):
    """Workflow links' metadata becomes workflow_id / enrolment_id / step_id / test_run (only real ids, only on
    source 'workflow'); link_counts equals a recount, and keeps a deleted workflow's history."""
    import json

    from sqlalchemy import select, text

    from webapp.booking import counts
    from webapp.booking.models import LinkCount, OneTimeLink
    from webapp.workflows.models import Workflow

    now, day = "'2026-01-05 10:30:00'", "'2026-01-04 09:00:00'"
    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to("a1c2e3f4b5d6")
        with db.engine.begin() as conn:
            for sql in (
                "INSERT INTO calendars (id, name, slug, description, location, timezone, duration, buffer_before,"
                " buffer_after, min_notice, window_days, seats, confirmation_message, is_active, created_at,"
                f" updated_at, booking_seq) VALUES (1, 'C', 'c', '', '', 'UTC', 30, 0, 0, 0, 60, 1, '', true, {now},"
                f" {now}, 0)",
                "INSERT INTO contacts (id, first_name, last_name, email, email_key, phone, created_at, updated_at)"
                f" VALUES (1, 'Ada', '', 'ada@example.com', 'ada@example.com', '', {now}, {now})",
                "INSERT INTO workflows (id, name, status, trigger_type, trigger_config, steps, allow_reentry,"
                f" sender_name, created_at, updated_at) VALUES (1, 'W', 'published', 'manual', '{{}}', '[]', false,"
                f" '', {now}, {now})",
                "INSERT INTO workflow_versions (id, workflow_id, number, trigger_type, trigger_config, steps,"
                f" settings, created_at, created_by) VALUES (1, 1, 1, 'manual', '{{}}', '[]', '{{}}', {now}, 's')",
                "INSERT INTO enrolments (id, workflow_id, version_id, contact_id, status, step_index, attempts,"
                " last_error, event, is_test, started_at) VALUES"
                f" (1, 1, 1, 1, 'completed', 1, 0, '', '{{}}', false, {now}),"
                f" (2, 1, 1, 1, 'completed', 1, 0, '', '{{}}', true, {now})",
                "INSERT INTO bookings (id, calendar_id, start_at, end_at, name, email, timezone, notes, status,"
                " cancel_reason, cancelled_by, manage_salt, manage_digest, created_at, attendance) VALUES (1, 1,"
                " '2026-01-06 10:00:00', '2026-01-06 10:30:00', 'Ada', 'ada@example.com', 'UTC', '', 'confirmed',"
                f" '', '', 'm1', 'md1', {now}, 'showed')",
            ):
                conn.execute(text(sql))
            rows = [
                # id, source, metadata, created_at, opened_at, used_at, booking_id
                (1, "workflow", {"workflow_id": "1", "enrolment_id": "1", "step_id": "s-link"}, now, now, now, 1),
                (2, "workflow", {"workflow_id": "1", "enrolment_id": "2", "step_id": "s-link"}, now, now, None, None),
                (3, "workflow", {"workflow_id": "1", "enrolment_id": "77", "step_id": "s-link"}, day, None, now, None),
                (4, "workflow", {"workflow_id": "9", "enrolment_id": "8", "step_id": "s-x"}, day, now, None, None),
                (5, "workflow", {"workflow_id": "²", "enrolment_id": "1x"}, now, None, None, None),
                (6, "api", {"workflow_id": "1", "enrolment_id": "1", "deal": "7"}, now, now, None, None),
            ]
            for link_id, source, meta, created, opened, used, booking in rows:
                conn.execute(
                    text(
                        "INSERT INTO one_time_links (id, calendar_id, contact_id, salt, token_digest, source,"
                        " metadata, created_by, created_at, opened_at, used_at, booking_id) VALUES (:id, 1, 1,"
                        f" :salt, :salt, :source, :meta, 'system', {created}, {opened or 'NULL'}, {used or 'NULL'},"
                        " :booking)"
                    ),
                    {
                        "id": link_id,
                        "salt": f"s{link_id}",
                        "source": source,
                        "meta": json.dumps(meta),
                        "booking": booking,
                    },
                )
        upgrade()
        found = {link.id: link for link in db.session.scalars(select(OneTimeLink))}
        columns = {i: (x.workflow_id, x.enrolment_id, x.step_id, x.test_run) for i, x in found.items()}
        assert columns == {
            1: (1, 1, "s-link", False),
            2: (1, 2, "s-link", True),
            3: (1, None, "s-link", False),  # the enrolment is gone
            4: (None, None, "s-x", False),  # the workflow is gone
            5: (None, None, None, False),
            6: (None, None, None, False),  # an API client's metadata names nothing
        }
        assert {i: x.meta for i, x in found.items()} == {
            **dict.fromkeys(range(1, 6), {}),
            6: {"workflow_id": "1", "enrolment_id": "1", "deal": "7"},
        }
        kept = counts.totals()
        # Links 1 and 3 (not the test run's); workflow 9's history stays, though it is gone.
        assert kept == {
            1: {"sent": 2, "opened": 2, "booked": 2, "showed": 1, "marked": 1},  # marked: b3d5f7a9c1e2
            9: {"sent": 1, "opened": 1, "booked": 0, "showed": 0, "marked": 0},
        }
        assert len(db.session.scalars(select(LinkCount)).all()) == 3  # two hours for workflow 1
        counts.recount(select(Workflow.id))
        assert counts.totals() == kept
        db.session.rollback()
        db.session.remove()

        downgrade(revision="a1c2e3f4b5d6")
        with db.engine.connect() as conn:
            metas = dict(conn.execute(text("SELECT id, metadata FROM one_time_links")).all())
        metas = {i: json.loads(m) if isinstance(m, str) else m for i, m in metas.items()}
        assert metas[1] == {"workflow_id": "1", "enrolment_id": "1", "step_id": "s-link"}
        assert metas[3] == {"workflow_id": "1", "step_id": "s-link"} and metas[6]["deal"] == "7"
        downgrade(revision="base")


def test_upgrade_gives_each_booking_a_random_uid_and_its_link(tmp_path):
    """Existing bookings get distinct random UIDs, sequence 0 and the link that made them; nothing re-arms."""
    from sqlalchemy import text

    now = "'2026-01-05 10:30:00'"
    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to("f1e2d3c4b5a6")
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO calendars (id, name, slug, description, location, timezone, duration, buffer_before,"
                    " buffer_after, min_notice, window_days, seats, confirmation_message, is_active, created_at,"
                    f" updated_at, booking_seq) VALUES (1, 'C', 'c', '', '', 'UTC', 30, 0, 0, 0, 60, 1, '', true,"
                    f" {now}, {now}, 0)"
                )
            )
            for n in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO bookings (id, calendar_id, start_at, end_at, name, email, timezone, notes,"
                        " status, cancel_reason, cancelled_by, manage_salt, manage_digest, created_at) VALUES"
                        f" ({n}, 1, '2026-01-06 10:00:00', '2026-01-06 10:30:00', 'Ada', 'ada@example.com', 'UTC',"
                        f" '', 'confirmed', '', '', 'm{n}', 'md{n}', {now})"
                    )
                )
            conn.execute(
                text(
                    "INSERT INTO one_time_links (id, calendar_id, salt, token_digest, source, metadata, created_by,"
                    f" created_at, used_at, booking_id) VALUES (7, 1, 's7', 'd7', 'admin', '{{}}', 'system', {now},"
                    f" {now}, 2)"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, uid, sequence, link_id FROM bookings ORDER BY id")).all()
            links = conn.execute(text("SELECT rearm_on_cancel, rearm_on_no_show FROM one_time_links")).all()
            calendars = conn.execute(text("SELECT rearm_on_cancel, rearm_on_no_show FROM calendars")).all()
        (_, uid1, seq1, link1), (_, uid2, seq2, link2) = rows
        assert uid1 != uid2 and uid1.endswith("@oneslot") and len(uid1) == len("@oneslot") + 36
        assert (seq1, seq2, link1, link2) == (0, 0, None, 7)
        assert [tuple(r) for r in links] == [(False, False)] and [tuple(r) for r in calendars] == [(False, False)]
        downgrade(revision="f1e2d3c4b5a6")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM bookings")).scalar() == 2
        downgrade(revision="base")


def test_upgrade_counts_marked_bookings_and_marks_the_demo(tmp_path):
    """b3d5f7a9c1e2: link_counts.marked counts the links whose booking is marked showed or no-show (test runs
    left out), as a recount does; the demo's calendar and workflow are marked is_demo, nothing else is; an
    unused test-run link gets the hour a test link has."""
    from sqlalchemy import select, text

    from webapp.booking import counts
    from webapp.booking.models import OneTimeLink
    from webapp.calendars.models import Calendar
    from webapp.workflows.models import Workflow

    now = "'2026-01-05 10:30:00'"
    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to("f1e2d3c4b5a6")
        with db.engine.begin() as conn:
            for sql in (
                "INSERT INTO calendars (id, name, slug, description, location, timezone, duration, buffer_before,"
                " buffer_after, min_notice, window_days, seats, confirmation_message, is_active, created_at,"
                f" updated_at, booking_seq, allow_other_email, change_cutoff_hours, notify_email) VALUES"
                f" (1, 'Demo call', 'demo-call', '', '', 'UTC', 30, 0, 0, 0, 60, 1, '', true, {now}, {now}, 0, false,"
                f" 0, ''), (2, 'Mine', 'mine', '', '', 'UTC', 30, 0, 0, 0, 60, 1, '', true, {now}, {now}, 0, false,"
                " 0, '')",
                "INSERT INTO contacts (id, first_name, last_name, email, email_key, phone, created_at, updated_at)"
                f" VALUES (1, 'Ada', '', 'ada@example.com', 'ada@example.com', '', {now}, {now})",
                "INSERT INTO workflows (id, name, status, trigger_type, trigger_config, steps, allow_reentry,"
                " sender_name, created_at, updated_at) VALUES"
                f" (1, 'Send a one-time booking link', 'published', 'tag_added', '{{\"tag\": \"book-me\"}}', '[]',"
                f" false, '', {now}, {now}),"
                f" (2, 'Send a one-time booking link', 'draft', 'manual', '{{}}', '[]', false, '', {now}, {now}),"
                f" (3, 'Mine', 'draft', 'manual', '{{}}', '[]', false, '', {now}, {now})",
            ):
                conn.execute(text(sql))
            for booking_id, attendance in ((1, "showed"), (2, "no_show"), (3, None), (4, "showed")):
                conn.execute(
                    text(
                        "INSERT INTO bookings (id, calendar_id, start_at, end_at, name, email, timezone, notes,"
                        " status, cancel_reason, cancelled_by, manage_salt, manage_digest, created_at, attendance)"
                        " VALUES (:id, 2, '2026-01-06 10:00:00', '2026-01-06 10:30:00', 'Ada', 'ada@example.com',"
                        f" 'UTC', '', 'confirmed', '', '', :salt, :salt, {now}, :attendance)"
                    ),
                    {"id": booking_id, "salt": f"m{booking_id}", "attendance": attendance},
                )
            for link_id, booking_id, test_run in ((1, 1, False), (2, 2, False), (3, 3, False), (4, 4, True)):
                conn.execute(
                    text(
                        "INSERT INTO one_time_links (id, calendar_id, contact_id, salt, token_digest, source,"
                        " metadata, created_by, created_at, used_at, booking_id, workflow_id, test_run) VALUES"
                        f" (:id, 2, 1, :salt, :salt, 'workflow', '{{}}', 'system', {now}, {now}, :booking, 3, :test)"
                    ),
                    {"id": link_id, "salt": f"s{link_id}", "booking": booking_id, "test": test_run},
                )
            for link_id, used in ((5, "NULL"), (6, now)):  # test-run links, one never used: it gets its hour
                conn.execute(
                    text(
                        "INSERT INTO one_time_links (id, calendar_id, contact_id, salt, token_digest, source,"
                        " metadata, created_by, created_at, used_at, workflow_id, test_run) VALUES"
                        f" (:id, 2, 1, :salt, :salt, 'workflow', '{{}}', 'system', {now}, {used}, 3, true)"
                    ),
                    {"id": link_id, "salt": f"s{link_id}"},
                )
            conn.execute(
                text(
                    "INSERT INTO link_counts (workflow_id, hour, sent, opened, booked, showed) VALUES"
                    " (3, :hour, 3, 3, 3, 1)"
                ),
                {"hour": counts.hour_of(datetime(2026, 1, 5, 10, 30, tzinfo=UTC))},
            )
        upgrade()
        kept = counts.totals()
        assert kept == {3: {"sent": 3, "opened": 3, "booked": 3, "showed": 1, "marked": 2}}
        counts.recount(select(Workflow.id))
        assert counts.totals() == kept
        db.session.rollback()
        assert {c.slug: c.is_demo for c in db.session.scalars(select(Calendar))} == {"demo-call": True, "mine": False}
        assert {w.id: w.is_demo for w in db.session.scalars(select(Workflow))} == {1: True, 2: False, 3: False}
        expiries = {link.id: link.expires_at for link in db.session.scalars(select(OneTimeLink))}
        assert expiries == {1: None, 2: None, 3: None, 4: None, 5: datetime(2026, 1, 5, 11, 30, tzinfo=UTC), 6: None}
        db.session.remove()
        downgrade(revision="f1e2d3c4b5a6")
        downgrade(revision="base")
