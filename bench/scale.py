"""Benchmark: how every admin page (and the booking page) grows from 1,000 to --contacts contacts.

    .venv/bin/python bench/scale.py [--contacts 100000] [--pg-url postgresql+psycopg://…] [--workdir DIR]

Builds two databases through the app's services, one with 1,000 contacts and one with --contacts
(default 100,000): the contacts come in through the CSV importer (5,000 rows a file), a published
workflow "tag added → Generate One-Time Booking Link → Send Email" is started by tagging them in
transactions of 500, and real `flask --app wsgi worker` processes make the links and send the mail to
a local aiosmtpd sink in a process of its own, which answers 550 to the `bounce-…` addresses (3%;
those messages fail for good, and so do their enrolments), --workers of them (2). The last contacts
are tagged while the only worker running has no MAIL_SERVER, so their messages are held. Then 20% of
the links are opened (links.mark_opened), 5% booked (booking.services.book, on a calendar with enough seats over its
60-day window), a few hundred of those bookings cancelled and a few hundred marked showed/no-show
(with the clock moved past the meetings, as an admin marks them after the fact).

Both databases are then served by `gunicorn -w 2` at once (RATELIMIT_ENABLED=false); the script
signs in to each (GET /login for the CSRF token, POST /login) and asks every page of one, then of the
other, in turns: one warm-up each, then 5 timed GETs, each with a timeout (--timeout, 120 s) after
which the page shows "timeout". Asking side by side keeps a shared machine's drift out of the growth
factor. Prints page | 1,000 (ms) | N (ms) | growth | bytes at N, with "<<" on pages that miss a
target: median under 150 ms at N, and at most 2× the time at 1,000.

`--pg-url` runs the same on PostgreSQL: the database of the URL (N) and the same name with `_small`
(1,000) are dropped and created with psql. `--workdir DIR` keeps the SQLite files there, and
`--skip-build` reuses the databases a previous run with `--workdir` (or the same --pg-url) left.
"""

import argparse
import csv
import http.client
import io
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from workflow_throughput import free_port, fresh_pg, pg_reachable, psql, stop_workers  # noqa: E402

SECRET = "bench-secret-key-0123456789"
SMALL = 1000
TAG = "scale-me"
TAG_BATCH = 500
IMPORT_BATCH = 5000
ADMIN = ("bench@example.com", "bench-password-0123")
RARE_NAME = "Quillfeather"  # three contacts carry it: the search that matches few
FIRST_NAMES = ["Ada", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kai", "Lena"]
TARGET_MS, TARGET_GROWTH = 150.0, 2.0
SINK: dict = {}  # the running sink, whose count build() reads


# --- the SMTP sink -------------------------------------------------------------------------------


def _serve(port: int, count, ready) -> None:
    """The sink process: accepts every message, except that it refuses `bounce-…` recipients with a 550."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            """Refuse `bounce-…` recipients with a 550, as a server does for an unknown mailbox."""
            if address.startswith("bounce-"):
                return "550 5.1.1 No such user here"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            """Count the message and accept it."""
            with count.get_lock():
                count.value += 1
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    ready.set()
    signal.sigwait([signal.SIGTERM])
    controller.stop()


class Sink:
    """A local aiosmtpd server in a process of its own; counts the messages it accepted."""

    def __init__(self, port: int):
        """Start the sink process and wait until it listens."""
        self.count = multiprocessing.Value("i", 0)
        ready = multiprocessing.Event()
        signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM])  # the child inherits the mask for sigwait
        try:
            self.process = multiprocessing.Process(target=_serve, args=(port, self.count, ready), daemon=True)
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
        if not ready.wait(30):
            raise RuntimeError("the aiosmtpd sink did not start")

    def stop(self) -> None:
        """Stop the sink process."""
        self.process.terminate()
        self.process.join(10)


# --- building a database -------------------------------------------------------------------------


def make_app(db_url: str):
    """An app on the database (no server: the build runs in this process)."""
    from webapp import create_app

    return create_app({"ENV_VARS": {"DATABASE_URL": db_url, "SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "false"}})


def _address(i: int) -> str:
    # 3% bounce (the sink refuses them), in runs of 50 contacts: a message that fails for good sends its
    # worker batch back to one-by-one (engine._batch_pass), so scattered bounces slow the build a lot.
    """The email of contact `i`; 3% of them bounce."""
    return f"bounce-{i:06d}@example.com" if (i // 50) % 33 == 7 else f"person-{i:06d}@example.com"


def _csv(first: int, last: int, count: int) -> bytes:
    """A CSV file of contacts first..last-1, as an admin would upload it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["first_name", "last_name", "email"])
    for i in range(first, last):
        surname = RARE_NAME if i in (11, count // 2, count - 3) else f"Family{i % 997}"
        writer.writerow([FIRST_NAMES[i % len(FIRST_NAMES)], surname, _address(i)])
    return out.getvalue().encode()


def _setup(count: int) -> dict:
    """Admin, calendars and the published workflow; returns ids."""
    from webapp.auth.services import create_admin
    from webapp.calendars.services import create_calendar
    from webapp.workflows.demo import link_by_email

    create_admin(*ADMIN)
    weekdays = {day: [(9 * 60, 17 * 60)] for day in range(5)}
    # 60 days of weekdays 09:00–17:00 in 30 minutes: about 670 slots; enough seats for 5% of the links.
    seats = max(1, -(-count // 20 // 600))
    calendar = create_calendar(
        {"name": "Scale call", "timezone": "Europe/London", "duration": 30, "window_days": 60, "seats": seats},
        weekly=weekdays,
    )
    for name in ("Second call", "Team demo"):
        create_calendar({"name": name, "timezone": "America/New_York", "duration": 45}, weekly=weekdays)
    workflow = link_by_email(calendar, TAG, "OneSlot scale")
    return {"calendar": calendar.id, "workflow": workflow.id}


def _import(count: int) -> list[int]:
    """The contacts, through the CSV importer; returns their ids in order."""
    from sqlalchemy import select

    from webapp.contacts.importer import import_csv
    from webapp.contacts.models import Contact
    from webapp.extensions import db

    for first in range(0, count, IMPORT_BATCH):
        report = import_csv(_csv(first, min(first + IMPORT_BATCH, count), count), "scale.csv")
        if report.counts["imported"] != min(IMPORT_BATCH, count - first):
            raise RuntimeError(f"import: {report.counts}")
        db.session.remove()
    return list(db.session.scalars(select(Contact.id).order_by(Contact.id)))


def _tag(ids: list[int]) -> None:
    """Tag contacts (enrolling them), TAG_BATCH per transaction, as workflow_throughput.py does."""
    from sqlalchemy import select

    from webapp.contacts.models import Contact
    from webapp.contacts.services import add_tags
    from webapp.extensions import db
    from webapp.workflows.services import preload_enrolments

    for first in range(0, len(ids), TAG_BATCH):
        chunk = ids[first : first + TAG_BATCH]
        cache = {}
        preload_enrolments(chunk)
        for contact in db.session.scalars(select(Contact).where(Contact.id.in_(chunk))):
            add_tags(contact, [TAG], cache)
        db.session.commit()
        db.session.remove()


def start_worker(
    db_url: str, mail_port: int | None, logdir: Path, count: int = 1
) -> list[tuple[subprocess.Popen, Path]]:
    """`flask --app wsgi worker` processes sending to the sink (or, with no mail_port, with no mail server)."""
    return [_one_worker(db_url, mail_port, logdir) for _ in range(count)]


def _one_worker(db_url: str, mail_port: int | None, logdir: Path) -> tuple[subprocess.Popen, Path]:
    """Start one worker process and wait for its "worker started" line."""
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "false"}
    env.pop("MAIL_SERVER", None)
    if mail_port:
        env.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mail_port))
    log = logdir / f"worker-{time.monotonic_ns()}.log"
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            [Path(sys.executable).with_name("flask"), "--app", "wsgi", "worker", "--poll", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "worker started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return proc, log


def _wait_idle(workers, timeout: float, held: bool = False) -> dict:
    """Wait until no enrolment is active and no message pending; returns the outbox counts."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.mail.models import OutboxMessage
    from webapp.workflows.models import Enrolment

    deadline = time.monotonic() + timeout
    while True:
        busy = db.session.scalar(select(func.count()).select_from(Enrolment).where(Enrolment.status == "active"))
        outbox = dict(
            db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        )
        db.session.remove()
        if not busy and not outbox.get("pending"):
            return outbox
        if time.monotonic() > deadline or any(proc.poll() is not None for proc, _ in workers):
            raise RuntimeError(f"the workers did not finish: {busy} enrolments busy, outbox {outbox}")
        time.sleep(0.5)


def _open_and_book(calendar_id: int) -> dict:
    """Open 20% of the links and book 5% (a quarter of those opened); returns counts."""
    from sqlalchemy import select

    from webapp.booking import links
    from webapp.booking.models import OneTimeLink
    from webapp.booking.services import Invitee, book
    from webapp.calendars.models import Calendar
    from webapp.calendars.services import slots
    from webapp.extensions import db

    link_ids = list(db.session.scalars(select(OneTimeLink.id).order_by(OneTimeLink.id)))
    opened = link_ids[::5]
    for link_id in opened:
        links.mark_opened(db.session.get(OneTimeLink, link_id))
        db.session.expunge_all()
    calendar = db.session.get(Calendar, calendar_id)
    today = datetime.now(UTC).date()
    starts = [slot.start for slot in slots(calendar, today + timedelta(days=1), today + timedelta(days=58), "UTC")]
    booked = []
    for n, link_id in enumerate(opened[::4]):
        link = db.session.get(OneTimeLink, link_id)
        name = link.contact.name
        booking = book(link, starts[n % len(starts)], Invitee(name=name, email="", timezone="Europe/Paris"))
        booked.append(booking.id)
        db.session.expunge_all()
    return {"opened": len(opened), "booked": booked}


def _cancel_and_mark(booked: list[int], count: int) -> dict:
    """Cancel a few hundred bookings; mark a few hundred others showed / no-show once their time has passed."""
    import time_machine

    from webapp.booking.models import Booking
    from webapp.booking.services import cancel, set_attendance
    from webapp.extensions import db

    few = max(2, min(300, count // 300))
    for booking_id in booked[1 : 1 + 3 * few : 3]:
        cancel(db.session.get(Booking, booking_id), "Something came up", by="admin")
    marked = booked[2 : 2 + 3 * few : 3]
    with time_machine.travel(datetime.now(UTC) + timedelta(days=62), tick=True):
        for n, booking_id in enumerate(marked):
            set_attendance(db.session.get(Booking, booking_id), "no_show" if n % 3 == 0 else "showed")
    return {"cancelled": len(booked[1 : 1 + 3 * few : 3]), "attendance": len(marked)}


def build(db_url: str, count: int, port: int, logdir: Path, workers_count: int = 1) -> dict:
    """The whole database of `count` contacts; returns what the timing needs and what was built."""
    from sqlalchemy import func, select

    from webapp.extensions import db
    from webapp.mail.models import OutboxMessage

    app = make_app(db_url)
    started = time.perf_counter()
    phases = {}
    received = SINK["sink"].count
    received.value = 0
    with app.app_context():
        db.create_all()
        ids = _setup(count)
        t = time.perf_counter()
        contact_ids = _import(count)
        phases["import"] = time.perf_counter() - t
        held = max(3, count // 200)
        workers = start_worker(db_url, port, logdir, workers_count)
        try:
            t = time.perf_counter()
            _tag(contact_ids[:-held])
            _wait_idle(workers, timeout=max(600, count / 10))
            phases["workflow"] = time.perf_counter() - t
        finally:
            stop_workers(workers)
        # The last contacts meet a worker with no mail server: their messages are held.
        workers = start_worker(db_url, None, logdir)
        try:
            _tag(contact_ids[-held:])
            _wait_idle(workers, timeout=300)
        finally:
            stop_workers(workers)
        workers = start_worker(db_url, port, logdir)  # sends the booking mails
        try:
            t = time.perf_counter()
            done = _open_and_book(ids["calendar"])
            phases["open+book"] = time.perf_counter() - t
            done.update(_cancel_and_mark(done["booked"], count))
            _wait_idle(workers, timeout=600)
        finally:
            stop_workers(workers)
        outbox = dict(
            db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
        )
        db.session.remove()
        db.engine.dispose()
    seconds = time.perf_counter() - started
    booked = len(done.pop("booked"))
    print(
        f"built {count:,} contacts in {seconds:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in phases.items())}): "
        f"{done['opened']:,} opened, {booked:,} booked, {done['cancelled']} cancelled, "
        f"{done['attendance']} showed/no-show; outbox {outbox}; the sink accepted {received.value}",
        flush=True,
    )
    return {"seconds": seconds}


def targets(db_url: str) -> dict:
    """The ids and the unused link's path the pages need, read from a built database."""
    from sqlalchemy import select

    from webapp.booking import links
    from webapp.booking.models import Booking, OneTimeLink
    from webapp.extensions import db
    from webapp.workflows.models import Enrolment, Workflow

    app = make_app(db_url)
    with app.app_context():
        booking = db.session.scalars(
            select(Booking).where(Booking.contact_id.is_not(None)).order_by(Booking.id)
        ).first()
        workflow_id = db.session.scalar(select(Workflow.id).order_by(Workflow.id))
        unused = db.session.scalars(
            select(OneTimeLink)
            .where(OneTimeLink.opened_at.is_(None), OneTimeLink.used_at.is_(None))
            .order_by(OneTimeLink.id.desc())
        ).first()
        enrolment_id = db.session.scalar(
            select(Enrolment.id).where(Enrolment.contact_id == booking.contact_id).order_by(Enrolment.id)
        )
        found = {
            "contact": booking.contact_id,
            "calendar": booking.calendar_id,
            "workflow": workflow_id,
            "enrolment": enrolment_id,
            "book": "/book/" + links.url(unused).rsplit("/", 1)[1],
        }
        db.session.remove()
        db.engine.dispose()
    return found


# --- timing the pages ----------------------------------------------------------------------------


def pages(ids: dict) -> list[tuple[str, str]]:
    """(label, path) of every page timed."""
    return [
        ("dashboard /", "/"),
        ("contacts", "/contacts/"),
        (f"contacts ?q={RARE_NAME}", f"/contacts/?q={RARE_NAME}"),
        ("contacts ?q=Fam", "/contacts/?q=Fam"),
        ("a contact", f"/contacts/{ids['contact']}"),
        ("calendars", "/calendars/"),
        ("a calendar's links", f"/links/calendar/{ids['calendar']}"),
        ("bookings", "/bookings/"),
        ("sent mail", "/mail/"),
        ("workflows", "/workflows/"),
        ("workflow editor", f"/workflows/{ids['workflow']}"),
        ("enrolments", f"/workflows/{ids['workflow']}/enrolments"),
        ("an enrolment", f"/enrolments/{ids['enrolment']}"),
        ("settings", "/settings"),
        ("booking page", ids["book"]),
    ]


class Client:
    """A browser of one: one connection, the session cookie, a timeout per request."""

    def __init__(self, port: int, timeout: float):
        """A client of the gunicorn on `port`; no connection yet."""
        self.port, self.timeout, self.cookies = port, timeout, {}
        self.conn = None

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, bytes]:
        """One request on the kept connection; returns the status and the body."""
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # a connection the server closed (a killed worker) is reopened once
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
            except TimeoutError:
                self.close()
                raise
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def close(self) -> None:
        """Drop the connection (the next request opens a new one)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def login(self) -> None:
        """Sign in as the admin: GET /login for the CSRF token, then POST /login."""
        status, page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"GET /login: {status}")
        form = f"csrf_token={quote(token[1].decode())}&email={quote(ADMIN[0])}&password={quote(ADMIN[1])}"
        status, _ = self.request("POST", "/login", form)
        if status != 303:
            raise RuntimeError(f"POST /login answered {status}")


def serve(db_url: str, logfile: Path, timeout: float) -> tuple[subprocess.Popen, int]:
    """gunicorn -w 2 on the database, as booking_page.py starts it; returns the process and its port."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": db_url, "SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "false"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    with open(logfile, "ab") as log:
        server = subprocess.Popen(
            [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", str(int(timeout)), "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start: {logfile.read_text()[-2000:]}") from None
            time.sleep(0.1)
    return server, port


def _stop(server: subprocess.Popen) -> None:
    """Stop a gunicorn: SIGTERM, then kill after 30 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def measure(urls: dict, logdir: Path, timeout: float, repeat: int = 5) -> dict:
    """{size: {label: (median ms or None for a timeout, bytes, status)}} for every page of both databases.

    Both databases are served at once and each page is asked of one then the other, in turns: on a
    shared machine the speed drifts over minutes, and the growth factor compares requests made side by side.
    """
    servers, clients, todo = {}, {}, {}
    results = {size: {} for size in urls}
    try:
        for size, url in urls.items():
            todo[size] = pages(targets(url))
            servers[size], port = serve(url, logdir / f"gunicorn-{size}.log", timeout)
            clients[size] = Client(port, timeout)
            clients[size].login()
        # The dashboard last: a timeout there leaves a gunicorn worker busy until gunicorn kills it.
        order = list(range(1, len(todo[SMALL]))) + [0]
        for index in order:
            times = {size: [] for size in urls}
            seen = {size: (0, 0) for size in urls}
            for n in range(repeat + 1):
                for size in urls:
                    if times[size] is None:
                        continue
                    path = todo[size][index][1]
                    start = time.perf_counter()
                    try:
                        status, body = clients[size].request("GET", path)
                    except TimeoutError:
                        times[size] = None
                        continue
                    if n:
                        times[size].append((time.perf_counter() - start) * 1000)
                    seen[size] = (len(body), status)
            label = todo[SMALL][index][0]
            for size in urls:
                results[size][label] = (statistics.median(times[size]) if times[size] else None, *seen[size])
            line = "   ".join(f"{size:>7,}: {_ms(results[size][label][0]):>8} ms" for size in urls)
            print(f"  {label:28} {line}", flush=True)
    finally:
        for server in servers.values():
            _stop(server)
    return results


def _ms(value: float | None) -> str:
    """A median for the table: "timeout" when the page did not answer."""
    return "timeout" if value is None else f"{value:.1f}"


def table(small: dict, large: dict, count: int, title: str) -> None:
    """The table: page | 1,000 | N | growth | bytes at N, "<<" where a target is missed."""
    print(f"\n{title}: median of 5 GETs after one warm-up, gunicorn -w 2")
    print(f"targets: < {TARGET_MS:.0f} ms at {count:,}, growth <= {TARGET_GROWTH:.0f}x   (<< marks a miss)")
    print(f"{'page':30} {f'{SMALL:,} (ms)':>12} {f'{count:,} (ms)':>12} {'growth':>8} {f'bytes at {count:,}':>16}")
    missed = 0
    for label, (big, size, status) in large.items():
        base = small[label][0]
        growth = big / base if big is not None and base else None
        miss = big is None or big >= TARGET_MS or (growth is not None and growth > TARGET_GROWTH)
        missed += miss
        note = (" <<" if miss else "") + ("" if status == 200 else f" (HTTP {status})")
        print(
            f"{label:30} {_ms(base):>12} {_ms(big):>12} "
            f"{'n/a' if growth is None else f'{growth:.1f}x':>8} {size:>16,}{note}"
        )
    print(f"{missed} of {len(large)} pages miss a target")


# --- main ----------------------------------------------------------------------------------------


def settle(url: str) -> None:
    """PostgreSQL: refresh the planner's statistics, as autovacuum does within a minute of a bulk load.

    Timed straight after building, before autovacuum has looked, PostgreSQL plans with the statistics of
    empty tables (a common-prefix contact search took 560 ms instead of 29 ms); no running install
    stays in that state."""
    from sqlalchemy import create_engine

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def run(label: str, urls: dict, count: int, args, port: int, logdir: Path) -> None:
    """Build (unless --skip-build) both databases, time their pages side by side, print the table."""
    urls = {SMALL: urls["small"], count: urls["large"]}
    for size, url in urls.items():
        if args.skip_build:
            continue
        if args.pg:
            fresh_pg(args.pg_urls[size])
        elif url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
        build(url, size, port, logdir, args.workers)
    if args.pg:
        for url in urls.values():
            settle(url)
    print(f"{label}: timing the pages of both databases, in turns", flush=True)
    results = measure(urls, logdir, args.timeout)
    table(results[SMALL], results[count], count, label)


def main():
    """Parse the options, start the sink, build and time both databases."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--pg-url", help="run on PostgreSQL: this database (N) and <name>_small (1,000)")
    parser.add_argument("--workdir", help="keep the SQLite databases and the logs in this folder")
    parser.add_argument("--skip-build", action="store_true", help="time the databases a previous run left")
    parser.add_argument("--workers", type=int, default=2, help="worker processes taking the contacts through")
    parser.add_argument("--timeout", type=float, default=120, help="seconds a request may take")
    args = parser.parse_args()
    count = args.contacts
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="oneslot-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    args.pg = bool(args.pg_url)
    if args.pg:
        from sqlalchemy.engine import make_url

        large = make_url(args.pg_url)
        small = large.set(database=f"{large.database}_small")
        if why := pg_reachable(large):
            sys.exit(f"PostgreSQL cannot be reached ({large.render_as_string()}): {why}")
        args.pg_urls = {SMALL: small, count: large}
        urls = {"small": small.render_as_string(False), "large": large.render_as_string(False)}
        label = "PostgreSQL"
    else:
        urls = {"small": f"sqlite:///{workdir / 'small.db'}", "large": f"sqlite:///{workdir / f'scale-{count}.db'}"}
        label = "SQLite"
    port = free_port()
    sink = SINK["sink"] = Sink(port)
    try:
        run(label, urls, count, args, port, workdir)
    finally:
        sink.stop()
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
            if args.pg:
                for url in args.pg_urls.values():
                    psql(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
