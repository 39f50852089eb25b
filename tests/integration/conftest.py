"""Fixtures the integration folders share: no waiting between retries, the calendar most workflows link
to, and the JSON API's key."""

import pytest

from tests.factories import ALL_WEEK
from tests.helpers import Api
from webapp.api import keys


@pytest.fixture
def fast_retries(app):
    """Retries and polls without delay, so drain() runs them at once (ask with `usefixtures`)."""
    app.config.update(WORKFLOW_RETRY_DELAYS=(0, 0), WORKFLOW_POLL_SECONDS=0, MAIL_RETRY_DELAYS=(0, 0))


@pytest.fixture
def calendar(make_calendar):
    """The calendar "Intro call", open all day every day, in UTC."""
    return make_calendar(name="Intro call", weekly=ALL_WEEK)


@pytest.fixture
def api_key(app):
    """The Authorization header of a new API key."""
    _, key = keys.create_key("tests")
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def api(client):
    """The test client with a new API key on every request."""
    _, key = keys.create_key("tests")
    return Api(client, key)
