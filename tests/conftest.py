"""Fixtures shared by every test: the app per test, a client, a signed-in admin, factories."""

import os

import pytest

from webapp import create_app
from webapp.extensions import db

PASSWORD = "correct horse battery"


def database_url(tmp_path) -> str:
    """PostgreSQL when TEST_DATABASE_URL is set, else a fresh SQLite file for this test."""
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"


def make_app(tmp_path, **overrides):
    """An app on the test database, with its tables created."""
    env = {"SECRET_KEY": "test-secret-key-not-for-production", "DATABASE_URL": database_url(tmp_path)}
    env.update(overrides.pop("ENV_VARS", {}))
    settings = {"TESTING": True, "WTF_CSRF_ENABLED": False, "INSTANCE_PATH": str(tmp_path / "instance")}
    settings.update(overrides)
    return create_app({"ENV_VARS": env, **settings})


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.remove()
        db.drop_all()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def admin(app):
    from webapp.auth.services import create_admin

    return create_admin("admin@example.com", PASSWORD)


@pytest.fixture
def login(client, admin):
    """A client signed in as the admin."""
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def hx():
    """Headers HTMX adds to its requests."""
    return {"HX-Request": "true"}


@pytest.fixture
def make_calendar(app):
    from webapp.calendars import services

    def make(**fields):
        data = {"name": "Intro call", "timezone": "UTC", "duration": 30}
        data.update(fields)
        weekly = data.pop("weekly", {d: [(9 * 60, 17 * 60)] for d in range(5)})
        return services.create_calendar(data, weekly=weekly)

    return make


@pytest.fixture
def make_contact(app):
    from webapp.contacts.models import Contact, normalize_email

    counter = iter(range(1, 1_000_000))

    def make(**fields):
        n = next(counter)
        data = {"first_name": "Ada", "last_name": f"Lovelace{n}", "email": f"ada{n}@example.com"}
        data.update(fields)
        contact = Contact(email_key=normalize_email(data["email"]), **data)
        db.session.add(contact)
        db.session.commit()
        return contact

    return make
