"""`flask db upgrade` builds exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from tests.conftest import make_app
from webapp.extensions import db


def test_migrations_match_the_models(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
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
        db.drop_all()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade(revision="08b0702e6c9a")
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
        from webapp.calendars.models import Booking, Calendar

        booking = db.session.get(Booking, 1)
        assert booking.manage_salt and booking.cancel_reason == ""
        token = services.manage_url(booking).rsplit("/", 1)[1]
        assert services.find_by_manage_token(token).id == 1
        assert db.session.get(Calendar, 1).booking_seq == 0
        db.session.remove()
        downgrade(revision="base")
