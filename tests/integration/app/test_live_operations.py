"""/readyz and /metrics on real processes: gunicorn (2 workers, multiprocess metrics) and `flask worker`
on one migrated database (SQLite, or PostgreSQL with TEST_DATABASE_URL), mail to a real SMTP server.
One gunicorn for the module; the worker is started and stopped by the tests."""

import http.cookiejar
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import (
    SMTPSink,
    free_port,
    make_app,
    recreate_database,
    running_smtp_sink,
    tomorrow_at,
    wait_until_up,
)
from tests.factories import ALL_WEEK, send_link_workflow, tag
from tests.helpers import ROOT, stop_process
from webapp.api import keys
from webapp.calendars import services as calendars
from webapp.contacts.models import Contact, normalize_email
from webapp.extensions import db

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent
TOKEN = "live-metrics-token-0123456789"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Live:
    """The module's gunicorn, its database and mail server, and a `flask worker` on demand."""

    def __init__(self, tmp: Path, smtp: SMTPSink):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.metrics_dir = tmp / "prometheus"
        self.metrics_dir.mkdir()
        url = os.environ.get("TEST_DATABASE_URL", "")
        if url.startswith("postgresql"):
            self.database = f"{url}_live"
            recreate_database(self.database)
        else:
            self.database = f"sqlite:///{tmp / 'live.db'}"
        self.env = {
            **{key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"},
            "DATABASE_URL": self.database,
            "SECRET_KEY": "live-operations-test-secret-key",
            "BASE_URL": self.base,
            "METRICS_TOKEN": TOKEN,
            "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            "MAIL_SERVER": smtp.host,
            "MAIL_PORT": str(smtp.port),
            "RATELIMIT_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
        migrate = subprocess.run(
            [BIN / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stderr
        # The test's own app on the same database, to make rows (it keeps its metrics in memory).
        self.app = make_app(tmp, ENV_VARS={"DATABASE_URL": self.database}, INSTANCE_PATH=str(tmp / "instance"))
        self.log = tmp / "gunicorn.log"
        with self.log.open("w") as log:
            self.gunicorn = subprocess.Popen(
                [BIN / "gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "wsgi:app"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.worker: subprocess.Popen | None = None

    def start_worker(self) -> subprocess.Popen:
        assert self.worker is None or self.worker.poll() is not None
        self.worker = subprocess.Popen(
            [BIN / "flask", "--app", "wsgi", "worker", "--poll", "0.2"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        return self.worker

    def stop_worker(self) -> str:
        """SIGTERM, as a process manager stops it; returns what it logged."""
        assert self.worker is not None
        self.worker.send_signal(signal.SIGTERM)
        _, err = self.worker.communicate(timeout=30)
        assert self.worker.returncode == 0, err
        return err

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def ready(self) -> tuple[int, dict]:
        status, body = self.get("/readyz")
        return status, json.loads(body)

    def scrape(self) -> dict[tuple[str, tuple], float]:
        status, body = self.get("/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200, body
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }

    def close(self) -> None:
        for process in (self.worker, self.gunicorn):
            if process is not None:
                stop_process(process)
        with self.app.app_context():
            db.engine.dispose()
        if self.database.startswith("postgresql"):
            recreate_database(self.database, create=False)


@pytest.fixture(scope="module")
def smtp():
    with running_smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def live(tmp_path_factory, smtp):
    server = Live(tmp_path_factory.mktemp("live"), smtp)
    try:
        wait_until_up(server.base, server.gunicorn, server.log)
        yield server
    finally:
        server.close()


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return result


def test_readyz_turns_503_when_the_worker_stops_and_200_when_it_is_back(live):
    status, body = live.ready()
    assert status == 503 and [r["code"] for r in body["reasons"]] == ["no_worker_heartbeat"], body
    live.start_worker()
    wait_for(lambda: live.ready()[0] == 200, 30, "the worker's first heartbeat")
    assert live.ready()[1] == {"status": "ready", "reasons": []}
    err = live.stop_worker()
    assert "worker stopped" in err
    status, body = live.ready()
    assert status == 503, "a clean stop forgets the worker's heartbeat at once"
    assert [r["code"] for r in body["reasons"]] == ["no_worker_heartbeat"]
    live.start_worker()
    wait_for(lambda: live.ready()[0] == 200, 30, "the worker to be back")
    live.stop_worker()


def book_through_http(base: str, url: str) -> int:
    """Open the link (a cookie and the form's CSRF token), then book tomorrow 10:00 UTC; the status."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with opener.open(url, timeout=30) as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())[1]
    form = {
        "start": tomorrow_at(10).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "timezone": "UTC",
        "csrf_token": csrf,
    }
    try:
        with opener.open(url, urllib.parse.urlencode(form).encode(), timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def issue_link(base: str, key: str, calendar_id: int, email: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/v1/one-time-links",
        data=json.dumps({"calendar_id": calendar_id, "email": email}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())["url"]


def counted_mail(found: dict, at_least: int) -> dict | None:
    """The scrape once it counts `at_least` messages sent (the worker counts each as its "sent" commits)."""
    return found if total(found, "oneslot_mail_sent_total") >= at_least else None


def total(found: dict, name: str, **labels) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(
        value for (sample, sample_labels), value in found.items() if sample == name and wanted <= set(sample_labels)
    )


def test_metrics_count_a_booking_and_add_up_every_process(live, smtp):
    with live.app.app_context():
        calendar = calendars.create_calendar({"name": "Live call", "timezone": "UTC", "duration": 30}, weekly=ALL_WEEK)
        _, key = keys.create_key("live test")
        send_link_workflow(calendar)  # "vip" tagged: a link and an email, by the worker
        contact = Contact(first_name="Grace", email="grace@example.com", email_key=normalize_email("grace@example.com"))
        db.session.add(contact)
        db.session.commit()
        tag(contact)
        calendar_id = calendar.id
        db.session.remove()

    # Links issued by the API, and opened all at once: both gunicorn workers answer some.
    urls = [issue_link(live.base, key, calendar_id, f"person{n}@example.com") for n in range(12)]
    opened = []

    def open_link(url):
        opened.append(live.get(urllib.parse.urlsplit(url).path)[0])

    threads = [threading.Thread(target=open_link, args=(url,)) for url in urls[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert opened == [200] * 11
    assert book_through_http(live.base, urls[0]) == 303

    live.start_worker()
    try:
        wait_for(lambda: len(smtp.messages) >= 2, 60, "the worker to send the link's email and the confirmation")
        found = wait_for(lambda: counted_mail(live.scrape(), 2), 30, "the mail counted")
    finally:
        live.stop_worker()

    assert total(found, "oneslot_bookings_made_total") == 1
    assert total(found, "oneslot_links_used_total") == 1
    assert total(found, "oneslot_links_issued_total") == 13, "12 by the API in gunicorn, 1 by the worker's workflow"
    assert total(found, "oneslot_links_opened_total") == 12
    assert total(found, "oneslot_mail_sent_total", kind="workflow") == 1
    assert total(found, "oneslot_mail_sent_total", kind="booking_confirmed") == 1
    assert total(found, "oneslot_workflow_step_duration_seconds_count", step_type="generate_link") == 1
    booked = {"endpoint": "booking.book", "method": "POST", "status": "303"}
    assert total(found, "oneslot_http_request_duration_seconds_count", **booked) == 1
    assert total(found, "oneslot_http_request_duration_seconds_count", endpoint="booking.page") == 12
    assert not [labels for (_name, labels) in found if any("/book/" in str(v) for _k, v in labels)]
    # Every process wrote its own file, and the scrape added them up.
    pids = {int(re.search(r"_(\d+)\.db$", path.name)[1]) for path in live.metrics_dir.glob("*.db")}
    assert live.worker is not None and live.worker.pid in pids
    assert len(pids - {live.worker.pid}) >= 2, f"both gunicorn workers answered: {pids}"


def test_metrics_without_the_token_401(live):
    status, body = live.get("/metrics")
    assert status == 401 and "oneslot_" not in body
    status, _ = live.get("/metrics", {"Authorization": "Bearer not-the-token-at-all"})
    assert status == 401
