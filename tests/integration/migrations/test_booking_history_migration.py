"""The booking history migration: old bookings get the history their rows tell; old admins get a name."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from tests.conftest import make_app
from tests.helpers import empty_database_upgraded_to
from webapp.extensions import db

BEFORE = "f1e2d3c4b5a6"


def test_upgrade_backfills_the_history_and_names_admins(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to(BEFORE)
        with db.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO calendars (id, name, slug, description, location, timezone, duration, buffer_before,"
                    " buffer_after, min_notice, window_days, seats, confirmation_message, is_active, created_at,"
                    " updated_at, allow_other_email, change_cutoff_hours, booking_seq) VALUES (1, 'Old', 'old', '',"
                    " '', 'UTC', 30, 0, 0, 0, 60, 1, '', true, '2026-01-01 00:00:00', '2026-01-01 00:00:00', false,"
                    " 0, 0)"
                )
            )
            for booking_id, status, cancelled_by, cancelled_at, rescheduled_at in (
                (1, "confirmed", "", None, None),
                (2, "cancelled", "admin", "2026-01-03 09:00:00", None),
                (3, "cancelled", "invitee", "2026-01-04 09:00:00", "2026-01-02 12:00:00"),
            ):
                conn.execute(
                    text(
                        "INSERT INTO bookings (id, calendar_id, start_at, end_at, name, email, timezone, notes,"
                        " status, created_at, cancel_reason, cancelled_by, cancelled_at, rescheduled_at,"
                        " manage_salt, manage_digest) VALUES (:id, 1, '2026-02-01 10:00:00', '2026-02-01 10:30:00',"
                        " 'Ada', 'ada@x.io', 'UTC', '', :status, '2026-01-01 00:00:00', '', :by, :cancelled_at,"
                        " :rescheduled_at, :salt, :digest)"
                    ),
                    {
                        "id": booking_id,
                        "status": status,
                        "by": cancelled_by,
                        "cancelled_at": cancelled_at,
                        "rescheduled_at": rescheduled_at,
                        "salt": f"salt{booking_id}",
                        "digest": f"digest{booking_id}",
                    },
                )
            conn.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, created_at) VALUES"
                    " (1, 'sam.rivera@example.com', 'x', '2026-01-01 00:00:00')"
                )
            )
        upgrade()
        from webapp.auth.models import User
        from webapp.booking import history

        def told(booking_id):
            return [(c.kind, c.actor_kind, c.actor_name) for c in reversed(history.changes_of(booking_id))]

        assert told(1) == [("booked", "invitee", "Ada")]
        assert told(2) == [("booked", "invitee", "Ada"), ("cancelled", "admin", "")]
        assert told(3) == [("booked", "invitee", "Ada"), ("moved", "invitee", "Ada"), ("cancelled", "invitee", "Ada")]
        assert all(c.details == {"backfilled": True} for c in history.changes_of(3))
        assert history.changes_of(2)[0].at.isoformat().startswith("2026-01-03T09:00")
        assert db.session.get(User, 1).name == "sam.rivera"
        db.session.remove()
        downgrade(revision=BEFORE)
        with db.engine.connect() as conn:
            assert "booking_changes" not in db.inspect(conn).get_table_names()
            assert "name" not in {c["name"] for c in db.inspect(conn).get_columns("users")}
        downgrade(revision="base")
