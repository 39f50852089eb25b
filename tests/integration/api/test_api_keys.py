"""API keys: made in Settings or by `flask create-api-key`, stored as a digest only, revocable."""

import hashlib
import logging
import re
from datetime import timedelta

from sqlalchemy import text

from webapp.api import keys
from webapp.api.models import ApiKey
from webapp.clock import utcnow
from webapp.extensions import db


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def shown_key(html: str) -> str:
    return re.search(r'id="new-key" type="text" readonly value="([^"]+)"', html)[1]


# --- the key itself ------------------------------------------------------------------------------


def test_a_key_is_long_random_and_not_stored(app):
    row, key = keys.create_key("CRM")
    _, other = keys.create_key("CRM")
    assert key.startswith("os_live_") and key != other
    assert len(key) - len("os_live_") >= 43  # 256 bits, base64url
    stored = db.session.execute(text("SELECT * FROM api_keys")).mappings().all()
    assert all(key not in str(value) for r in stored for value in r.values())
    assert row.digest == hashlib.sha256(key.encode()).hexdigest()
    assert row.prefix == key[:12] and row.status == "active"


def test_key_names_are_required_and_short(app):
    for name in ("", "   ", "x" * 121):
        try:
            keys.create_key(name)
        except keys.ApiKeyError:
            continue
        raise AssertionError(f"{name!r} was accepted")
    assert db.session.query(ApiKey).count() == 0


def test_logs_name_the_key_by_id_never_by_value(app, caplog):
    caplog.set_level(logging.INFO, logger="oneslot.audit")
    row, key = keys.create_key("CRM")
    keys.revoke(row)
    assert f"api_key.create actor=system api_key_id={row.id}" in caplog.text
    assert "api_key.revoke" in caplog.text
    assert key not in caplog.text and key[12:20] not in caplog.text


# --- authentication ------------------------------------------------------------------------------


def test_without_a_key_401(client):
    response = client.get("/api/v1/calendars")
    assert response.status_code == 401
    assert response.json == {"error": "Send an API key: 'Authorization: Bearer <key>'."}
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="OneSlot API"'


def test_a_wrong_scheme_or_an_empty_key_401(client, app):
    _, key = keys.create_key("CRM")
    for header in (f"Basic {key}", key, "Bearer ", "Bearer"):
        assert client.get("/api/v1/calendars", headers={"Authorization": header}).status_code == 401, header


def test_an_unknown_key_401(client, app):
    keys.create_key("CRM")
    response = client.get("/api/v1/calendars", headers=bearer("os_live_" + "x" * 43))
    assert response.status_code == 401
    assert response.json == {"error": "This API key is not valid or has been revoked."}


def test_a_good_key_works_and_records_its_last_use(client, app):
    row, key = keys.create_key("CRM")
    assert row.last_used_at is None
    response = client.get("/api/v1/calendars", headers={"Authorization": f"bearer {key}"})  # any case
    assert response.status_code == 200 and response.json == {"calendars": []}
    db.session.refresh(row)
    assert row.last_used_at is not None and utcnow() - row.last_used_at < timedelta(seconds=10)


def test_last_use_is_written_at_most_once_a_minute(client, app):
    row, key = keys.create_key("CRM")
    client.get("/api/v1/calendars", headers=bearer(key))
    db.session.refresh(row)
    first = row.last_used_at
    client.get("/api/v1/calendars", headers=bearer(key))
    db.session.refresh(row)
    assert row.last_used_at == first
    row.last_used_at = first - timedelta(minutes=2)
    db.session.commit()
    client.get("/api/v1/calendars", headers=bearer(key))
    db.session.refresh(row)
    assert row.last_used_at > first


def test_a_revoked_key_401(client, app):
    row, key = keys.create_key("CRM")
    assert client.get("/api/v1/calendars", headers=bearer(key)).status_code == 200
    assert keys.revoke(row) is True
    assert keys.revoke(row) is False  # once is enough
    response = client.get("/api/v1/calendars", headers=bearer(key))
    assert response.status_code == 401 and "revoked" in response.json["error"]


def test_an_admin_session_is_no_api_key(login):
    response = login.get("/api/v1/calendars")
    assert response.status_code == 401 and response.is_json


def test_api_posts_need_no_csrf_token(tmp_path):
    from tests.conftest import empty_tables, make_app

    app = make_app(tmp_path, WTF_CSRF_ENABLED=True)
    with app.app_context():
        empty_tables()
        _, key = keys.create_key("CRM")
        response = app.test_client().post("/api/v1/contacts", json={"email": "ada@example.com"}, headers=bearer(key))
        assert response.status_code == 201, response.json
        db.session.remove()
        db.drop_all()


# --- the command ---------------------------------------------------------------------------------


def test_create_api_key_command_prints_a_working_key(runner, client):
    result = runner.invoke(args=["create-api-key", "demo"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert re.fullmatch(r"os_live_[A-Za-z0-9_-]{43}", key)
    assert "shown again" in result.stderr
    row = db.session.query(ApiKey).one()
    assert row.name == "demo" and row.prefix == key[:12]
    assert client.get("/api/v1/calendars", headers=bearer(key)).status_code == 200


def test_create_api_key_command_refuses_an_empty_name(runner):
    result = runner.invoke(args=["create-api-key", " "])
    assert result.exit_code == 1
    assert "Give the key a name" in result.output
    assert db.session.query(ApiKey).count() == 0


# --- the admin pages -----------------------------------------------------------------------------


def test_settings_links_to_the_api_keys(login):
    assert 'href="/settings/api-keys/"' in login.get("/settings").text


def test_the_list_starts_empty(login):
    page = login.get("/settings/api-keys/")
    assert page.status_code == 200
    assert "No API keys yet" in page.text and 'name="name"' in page.text


def test_creating_shows_the_key_once(login, client):
    response = login.post("/settings/api-keys/", data={"name": "  Zapier  "})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    key = shown_key(response.text)
    assert 'data-copy="#new-key"' in response.text and "shown only this once" in response.text
    assert client.get("/api/v1/calendars", headers=bearer(key)).status_code == 200
    row = db.session.query(ApiKey).one()
    assert row.name == "Zapier" and row.created_by.startswith("admin:")
    listing = login.get("/settings/api-keys/").text
    assert key not in listing and key[12:] not in listing  # never again
    assert "Zapier" in listing and f"{key[:12]}…" in listing


def test_the_list_shows_prefix_dates_and_status(login, app):
    row, key = keys.create_key("CRM")
    listing = login.get("/settings/api-keys/").text
    assert "CRM" in listing and row.prefix in listing and key not in listing
    assert "never" in listing and "badge-active" in listing
    login.get("/api/v1/calendars", headers=bearer(key))
    assert "never" not in login.get("/settings/api-keys/").text


def test_creating_without_a_name_422(login):
    response = login.post("/settings/api-keys/", data={"name": " "})
    assert response.status_code == 422
    assert "Give the key a name" in response.text and 'id="new-key"' not in response.text
    assert db.session.query(ApiKey).count() == 0


def test_revoking_asks_first_then_revokes(login, app):
    row, key = keys.create_key("CRM")
    confirm = login.get(f"/settings/api-keys/{row.id}/revoke")
    assert confirm.status_code == 200
    assert "Revoke “CRM”?" in confirm.text and f'action="/settings/api-keys/{row.id}/revoke"' in confirm.text
    assert 'name="csrf_token"' in confirm.text
    db.session.refresh(row)
    assert row.revoked_at is None  # looking at the question changes nothing
    response = login.post(f"/settings/api-keys/{row.id}/revoke")
    assert response.status_code == 303 and response.location == "/settings/api-keys/"
    db.session.refresh(row)
    assert row.status == "revoked"
    listing = login.get("/settings/api-keys/").text
    assert "is revoked" in listing and ">revoked<" in listing and f"/{row.id}/revoke" not in listing
    assert login.get("/api/v1/calendars", headers=bearer(key)).status_code == 401
    again = login.post(f"/settings/api-keys/{row.id}/revoke", follow_redirects=True)
    assert "already revoked" in again.text


def test_revoking_an_unknown_key_404(login):
    assert login.post("/settings/api-keys/999/revoke").status_code == 404
