"""Benchmark: contacts enrolled in the demo workflow per second, end to end, against plain smtplib.

    .venv/bin/python bench/workflow_throughput.py [--contacts 5000] [--pg-url postgresql+psycopg://…]

Starts an aiosmtpd server on 127.0.0.1 in a process of its own (like a real mail server, it shares no
interpreter lock with the tagging done here), which counts what it receives, and times sending
--contacts messages (the size of the workflow's email) to it with plain smtplib over one connection,
right before and right after the SQLite run: the ratio uses the mean of the two, because on a shared
machine the CPU's speed drifts over minutes, and a baseline taken only before the run can be off by 20%.
Then, for each run (SQLite with 1 worker; PostgreSQL with 1, 2, then again 1 worker, the 2-worker speed
being compared to the mean of the two 1-worker runs around it), it builds a fresh
database (create_app + db.create_all + the `flask seed-demo` data), creates --contacts contacts,
starts the workers as real processes (`flask --app wsgi worker`, mail to the sink,
RATELIMIT_ENABLED=false), and tags every contact `book-me` in transactions of 500: each tag enrols
the contact in "Send a one-time booking link" (Generate One-Time Booking Link → Send Email).

Timed from the start of tagging (and, also shown, from its last commit) until the sink has received
every email; a run is done when, in the database, each contact has exactly one link and one sent
message and the sink got one message per contact. The enrolments' completion is waited for and
shown too (the worker sends a step's email at once and finishes the enrolment in the same claim).

PostgreSQL: the database of --pg-url is dropped and created with `psql -h HOST -U USER` for each
run; that part is skipped, with a message, when PostgreSQL cannot be reached.
Targets (for 5,000 contacts): SQLite with 1 worker under 60 s; enrolments/s at least 0.3 × the
smtplib messages/s; 2 workers on PostgreSQL at least 1.6 × the speed of 1; exactly one link and
one email per contact in every run.
"""

import argparse
import multiprocessing
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-key-0123456789"
TAG_BATCH = 500
WORKER_POLL = "0.2"  # seconds a worker sleeps when idle (default 1.0)


# --- the SMTP sink -------------------------------------------------------------------------------


def _serve(port: int, count, pipe) -> None:
    """The sink process: an aiosmtpd server that counts messages (in the shared `count`) and recipients
    (sent back on request through `pipe`)."""
    from aiosmtpd.controller import Controller

    lock, recipients = threading.Lock(), Counter()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            with lock:
                recipients.update(envelope.rcpt_tos)
                with count.get_lock():
                    count.value += 1
            return "250 Message accepted for delivery"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    pipe.send("ready")
    while (request := pipe.recv()) != "stop":
        with lock:
            if request == "reset":
                recipients.clear()
                count.value = 0
            pipe.send(dict(recipients))
    controller.stop()
    pipe.send("stopped")


class Sink:
    """A local aiosmtpd server in a process of its own, as a mail server would be: it shares no
    interpreter lock with this process's tagging or its smtplib baseline. Counts messages and recipients."""

    def __init__(self, port: int):
        self.count = multiprocessing.Value("i", 0)
        self.pipe, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(port, self.count, child), daemon=True)
        self.process.start()
        if not self.pipe.poll(30) or self.pipe.recv() != "ready":
            raise RuntimeError("the aiosmtpd sink did not start")

    @property
    def messages(self) -> int:
        return self.count.value

    def reset(self) -> None:
        self._ask("reset")

    def recipients(self) -> Counter:
        return Counter(self._ask("recipients"))

    def stop(self) -> None:
        self._ask("stop")
        self.process.join(10)

    def _ask(self, request: str):
        self.pipe.send(request)
        return self.pipe.recv()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def baseline(port: int, count: int, sink: Sink) -> float:
    """Send `count` messages like the workflow's over one smtplib connection; returns messages/s."""
    from webapp.workflows.demo import BODY

    text = BODY.replace("{{ contact.first_name }}", "Bench").replace("{{ calendar.duration }}", "30")
    text = text.replace("{{ steps.booking_link.url }}", "http://127.0.0.1:5000/book/" + "x" * 43)
    html = "<html><body>" + "".join(f"<p>{line}</p>" for line in text.splitlines()) + "</body></html>"
    sink.reset()
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for i in range(count):
            message = EmailMessage()
            message["Subject"] = "Your personal booking link, Bench"
            message["From"] = "OneSlot demo <noreply@localhost>"
            message["To"] = f"base-{i:05d}@example.com"
            message.set_content(text)
            message.add_alternative(html, subtype="html")
            smtp.send_message(message)
    elapsed = time.perf_counter() - start
    if sink.messages != count:
        sys.exit(f"smtplib baseline: the sink got {sink.messages} of {count} messages")
    return count / elapsed


# --- one run -------------------------------------------------------------------------------------


def make_app(db_url: str):
    from webapp import create_app

    return create_app({"ENV_VARS": {"DATABASE_URL": db_url, "SECRET_KEY": SECRET, "RATELIMIT_ENABLED": "false"}})


def prepare(app, count: int) -> list[int]:
    """Schema, demo data and `count` untagged contacts; returns their ids."""
    from webapp.contacts.services import new_contact
    from webapp.extensions import db
    from webapp.workflows.demo import seed

    with app.app_context():
        db.create_all()
        seed()
        ids = []
        for i in range(count):
            contact = new_contact(
                {"first_name": f"Bench{i}", "last_name": "Load", "email": f"bench-{i:05d}@example.com"}
            )
            ids.append(contact.id)
        db.session.commit()
        return ids


def tag_all(app, ids: list[int]) -> None:
    """Tag every contact `book-me` (enrolling it), TAG_BATCH contacts per transaction."""
    from sqlalchemy import select

    from webapp.contacts.models import Contact
    from webapp.contacts.services import add_tags
    from webapp.extensions import db
    from webapp.workflows.demo import TAG
    from webapp.workflows.services import preload_enrolments

    with app.app_context():
        for first in range(0, len(ids), TAG_BATCH):
            chunk = ids[first : first + TAG_BATCH]
            cache = {}
            preload_enrolments(chunk)  # as the CSV import does: the re-entry checks in one query
            for contact in db.session.scalars(select(Contact).where(Contact.id.in_(chunk))):
                add_tags(contact, [TAG], cache)
            db.session.commit()


def progress(app) -> dict:
    """Counts from the database (bench contacts only)."""
    from sqlalchemy import func, select

    from webapp.booking.models import OneTimeLink
    from webapp.extensions import db
    from webapp.mail.models import OutboxMessage
    from webapp.workflows.models import Enrolment

    with app.app_context():
        try:
            enrolments = dict(
                db.session.execute(select(Enrolment.status, func.count()).group_by(Enrolment.status)).all()
            )
            outbox = dict(
                db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
            )
            links = db.session.scalar(select(func.count()).select_from(OneTimeLink))
        finally:
            db.session.remove()
    return {"enrolments": enrolments, "outbox": outbox, "links": links}


def verify(app, ids: list[int], sink: Sink) -> list[str]:
    """Problems with 'exactly one link and one email per contact' (empty when all is well)."""
    from sqlalchemy import func, select

    from webapp.booking.models import OneTimeLink
    from webapp.contacts.models import Contact
    from webapp.extensions import db
    from webapp.mail.models import OutboxMessage
    from webapp.workflows.models import Enrolment

    problems = []
    wanted = set(ids)
    with app.app_context():
        links = Counter(db.session.scalars(select(OneTimeLink.contact_id)))
        if set(links) != wanted or any(n != 1 for n in links.values()):
            extra = sum(n - 1 for n in links.values() if n > 1)
            problems.append(f"links: {len(set(links) & wanted)} contacts with one, {extra} extra, {len(links)} total")
        emails = dict(db.session.execute(select(Contact.id, Contact.email).where(Contact.id.in_(ids))).all())
        sent = Counter(
            parseaddr(to)[1]
            for to in db.session.scalars(select(OutboxMessage.to_addr).where(OutboxMessage.status == "sent"))
        )
        others = db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "sent")
        )
        if sent != Counter(emails.values()) or others:
            problems.append(f"outbox: {sum(sent.values())} sent ({len(sent)} addresses), {others} not sent")
        enrolments = Counter(db.session.scalars(select(Enrolment.contact_id)))
        if set(enrolments) != wanted or any(n != 1 for n in enrolments.values()):
            problems.append(f"enrolments: {sum(enrolments.values())} for {len(enrolments)} contacts")
        db.session.remove()
    received = sink.recipients()
    if sink.messages != len(ids) or received != Counter(emails.values()):
        dupes = sum(n - 1 for n in received.values() if n > 1)
        problems.append(f"sink: {sink.messages} messages, {len(received)} recipients, {dupes} duplicates")
    return problems


def start_workers(count: int, db_url: str, port: int, logdir: Path) -> list[tuple[subprocess.Popen, Path]]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "SECRET_KEY": SECRET,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(port),
        "RATELIMIT_ENABLED": "false",
    }
    flask = Path(sys.executable).with_name("flask")
    workers = []
    for i in range(count):
        log = logdir / f"worker-{i}.log"
        with open(log, "wb") as handle:
            proc = subprocess.Popen(
                [flask, "--app", "wsgi", "worker", "--poll", WORKER_POLL],
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        workers.append((proc, log))
    deadline = time.monotonic() + 60
    for proc, log in workers:
        while "worker started" not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
    return workers


def stop_workers(workers) -> None:
    for proc, _log in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, _log in workers:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_summary(workers) -> str:
    """Warnings, errors and retries in the workers' logs, most frequent first."""
    odd = Counter()
    for _proc, log in workers:
        for line in log.read_text(errors="replace").splitlines():
            if any(word in line for word in (" WARNING ", " ERROR ", "Traceback", " retry ")):
                odd[re.sub(r"\d+", "#", line.split(": ", 1)[-1])[:120]] += 1
    return "; ".join(f"{n}× {line}" for line, n in odd.most_common(5))


def run(label: str, db_url: str, workers_count: int, count: int, sink: Sink, port: int, timeout: float) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="oneslot-wf-logs-"))
    app = make_app(db_url)
    workers = []
    try:
        ids = prepare(app, count)
        sink.reset()
        workers = start_workers(workers_count, db_url, port, tmp)
        start = time.perf_counter()
        tag_all(app, ids)
        tagged = time.perf_counter()
        deadline = start + timeout
        delivered = None
        while sink.messages < count:
            if time.perf_counter() > deadline:
                break
            if any(proc.poll() is not None for proc, _ in workers):
                break
            time.sleep(0.05)
        else:
            delivered = time.perf_counter()
        # The step's state follows the delivery: wait for links, sent rows and (after the poll) completion.
        completed = None
        state = progress(app)
        while delivered and time.perf_counter() < deadline + 60:
            state = progress(app)
            if state["enrolments"].get("completed", 0) >= count:
                completed = time.perf_counter()
                break
            if any(proc.poll() is not None for proc, _ in workers):
                break
            time.sleep(0.25)
    finally:
        stop_workers(workers)
    problems = verify(app, ids, sink)
    if delivered is None:
        problems.insert(0, f"only {sink.messages} of {count} emails delivered within {timeout:.0f} s")
    if completed is None and delivered:
        problems.append(f"enrolments not all completed: {state['enrolments']}")
    odd = log_summary(workers)
    with app.app_context():
        from webapp.extensions import db

        db.engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "label": label,
        "tag_seconds": tagged - start,
        "seconds": (delivered - start) if delivered else None,
        "after_commit": (delivered - tagged) if delivered else None,
        "completed": (completed - start) if completed else None,
        "rate": count / (delivered - start) if delivered else 0.0,
        "rate_after_commit": count / (delivered - tagged) if delivered else 0.0,
        "problems": problems,
        "log": odd,
    }


# --- PostgreSQL ----------------------------------------------------------------------------------


def psql_args(url) -> list[str]:
    args = ["psql", "-h", url.host or "127.0.0.1", "-U", url.username or "postgres", "-d", "postgres"]
    if url.port:
        args += ["-p", str(url.port)]
    return args + ["-v", "ON_ERROR_STOP=1", "-qtA", "-c"]


def psql(url, sql: str) -> None:
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    subprocess.run([*psql_args(url), sql], check=True, capture_output=True, text=True, timeout=60, env=env)


def pg_reachable(url) -> str | None:
    """None when psql can connect, else why not."""
    if not shutil.which("psql"):
        return "psql is not installed"
    try:
        psql(url, "SELECT 1")
    except subprocess.CalledProcessError as exc:
        return exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else f"psql exited {exc.returncode}"
    except subprocess.TimeoutExpired:
        return "psql timed out"
    return None


def fresh_pg(url) -> None:
    psql(url, f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    psql(url, f'CREATE DATABASE "{url.database}"')


# --- main ----------------------------------------------------------------------------------------


def show(result: dict, count: int, smtp_rate: float) -> None:
    if result["seconds"] is None:
        print(f"{result['label']:22} FAILED   tagging {result['tag_seconds']:5.1f} s")
    else:
        completed = f"{result['completed']:6.1f} s" if result["completed"] else "   n/a"
        print(
            f"{result['label']:22} {result['seconds']:6.1f} s {result['rate']:7.1f} enrol/s"
            f"  (from tag commit {result['rate_after_commit']:7.1f}/s; tagging {result['tag_seconds']:4.1f} s)"
            f"  ratio to smtplib {result['rate'] / smtp_rate:.2f}  all completed at {completed}"
        )
    verdict = "OK" if not result["problems"] else "MISSED: " + "; ".join(result["problems"])
    print(f"{'':22} one link + one mail per contact: {verdict}")
    if result["log"]:
        print(f"{'':22} worker log: {result['log']}")


def target(label: str, ok: bool) -> None:
    print(f"{label}: {'OK' if ok else 'MISSED'}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/oneslot_bench")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a run may take to deliver every email")
    parser.add_argument("--skip-pg", action="store_true", help="only the SQLite run")
    args = parser.parse_args()
    count = args.contacts

    from sqlalchemy.engine import make_url

    port = free_port()
    sink = Sink(port)
    tmp = Path(tempfile.mkdtemp(prefix="oneslot-bench-"))
    pg_url = make_url(args.pg_url)
    results = {}
    try:
        print(f"{count} contacts, workflow “Send a one-time booking link”, aiosmtpd sink on 127.0.0.1:{port}")
        before = baseline(port, count, sink)
        print(f"{'smtplib, 1 connection':22} {count / before:6.1f} s {before:7.1f} msg/s  (before the SQLite run)")
        sys.stdout.flush()
        results["sqlite"] = run("SQLite, 1 worker", f"sqlite:///{tmp / 'bench.db'}", 1, count, sink, port, args.timeout)
        after = baseline(port, count, sink)
        smtp_rate = (before + after) / 2  # the machine's speed drifts: the baseline brackets the run it is compared to
        print(f"{'smtplib, 1 connection':22} {count / after:6.1f} s {after:7.1f} msg/s  (after; mean {smtp_rate:.1f})")
        show(results["sqlite"], count, smtp_rate)
        sys.stdout.flush()
        why = "--skip-pg" if args.skip_pg else pg_reachable(pg_url)
        if why:
            print(f"PostgreSQL runs skipped ({pg_url.render_as_string(hide_password=True)}): {why}")
        else:
            db_url = pg_url.render_as_string(hide_password=False)
            try:
                # 1 worker, 2 workers, then 1 worker again: like the baseline, the 1-worker speed the
                # 2 workers are compared to brackets their run (the mean of the two).
                for key, workers, when in (("pg1", 1, " (before)"), ("pg2", 2, ""), ("pg1b", 1, " (after)")):
                    fresh_pg(pg_url)
                    label = f"PostgreSQL, {workers} worker{'s' if workers > 1 else ''}{when}"
                    results[key] = run(label, db_url, workers, count, sink, port, args.timeout)
                    show(results[key], count, smtp_rate)
                    sys.stdout.flush()
            finally:
                psql(pg_url, f'DROP DATABASE IF EXISTS "{pg_url.database}" WITH (FORCE)')
    finally:
        sink.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    sqlite = results["sqlite"]
    limit = 60 * count / 5000
    print()
    target(
        f"SQLite, 1 worker: {count} in < {limit:.0f} s ({count / limit:.0f}/s)"
        + (f" — {sqlite['seconds']:.1f} s" if sqlite["seconds"] else ""),
        sqlite["seconds"] is not None and sqlite["seconds"] < limit,
    )
    ratio = sqlite["rate"] / smtp_rate
    target(f"SQLite, 1 worker / smtplib >= 0.3 — {ratio:.2f}", ratio >= 0.3)
    if all(key in results for key in ("pg1", "pg2", "pg1b")):
        one = (results["pg1"]["rate"] + results["pg1b"]["rate"]) / 2
        speedup = results["pg2"]["rate"] / one if one else 0.0
        target(f"PostgreSQL 2 workers / 1 worker (mean of before and after) >= 1.6 — {speedup:.2f}", speedup >= 1.6)
    exact = all(not r["problems"] for r in results.values())
    target(f"exactly one link and one mail per contact in {len(results)} run(s)", exact)


if __name__ == "__main__":
    main()
