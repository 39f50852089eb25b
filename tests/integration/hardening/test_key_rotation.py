"""Rotating SECRET_KEY means what the README says: a token opens only if it verifies under SECRET_KEY
or one of SECRET_KEY_FALLBACKS, and every URL the app builds uses SECRET_KEY."""

import hashlib

import pytest
from sqlalchemy import select

from tests.conftest import iso, tomorrow_at
from webapp import tokens
from webapp.booking import links
from webapp.booking import services as bookings
from webapp.booking.models import Booking
from webapp.config import ConfigError, load
from webapp.extensions import db

OLD, NEW = "old-secret-key-0123456789", "new-secret-key-9876543210"


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def rotate(app, fallbacks=()):
    app.config.update(SECRET_KEY=NEW, SECRET_KEY_FALLBACKS=list(fallbacks))


@pytest.fixture
def old_link(app, make_link):
    app.config.update(SECRET_KEY=OLD, SECRET_KEY_FALLBACKS=[])
    link, token = make_link()
    return link, token


def test_with_the_old_key_as_a_fallback_mailed_and_rebuilt_links_both_open(app, client, old_link):
    link, mailed = old_link
    rotate(app, [OLD])
    rebuilt = token_of(links.url(link))
    assert rebuilt != mailed  # what the app builds from now on uses the new key
    for token in (mailed, rebuilt):
        assert client.get(f"/book/{token}").status_code == 200
        assert links.find(token).id == link.id


def test_without_the_old_key_every_mailed_link_is_dead_and_new_ones_work(app, client, old_link):
    link, mailed = old_link
    rotate(app)
    assert client.get(f"/book/{mailed}").status_code == 404
    assert links.find(mailed) is None
    assert client.get(f"/book/{token_of(links.url(link))}").status_code == 200


def test_a_token_with_a_forged_mac_opens_nothing(app, client, make_link):
    link, token = make_link()
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/book/{flipped}").status_code == 404
    assert client.get(f"/book/{token[:22]}").status_code == 404  # the handle alone is no token


def test_manage_links_follow_the_same_rule(app, client, old_link):
    link, token = old_link
    response = client.post(
        f"/book/{token}",
        data={"start": iso(tomorrow_at(10)), "name": "Ada", "email": link.contact.email, "timezone": "UTC"},
    )
    mailed = response.location
    rotate(app, [OLD])
    booking = db.session.scalar(select(Booking))
    assert client.get(mailed).status_code == 200
    assert client.get(f"/booking/{bookings.manage_token(booking)}").status_code == 200
    rotate(app)
    assert client.get(mailed).status_code == 404


def test_the_api_url_is_built_with_the_current_key(app, client, old_link):
    from webapp.api import keys

    link, mailed = old_link
    rotate(app, [OLD])
    _, key = keys.create_key("tests")
    answer = client.get(f"/api/v1/one-time-links/{link.id}", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    assert answer.json["url"] == links.url(link) and token_of(answer.json["url"]) != mailed


def test_links_issued_before_the_handle_scheme_keep_their_rule(app, client, make_calendar, make_contact):
    """A 43-character token (the whole HMAC, its SHA-256 stored) opens under the key or a fallback."""
    app.config.update(SECRET_KEY=OLD, SECRET_KEY_FALLBACKS=[])
    link = links.issue(make_calendar(weekly={d: [(0, 1440)] for d in range(7)}), make_contact())
    legacy = tokens._legacy(OLD, links.PURPOSE, link.salt)
    link.token_digest = hashlib.sha256(legacy.encode()).hexdigest()
    db.session.commit()
    assert len(legacy) == 43 and client.get(f"/book/{legacy}").status_code == 200
    rotate(app, [OLD])
    assert client.get(f"/book/{legacy}").status_code == 200
    assert links.url(link).endswith("/book/" + legacy)  # the only token it has
    rotate(app)
    assert client.get(f"/book/{legacy}").status_code == 404
    assert links.url(link) is None


def test_fallbacks_are_read_from_the_environment(tmp_path):
    config = load({"SECRET_KEY": NEW, "SECRET_KEY_FALLBACKS": f" {OLD} , another-key-0123456789 "}, tmp_path)
    assert config["SECRET_KEY_FALLBACKS"] == [OLD, "another-key-0123456789"]
    with pytest.raises(ConfigError, match="SECRET_KEY_FALLBACKS"):
        load({"SECRET_KEY": NEW, "SECRET_KEY_FALLBACKS": "short"}, tmp_path)
