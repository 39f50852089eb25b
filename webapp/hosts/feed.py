"""A host's secret, revocable feed of their bookings: the token behind /feeds/hosts/<token>.ics.

The token is webapp/tokens.py's (purpose "feed"): the host keeps a random salt and the digest its
token is looked up by (Host.feed_salt, Host.feed_digest), never the token. A new token replaces the
old one (a new salt: the old URL stops working); turning the feed off clears both. booking/feed.py
writes the feed itself (the bookings live above this layer)."""

from flask import current_app
from sqlalchemy import select

from webapp import tokens
from webapp.audit import audit
from webapp.extensions import db
from webapp.hosts.models import Host

PURPOSE = "feed"
PATH = "/feeds/hosts/"
SUFFIX = ".ics"


def create(host: Host) -> str:
    """Give the host a new feed token (replacing any earlier one) and return it; commits."""
    replaced = host.feed_digest is not None
    host.feed_salt = tokens.new_salt()
    host.feed_digest = tokens.stored_digest(host.feed_salt)
    db.session.commit()
    audit("host.feed_replaced" if replaced else "host.feed_created", host_id=host.id)
    return tokens.make_token(PURPOSE, host.feed_salt)


def turn_off(host: Host) -> bool:
    """End the host's feed: its URL answers 404 from now on. False when there was none; commits."""
    if host.feed_digest is None:
        return False
    host.feed_salt = host.feed_digest = None
    db.session.commit()
    audit("host.feed_off", host_id=host.id)
    return True


def url(token: str) -> str:
    """The feed's absolute URL (BASE_URL), for a calendar app to subscribe to."""
    return f"{current_app.config['BASE_URL']}{PATH}{token}{SUFFIX}"


def find(token: str) -> Host | None:
    """The active host whose feed the token opens; None for an unknown, replaced or turned-off token
    (the mac is compared in constant time, as for every token)."""
    digest = tokens.lookup_digest(token or "")
    if digest is None:
        return None
    host = db.session.scalar(select(Host).where(Host.feed_digest == digest))
    if host is None or not host.is_active or not host.feed_salt or not tokens.verify(PURPOSE, token, host.feed_salt):
        return None
    return host
