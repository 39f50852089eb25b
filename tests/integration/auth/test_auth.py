"""Admin sign-in, sign-out, passwords, several admins, and the CLI commands."""

from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.auth.models import User
from webapp.auth.services import create_admin
from webapp.extensions import db


def test_login_then_logout(client, admin):
    response = client.post("/login", data={"email": "ADMIN@example.com ", "password": PASSWORD})
    assert response.status_code == 303
    assert client.get("/calendars/").status_code == 200
    assert client.post("/logout").status_code == 303
    assert client.get("/calendars/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, admin):
    response = client.post("/login", data={"email": admin.email, "password": "not the password"})
    assert response.status_code == 422
    assert "Email or password is wrong." in response.text
    assert client.get("/calendars/").status_code == 302


def test_login_follows_next_but_never_off_site(client, admin):
    response = client.post(
        "/login?next=/contacts/", data={"email": admin.email, "password": PASSWORD, "next": "/contacts/"}
    )
    assert response.location == "/contacts/"
    client.post("/logout")
    response = client.post("/login", data={"email": admin.email, "password": PASSWORD, "next": "//evil.example/x"})
    assert response.location == "/"


def test_passwords_are_hashed(admin):
    stored = db.session.scalar(select(User.password_hash).where(User.id == admin.id))
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_outside_the_test_suite_passwords_get_werkzeugs_full_scrypt_cost(app):
    from webapp.auth.models import hash_password

    del app.config["PASSWORD_HASH_METHOD"]  # as in production, where nothing sets it
    assert hash_password(PASSWORD).startswith("scrypt:32768:8:1$")


def test_change_own_password(login, admin):
    response = login.post(
        "/settings",
        data={"pw-current": PASSWORD, "pw-new": "a brand new secret", "pw-confirm": "a brand new secret"},
    )
    assert response.status_code == 303
    db.session.refresh(admin)
    assert admin.check_password("a brand new secret") and not admin.check_password(PASSWORD)


def test_change_password_needs_the_current_one(login, admin):
    response = login.post(
        "/settings",
        data={"pw-current": "wrong one!!", "pw-new": "a brand new secret", "pw-confirm": "a brand new secret"},
    )
    assert response.status_code == 422
    assert "This is not your current password." in response.text
    db.session.refresh(admin)
    assert admin.check_password(PASSWORD)


def test_change_password_refuses_mismatch_and_short(login):
    response = login.post("/settings", data={"pw-current": PASSWORD, "pw-new": "short", "pw-confirm": "other"})
    assert response.status_code == 422
    assert "at least 10 characters" in response.text
    assert "The two new passwords differ." in response.text


def test_add_a_second_admin_from_settings(login, client):
    response = login.post(
        "/settings/admins", data={"admin-email": "Grace@Example.com", "admin-password": "another good one"}
    )
    assert response.status_code == 303
    assert "grace@example.com" in login.get("/settings").text
    login.post("/logout")
    assert client.post("/login", data={"email": "grace@example.com", "password": "another good one"}).status_code == 303


def test_duplicate_admin_is_refused(login):
    response = login.post(
        "/settings/admins", data={"admin-email": "admin@example.com", "admin-password": "another good one"}
    )
    assert response.status_code == 422
    assert "An admin with this email already exists." in response.text


def test_cli_create_admin_from_stdin(runner, app):
    result = runner.invoke(args=["create-admin", "ops@example.com", "--password-stdin"], input="long enough pass\n")
    assert result.exit_code == 0, result.output
    assert "Admin ops@example.com created." in result.output
    user = db.session.scalar(select(User).where(User.email == "ops@example.com"))
    assert user.check_password("long enough pass")


def test_cli_create_admin_prompts_for_the_password(runner, app):
    result = runner.invoke(args=["create-admin", "ops@example.com"], input="long enough pass\nlong enough pass\n")
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(User).where(User.email == "ops@example.com")) is not None


def test_cli_create_admin_refuses_weak_or_duplicate(runner, app):
    result = runner.invoke(args=["create-admin", "ops@example.com", "--password-stdin"], input="short\n")
    assert result.exit_code == 1 and "Use at least 10 characters." in result.output
    create_admin("ops@example.com", "long enough pass")
    result = runner.invoke(args=["create-admin", "OPS@example.com", "--password-stdin"], input="long enough pass\n")
    assert result.exit_code == 1 and "already exists" in result.output


def test_bootstrap_creates_a_first_admin_once(runner, app, client):
    result = runner.invoke(args=["bootstrap"])
    assert result.exit_code == 0
    password = result.output.split("Password: ")[1].split()[0]
    assert client.post("/login", data={"email": "admin@example.com", "password": password}).status_code == 303
    again = runner.invoke(args=["bootstrap"])
    assert again.exit_code == 0 and again.output == ""
    assert db.session.scalar(select(db.func.count(User.id))) == 1
