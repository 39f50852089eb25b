"""Admin sessions end when they should: sign-out, password change, sign out everywhere else, disabled or
removed admins; copied session and remember cookies die with them; sign-in timing does not tell emails apart."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import PASSWORD
from webapp.auth import models, services, sessions
from webapp.auth.models import AdminSession, User
from webapp.extensions import db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
NEW_PASSWORD = "a brand new secret"
PRIVATE = "/calendars/"


def sign_in(app, email="admin@example.com", password=PASSWORD, remember=False, user_agent=FIREFOX):
    """A new browser signed in as the admin."""
    browser = app.test_client()
    data = {"email": email, "password": password}
    if remember:
        data["remember"] = "y"
    response = browser.post("/login", data=data, headers={"User-Agent": user_agent})
    assert response.status_code == 303, response.text
    return browser


def cookie(browser, name):
    found = browser.get_cookie(name)
    return found.value if found else None


def copy_of(app, browser, names=("session",)):
    """Another browser holding copies of `browser`'s cookies (what a thief would have)."""
    thief = app.test_client()
    for name in names:
        thief.set_cookie(name, cookie(browser, name))
    return thief


def only_remember_cookie(app, value):
    """A browser that was closed: no session cookie, just the remember cookie."""
    browser = app.test_client()
    browser.set_cookie("remember_token", value)
    return browser


def signed_in(browser) -> bool:
    return browser.get(PRIVATE).status_code == 200


@pytest.fixture
def grace(app, admin):
    return services.create_admin("grace@example.com", "another good one")


def test_a_copied_session_cookie_dies_at_sign_out(app, admin):
    browser = sign_in(app)
    thief = copy_of(app, browser)
    assert signed_in(thief)
    assert browser.post("/logout").status_code == 303
    assert not signed_in(browser)
    assert not signed_in(thief)


def test_the_remember_cookie_is_new_at_each_sign_in_and_dies_at_sign_out(app, admin):
    first = sign_in(app, remember=True)
    first_cookie = cookie(first, "remember_token")
    second = sign_in(app, remember=True)
    second_cookie = cookie(second, "remember_token")
    assert first_cookie and second_cookie and first_cookie != second_cookie
    # A browser closed and opened again is signed in by the remember cookie alone.
    assert signed_in(only_remember_cookie(app, first_cookie))
    first.post("/logout")
    assert cookie(first, "remember_token") is None
    assert not signed_in(only_remember_cookie(app, first_cookie))
    assert signed_in(only_remember_cookie(app, second_cookie))


def test_a_stale_remember_cookie_is_cleared(app, admin):
    browser = sign_in(app, remember=True)
    remembered = only_remember_cookie(app, cookie(browser, "remember_token"))
    browser.post("/logout")
    assert remembered.get(PRIVATE).status_code == 302
    assert cookie(remembered, "remember_token") is None


def test_a_password_change_ends_every_other_session_and_remember_cookie(app, admin):
    here = sign_in(app, remember=True)
    copied_before = copy_of(app, here, ("session", "remember_token"))
    elsewhere = sign_in(app, user_agent=SAFARI)
    remembered_elsewhere = sign_in(app, remember=True)
    remember_cookie = cookie(remembered_elsewhere, "remember_token")

    response = here.post("/settings", data={"pw-current": PASSWORD, "pw-new": NEW_PASSWORD, "pw-confirm": NEW_PASSWORD})
    assert response.status_code == 303
    assert signed_in(here)
    assert signed_in(only_remember_cookie(app, cookie(here, "remember_token")))
    assert not signed_in(elsewhere)
    assert not signed_in(remembered_elsewhere)
    assert not signed_in(only_remember_cookie(app, remember_cookie))
    # This browser continues under a new key: a copy of its cookies taken before the change is dead too.
    assert not signed_in(copied_before)
    assert [row.user_agent for row in sessions.of_user(admin)] == [FIREFOX]


def test_sign_out_everywhere_else_keeps_only_this_browser(app, admin, caplog):
    caplog.set_level(logging.INFO, logger="oneslot.audit")
    here = sign_in(app)
    copied_before = copy_of(app, here)
    others = [sign_in(app, user_agent=SAFARI), sign_in(app, remember=True)]
    assert "Sign out everywhere else" in here.get("/settings").text

    response = here.post("/settings/sessions/others/end", follow_redirects=True)
    assert "You are signed out everywhere else." in response.text
    assert signed_in(here)
    assert not any(signed_in(other) for other in others)
    assert not signed_in(copied_before)
    assert f"admin.sign_out_everywhere actor=admin:{admin.id} sessions_ended=2 user_id={admin.id}" in caplog.text


def test_settings_lists_where_you_are_signed_in_and_signs_one_out(app, admin):
    here = sign_in(app)
    phone = sign_in(app, user_agent=SAFARI)
    page = here.get("/settings").text
    assert "Where you&#39;re signed in" in page or "Where you're signed in" in page
    assert "Firefox on Linux" in page and "(this browser)" in page
    assert "Safari on iPhone" in page

    phone_session = next(row for row in sessions.of_user(admin) if row.user_agent == SAFARI)
    assert here.post(f"/settings/sessions/{phone_session.id}/end").status_code == 303
    assert not signed_in(phone) and signed_in(here)
    again = here.post(f"/settings/sessions/{phone_session.id}/end", follow_redirects=True)
    assert "That browser was already signed out." in again.text


def test_signing_out_this_browser_from_the_list_is_a_sign_out(app, admin):
    here = sign_in(app)
    thief = copy_of(app, here)
    (row,) = sessions.of_user(admin)
    response = here.post(f"/settings/sessions/{row.id}/end")
    assert response.status_code == 303 and response.location == "/login"
    assert not signed_in(here) and not signed_in(thief)


def test_an_admin_cannot_sign_out_another_admins_browser_from_their_list(app, admin, grace):
    sign_in(app, "grace@example.com", "another good one")
    (grace_session,) = sessions.of_user(grace)
    here = sign_in(app)
    here.post(f"/settings/sessions/{grace_session.id}/end")
    assert sessions.of_user(grace) != []
    assert here.post("/settings/sessions/999999/end").status_code == 303  # no such session: nothing to end
    assert here.post("/settings/sessions/99999999999/end").status_code == 404  # past any id


def test_only_a_digest_of_the_session_key_is_stored(app, admin):
    browser = sign_in(app, remember=True)
    with browser.session_transaction() as cookie_session:
        admin_id, key = cookie_session["_user_id"].split(":")
    assert admin_id == str(admin.id) and len(key) >= 43
    row = db.session.scalar(select(AdminSession))
    stored = " ".join(str(value) for value in (row.digest, row.user_agent, row.id, row.user_id))
    assert key not in stored and row.digest == sessions.digest(key)


def test_a_cookie_from_before_sessions_existed_is_refused(app, admin):
    browser = app.test_client()
    with browser.session_transaction() as cookie_session:
        cookie_session["_user_id"] = str(admin.id)  # what signed-in browsers held before this change
    assert not signed_in(browser)


def test_an_unused_session_ends_with_the_session_lifetime_and_use_keeps_it(app, admin):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    lifetime = app.permanent_session_lifetime
    with time_machine.travel(start, tick=False) as clock:
        old_digest = sessions.start(admin, remember=False).digest
        db.session.commit()
        session_id = admin.get_id()
        clock.shift(lifetime - timedelta(days=1))
        assert sessions.load(session_id) is not None  # used: the idle deadline moves on
        clock.shift(lifetime - timedelta(days=1))
        assert sessions.load(session_id) is not None
        clock.shift(lifetime + timedelta(minutes=1))
        assert sessions.load(session_id) is None
        # A new sign-in clears the rows that ran out.
        sessions.start(admin, remember=False)
        db.session.commit()
        assert db.session.scalar(select(AdminSession.id).where(AdminSession.digest == old_digest)) is None


def test_a_kept_session_ends_when_its_remember_cookie_does(app, admin):
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        sessions.start(admin, remember=True)
        db.session.commit()
        session_id = admin.get_id()
        clock.shift(timedelta(days=364))
        assert sessions.load(session_id) is not None
        clock.shift(timedelta(days=2))
        assert sessions.load(session_id) is None


# --- disabling and removing admins -----------------------------------------------------------------


def test_disabling_an_admin_ends_their_sessions_and_stops_sign_in(app, admin, grace, caplog):
    caplog.set_level(logging.INFO, logger="oneslot.audit")
    grace_browser = sign_in(app, "grace@example.com", "another good one", remember=True)
    grace_remembered = only_remember_cookie(app, cookie(grace_browser, "remember_token"))
    here = sign_in(app)

    confirm = here.get(f"/settings/admins/{grace.id}/disable")
    assert confirm.status_code == 200 and "Disable grace@example.com?" in confirm.text
    assert signed_in(grace_browser)  # the confirmation page changes nothing
    response = here.post(f"/settings/admins/{grace.id}/disable", follow_redirects=True)
    assert "grace@example.com is disabled and signed out." in response.text
    assert not signed_in(grace_browser) and not signed_in(grace_remembered)
    assert f"admin.disable actor=admin:{admin.id} sessions_ended=1 user_id={grace.id}" in caplog.text

    refused = app.test_client().post("/login", data={"email": "grace@example.com", "password": "another good one"})
    assert refused.status_code == 422 and "This account is disabled. Ask another admin to enable it." in refused.text
    # Without the right password a disabled account looks like any wrong sign-in.
    wrong = app.test_client().post("/login", data={"email": "grace@example.com", "password": "not her password"})
    assert "Email or password is wrong." in wrong.text and "disabled" not in wrong.text

    assert here.post(f"/settings/admins/{grace.id}/enable").status_code == 303
    assert f"admin.enable actor=admin:{admin.id} user_id={grace.id}" in caplog.text
    assert signed_in(sign_in(app, "grace@example.com", "another good one"))


def test_removing_an_admin_ends_their_sessions_but_keeps_the_api_keys(app, admin, grace, caplog):
    from webapp.api import keys

    caplog.set_level(logging.INFO, logger="oneslot.audit")
    grace_browser = sign_in(app, "grace@example.com", "another good one")
    grace_browser.post("/settings/api-keys/", data={"name": "CRM sync"})
    (api_key,) = keys.all_keys()
    assert api_key.created_by == f"admin:{grace.id}"
    here = sign_in(app)
    grace_id = grace.id

    assert "Remove grace@example.com?" in here.get(f"/settings/admins/{grace_id}/remove").text
    response = here.post(f"/settings/admins/{grace_id}/remove", follow_redirects=True)
    assert "grace@example.com is removed." in response.text
    assert db.session.get(User, grace_id) is None
    assert not signed_in(grace_browser)
    assert db.session.scalar(select(db.func.count(AdminSession.id)).where(AdminSession.user_id == grace_id)) == 0
    assert keys.all_keys()[0].revoked_at is None  # the key belongs to the install, not to Grace
    assert f"admin.remove actor=admin:{admin.id} sessions_ended=1 user_id={grace_id}" in caplog.text
    refused = app.test_client().post("/login", data={"email": "grace@example.com", "password": "another good one"})
    assert "Email or password is wrong." in refused.text


def test_an_admin_cannot_disable_or_remove_themselves(app, admin, grace):
    here = sign_in(app)
    for action in ("disable", "remove"):
        for send in (here.get, here.post):
            response = send(f"/settings/admins/{admin.id}/{action}", follow_redirects=True)
            assert f"You cannot {action} your own account: another admin can." in response.text
            assert signed_in(here)
    db.session.expire_all()
    assert db.session.get(User, admin.id).is_active
    # The list offers no such button on one's own row.
    page = here.get("/settings").text
    assert f"/settings/admins/{admin.id}/disable" not in page and f"/settings/admins/{grace.id}/disable" in page


def test_the_last_active_admin_is_never_disabled_or_removed(app, admin, grace):
    services.disable_admin(grace, by=admin)
    # Someone acting without a session (or whose own account was disabled a moment earlier).
    with pytest.raises(services.AdminError, match="admin@example.com is the only active admin"):
        services.disable_admin(admin, by=None)
    with pytest.raises(services.AdminError, match="the only active admin"):
        services.remove_admin(admin, by=None)
    db.session.expire_all()
    assert db.session.get(User, admin.id).is_active
    # A disabled admin can go: the active one stays.
    services.remove_admin(grace, by=None)
    assert [user.email for user in services.all_admins()] == ["admin@example.com"]


def test_unknown_admin_ids_answer_404(login):
    assert login.get("/settings/admins/424242/disable").status_code == 404
    assert login.post("/settings/admins/99999999999/remove").status_code == 404
    assert login.post("/settings/admins/424242/enable").status_code == 404


# --- sign-in timing --------------------------------------------------------------------------------


@pytest.fixture
def password_checks(monkeypatch):
    """Every hash a password was checked against, in order."""
    checked = []
    real = models.verify_password

    def counting(password_hash, password):
        checked.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(models, "verify_password", counting)
    return checked


def test_an_unknown_email_is_checked_against_a_hash_like_a_known_one(client, admin, password_checks):
    response = client.post("/login", data={"email": "nobody@example.com", "password": PASSWORD})
    assert response.status_code == 422 and "Email or password is wrong." in response.text
    assert len(password_checks) == 1
    unknown_hash = password_checks[0]
    # Same method and cost parameters as a stored hash ("scrypt:32768:8:1$salt$hash"): same work.
    assert unknown_hash.split("$")[0] == admin.password_hash.split("$")[0]
    assert unknown_hash != admin.password_hash

    client.post("/login", data={"email": admin.email, "password": "not the password"})
    assert len(password_checks) == 2 and password_checks[1] == admin.password_hash
    # The dummy hash is made once, not per attempt.
    client.post("/login", data={"email": "other@example.com", "password": PASSWORD})
    assert password_checks[2] == unknown_hash


def test_two_admins_disabling_each_other_at_once_leave_one_active(app, admin, grace):
    import threading

    barrier = threading.Barrier(2)
    outcomes = []

    def disable(target_id, by_id):
        with app.app_context():
            target, by = db.session.get(User, target_id), db.session.get(User, by_id)
            barrier.wait()
            try:
                services.disable_admin(target, by)
                outcomes.append("disabled")
            except services.AdminError:
                outcomes.append("refused")
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=disable, args=(admin.id, grace.id)),
        threading.Thread(target=disable, args=(grace.id, admin.id)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["disabled", "refused"]
    db.session.expire_all()
    assert [user.is_active for user in services.all_admins()].count(True) == 1
