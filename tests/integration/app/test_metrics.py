"""/metrics in one process: off without METRICS_TOKEN, bearer-protected with it; counters that move when
their transaction commits; request and step durations; queue depth and lag per task source."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_app, tomorrow_at
from tests.factories import ALL_WEEK, book_link, booking_lifecycle, send_link_workflow, tag
from tests.helpers import ROOT, assert_indexed, post_booking, selects_sent
from webapp import config, events, metrics
from webapp.booking import links
from webapp.extensions import db
from webapp.mail import outbox
from webapp.worker import drain

TOKEN = "metrics-token-for-the-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
NOW = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)


@pytest.fixture
def scraping(app):
    app.config["METRICS_TOKEN"] = TOKEN
    return app


def value(name: str, **labels) -> float:
    """A sample of this process's metrics (single-process mode: the test process)."""
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of an exposition."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class Counts:
    """The counters' values now, to compare after the test's actions (they count for the whole process)."""

    NAMES = [
        "oneslot_links_issued_total",
        "oneslot_links_opened_total",
        "oneslot_links_used_total",
        "oneslot_links_revoked_total",
        "oneslot_bookings_made_total",
        "oneslot_bookings_moved_total",
        "oneslot_bookings_cancelled_total",
    ]

    def __init__(self):
        self.before = {name: value(name) for name in self.NAMES}

    def moved(self) -> dict[str, float]:
        """The counters that moved, by how much."""
        return {name[8:-6]: value(name) - was for name, was in self.before.items() if value(name) != was}


# --- off, on, and who may scrape ---------------------------------------------------------------------


def test_off_without_a_token_like_an_unknown_address(client, app):
    app.config["METRICS_TOKEN"] = ""
    response, unknown = client.get("/metrics", headers=AUTH), client.get("/no-such-page")
    assert response.status_code == unknown.status_code == 404
    assert response.text == unknown.text


@pytest.mark.parametrize(
    "header",
    [None, "Bearer wrong-token-of-some-length", f"Basic {TOKEN}", f"bearer {TOKEN}x", "Bearer é€ non-ascii", "Bearer"],
)
def test_without_the_token_401_with_a_challenge(client, scraping, header):
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "oneslot_" not in response.text


def test_with_the_token_the_exposition_no_cookie_no_cache(client, scraping):
    response = client.get("/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"oneslot_bookings_made", "oneslot_queue_depth", "oneslot_queue_lag_seconds"} <= names
    assert client.get("/metrics", headers={"Authorization": f"bearer  {TOKEN} "}).status_code == 200


def test_the_token_setting_must_be_long_enough(tmp_path):
    with pytest.raises(config.ConfigError, match="METRICS_TOKEN"):
        config.load({"METRICS_TOKEN": "short"}, tmp_path)


def test_a_multiprocess_directory_that_is_not_there_stops_the_app(tmp_path):
    with pytest.raises(config.ConfigError, match="PROMETHEUS_MULTIPROC_DIR"):
        config.load({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "missing")}, tmp_path)
    config.load({"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, tmp_path)  # a directory: fine


# --- counted when it commits ---------------------------------------------------------------------------


def test_a_booking_through_the_page_counts_its_link_and_itself(client, make_link):
    counts = Counts()
    _, token = make_link()
    assert client.get(f"/book/{token}").status_code == 200
    assert post_booking(client, token, tomorrow_at(10)).status_code == 303
    assert counts.moved() == {"links_issued": 1, "links_opened": 1, "links_used": 1, "bookings_made": 1}


def test_a_change_whose_transaction_rolls_back_is_not_counted(make_link, make_calendar, make_contact):
    link, _ = make_link()
    counts = Counts()

    def refuse(_booking, **_kwargs):
        raise RuntimeError("a receiver failed: the booking never commits")

    events.booking_made.connect(refuse)
    try:
        with pytest.raises(RuntimeError):
            book_link(link, tomorrow_at(10))
    finally:
        events.booking_made.disconnect(refuse)
    db.session.rollback()
    links.issue(make_calendar(), make_contact())
    db.session.rollback()
    assert counts.moved() == {}
    links.issue(make_calendar(), make_contact())
    db.session.close()  # ended without a commit
    db.session.commit()
    assert counts.moved() == {}
    book_link(db.session.merge(link), tomorrow_at(10))
    assert counts.moved() == {"links_used": 1, "bookings_made": 1}


def test_moves_cancellations_and_revocations(make_link):
    counts = Counts()
    link, _ = make_link()
    booking_lifecycle(link, tomorrow_at(10), tomorrow_at(11))
    other, _ = make_link()
    assert links.revoke(other) and not links.revoke(other)
    moved = counts.moved()
    assert moved["bookings_moved"] == 1 and moved["bookings_cancelled"] == 1 and moved["links_revoked"] == 1


def test_mail_sent_retried_and_failed_by_kind(app, smtp_server):
    smtp_server.configure(app)
    app.config["MAIL_RETRY_DELAYS"] = (0,)
    before = {name: value(f"oneslot_mail_{name}_total", kind="test") for name in ("sent", "retried", "failed")}
    for n in range(2):
        outbox.queue_email(f"ada{n}@example.com", "Hello", "test_message", {"base_url": "x"}, kind="test")
    db.session.commit()
    smtp_server.refuse(1)  # 451: tried again later
    assert outbox.send_due() == 2
    smtp_server.refuse(1, "550 5.1.1 No such mailbox")  # the retry refused for good
    assert outbox.send_due() == 1
    after = {name: value(f"oneslot_mail_{name}_total", kind="test") for name in ("sent", "retried", "failed")}
    assert {name: after[name] - before[name] for name in after} == {"sent": 1, "retried": 1, "failed": 1}
    assert len(smtp_server.messages) == 1


def test_step_durations_by_step_type(app, smtp_server, make_calendar, make_contact):
    smtp_server.configure(app)
    send_link_workflow(make_calendar(weekly=ALL_WEEK))
    runs = {
        kind: value("oneslot_workflow_step_duration_seconds_count", step_type=kind)
        for kind in ("generate_link", "send_email")
    }
    tag(make_contact())
    drain(app)
    for kind, before in runs.items():
        assert value("oneslot_workflow_step_duration_seconds_count", step_type=kind) == before + 1, kind
    assert value("oneslot_workflow_step_duration_seconds_sum", step_type="generate_link") > 0


# --- requests ----------------------------------------------------------------------------------------------


def test_request_durations_by_endpoint_never_by_path(client, scraping, make_link):
    _, token = make_link()
    labels = {"endpoint": "booking.page", "method": "GET", "status": "200"}
    before = value("oneslot_http_request_duration_seconds_count", **labels)
    assert client.get(f"/book/{token}").status_code == 200
    assert value("oneslot_http_request_duration_seconds_count", **labels) == before + 1
    client.get(f"/no/such/{token}")
    exposition = client.get("/metrics", headers=AUTH).text
    assert token not in exposition
    assert 'endpoint="unmatched",method="GET",status="404"' in exposition


# --- the queues --------------------------------------------------------------------------------------------


def test_queue_depth_and_lag_per_source_with_the_clock_pinned(client, scraping, monkeypatch):
    with time_machine.travel(NOW, tick=False) as clock:
        for n in range(3):
            outbox.queue_email(f"ada{n}@example.com", "Hello", "test_message", {"base_url": "x"})
            db.session.commit()
            clock.shift(timedelta(seconds=30))
        later = outbox.queue_email("bo@example.com", "Later", "test_message", {"base_url": "x"})
        later.next_attempt_at = NOW + timedelta(hours=1)  # a retry, not due yet
        db.session.commit()
        clock.shift(timedelta(seconds=60))  # the first was queued 150 s ago, the last 90 s ago
        found = samples(client.get("/metrics", headers=AUTH).text)
        assert found[("oneslot_queue_depth", (("source", "outbox"),))] == 3
        assert found[("oneslot_queue_lag_seconds", (("source", "outbox"),))] == 150
        assert found[("oneslot_queue_depth", (("source", "enrolments"),))] == 0
        assert found[("oneslot_queue_lag_seconds", (("source", "enrolments"),))] == 0
        assert found[("oneslot_database_up", ())] == 1
        monkeypatch.setattr(metrics, "DEPTH_CAP", 2)
        found = samples(client.get("/metrics", headers=AUTH).text)
        assert found[("oneslot_queue_depth", (("source", "outbox"),))] == 2, "counted up to the cap"


def test_every_queue_query_is_answered_by_an_index(client, scraping):
    """Depth and lag of every source: a range of one index each, cheap however large the tables."""
    with selects_sent() as queries:
        assert client.get("/metrics", headers=AUTH).status_code == 200
    tables = {"outbox_messages", "enrolments", "one_time_links", "host_connections", "calendar_event_copies"}
    assert tables <= {word.strip('"') for s, _ in queries for word in s.split()}, queries
    assert len(queries) == 2 * len(tables)
    for statement, parameters in queries:
        assert_indexed(statement, parameters)


def test_the_sources_queues_are_all_there(client, scraping):
    found = samples(client.get("/metrics", headers=AUTH).text)
    sources = {dict(labels)["source"] for name, labels in found if name == "oneslot_queue_depth"}
    assert sources == {"outbox", "enrolments", "link_expiry", "calendar_sync", "calendar_writes"}


def test_a_database_that_is_down_still_gives_the_counters(tmp_path):
    app = make_app(
        tmp_path, ENV_VARS={"DATABASE_URL": f"sqlite:///{tmp_path / 'gone' / 'x.db'}", "METRICS_TOKEN": TOKEN}
    )
    response = app.test_client().get("/metrics", headers=AUTH)
    assert response.status_code == 200
    found = samples(response.text)
    assert found[("oneslot_database_up", ())] == 0
    assert not [name for name, _ in found if name.startswith("oneslot_queue_")]
    assert "oneslot_links_issued_total" in response.text


def test_multiprocess_mode_is_chosen_even_when_prometheus_client_came_first(tmp_path):
    """A process that imported prometheus_client before PROMETHEUS_MULTIPROC_DIR was set still writes
    its values to files there, where a scrape in another process finds them."""
    script = (
        "import os, sys\n"
        "import prometheus_client.values\n"
        "os.environ['PROMETHEUS_MULTIPROC_DIR'] = sys.argv[1]\n"
        "from webapp import metrics\n"
        "metrics.LINKS_ISSUED.inc(3)\n"
        "print(metrics.MULTIPROCESS)\n"
    )
    env = {key: val for key, val in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "True", out.stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("counter_")], list(tmp_path.iterdir())
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(tmp_path))
    assert "oneslot_links_issued_total 3.0" in generate_latest(registry).decode()
