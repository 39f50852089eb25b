"""The step types beyond the seed, run through the real engine and worker: Add tag, Remove tag,
Internal notification email (to aiosmtpd) and Outgoing webhook (to a real HTTP server on loopback)."""

import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from tests.conftest import free_port
from tests.factories import enrol_now, make_workflow, step
from tests.helpers import enrolments
from webapp import outbound, secretbox
from webapp.clock import utcnow
from webapp.contacts import services as contacts
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain
from webapp.workflows import engine, services
from webapp.workflows.actions import webhook
from webapp.workflows.models import Enrolment, StepRun

pytestmark = pytest.mark.usefixtures("fast_retries")

SECRET = "s3cret-for-tests"


@pytest.fixture(autouse=True)
def loopback_receivers(app):
    """The receivers here listen on loopback, which the outbound policy refuses unless allowed."""
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("127.0.0.0/8")


def run_bounded(times=30) -> int:
    """The worker's task source a bounded number of times: a trigger loop shows as work left, not a hang."""
    done = 0
    for _ in range(times):
        done += engine.run_due(10)
    return done


def only_run(enrolment) -> StepRun:
    [run] = db.session.get(Enrolment, enrolment.id, populate_existing=True).step_runs
    return run


# --- tags --------------------------------------------------------------------------------------------


def test_add_tag_normalises_and_fires_other_workflows_not_its_own(app, make_contact):
    tagger = make_workflow("tag_added", {"tag": "vip"}, [step("t1", "add_tag", tag=" VIP ")], name="Tagger")
    listener = make_workflow("tag_added", {"tag": "vip"}, [step("n1", "remove_tag", tag="nothing")], name="Listener")
    starter = make_workflow(name="Starter", steps=[step("s1", "add_tag", tag="VIP")], allow_reentry=True)
    contact = make_contact()
    enrol_now(starter, contact)
    drain(app)
    assert contact.tag_names == ["vip"]
    [by_step] = enrolments(listener)
    assert by_step.event == {"type": "tag_added", "tag": "vip", "via_workflows": [starter.id]}
    assert [e.event["via_workflows"] for e in enrolments(tagger)] == [[starter.id]]
    assert enrolments(starter)[0].status == "completed"
    run = enrolments(starter)[0].step_runs[0]
    assert run.output == {"tag": "vip", "added": True, "summary": "Tag “vip” added."}


def test_a_workflow_does_not_enrol_a_contact_into_itself_through_its_own_step(app, make_contact):
    # Re-entry on, and the tag removed then added again: without the guard this would run forever.
    loop = make_workflow(
        "tag_added",
        {"tag": "x"},
        [step("r", "remove_tag", tag="x"), step("a", "add_tag", tag="x")],
        name="Loop",
        allow_reentry=True,
    )
    contact = make_contact()
    contacts.add_tags(contact, ["x"])
    db.session.commit()
    run_bounded()
    [enrolment] = enrolments(loop)
    assert enrolment.status == "completed" and contact.tag_names == ["x"]
    assert engine.run_due(10) == 0  # nothing left to do


@pytest.mark.parametrize("reentry", [False, True])
@pytest.mark.parametrize("remove_first", [False, True])
def test_two_workflows_tagging_each_other_do_not_loop(app, make_contact, reentry, remove_first):
    def steps(mine, other):
        return [step(f"r-{mine}", "remove_tag", tag=mine)] * remove_first + [step(f"a-{mine}", "add_tag", tag=other)]

    a = make_workflow("tag_added", {"tag": "x"}, steps("x", "y"), name="A", allow_reentry=reentry)
    b = make_workflow("tag_added", {"tag": "y"}, steps("y", "x"), name="B", allow_reentry=reentry)
    contact = make_contact()
    contacts.add_tags(contact, ["x"])
    db.session.commit()
    run_bounded()
    assert engine.run_due(10) == 0
    assert len(enrolments(a)) == 1 and len(enrolments(b)) == 1
    assert enrolments(b)[0].event["via_workflows"] == [a.id]
    assert all(e.status == "completed" for e in enrolments(a) + enrolments(b))


def test_remove_tag_and_removing_one_the_contact_does_not_have(app, make_contact):
    workflow = make_workflow(steps=[step("r1", "remove_tag", tag="News"), step("r2", "remove_tag", tag="absent")])
    contact = make_contact()
    contacts.add_tags(contact, ["news", "vip"])
    db.session.commit()
    enrolment = enrol_now(workflow, contact)
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "completed" and contact.tag_names == ["vip"]
    first, second = (run.output for run in enrolment.step_runs)
    assert first["removed"] is True and second["removed"] is False
    assert "did not have the tag “absent”" in second["summary"]


# --- internal notification email --------------------------------------------------------------------


def notify_step(**config):
    base = {"admin_id": None, "to": "", "subject": "New lead: {{ contact.name }}"}
    base["body"] = "{{ contact.email }} entered."
    return step("n1", "notify_email", **{**base, **config})


@pytest.mark.parametrize("recipient", ["admin", "address"])
def test_notification_to_an_admin_or_an_address_through_the_outbox(app, admin, make_contact, smtp_server, recipient):
    smtp_server.configure(app)
    config = {"admin_id": admin.id} if recipient == "admin" else {"to": "team@example.com"}
    workflow = make_workflow(steps=[notify_step(**config)])
    enrolment = enrol_now(workflow, make_contact(first_name="Ada", last_name="Lovelace", email="ada@example.com"))
    drain(app)
    [sent] = smtp_server.messages
    assert sent["To"] == ("admin@example.com" if recipient == "admin" else "team@example.com")
    assert sent["Subject"] == "New lead: Ada Lovelace"
    assert "ada@example.com entered." in sent.get_body(("plain",)).get_content()
    message = db.session.scalar(select(OutboxMessage))
    assert message.kind == "notification" and message.status == "sent"
    run = only_run(enrolment)
    assert run.status == "done" and run.output["outbox_id"] == message.id


def test_notification_waits_for_the_outbox_and_fails_with_the_servers_reason(app, admin, make_contact, smtp_server):
    smtp_server.configure(app)
    smtp_server.refuse(10, "550 5.1.1 No such user")
    workflow = make_workflow(steps=[notify_step(admin_id=admin.id)])
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed" and "550 5.1.1 No such user" in enrolment.last_error


def test_notification_to_an_admin_deleted_since_fails_the_enrolment(app, admin, make_contact):
    workflow = make_workflow(steps=[notify_step(admin_id=admin.id)])
    db.session.delete(admin)
    db.session.commit()
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed" and "admin to notify no longer exists" in enrolment.last_error


# --- outgoing webhook: a real HTTP server on loopback -----------------------------------------------


class Receiver:
    """An HTTP server on 127.0.0.1 that checks each request's signature and answers from a script."""

    def __init__(self, secret=SECRET):
        self.secret = secret
        self.requests = []  # dicts: path, headers, body, signature_ok
        self.answers = []  # (status, body, extra headers) to give, in order; then 200
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                expected = "sha256=" + hmac.new(receiver.secret.encode(), body, hashlib.sha256).hexdigest()
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": body,
                        "signature_ok": hmac.compare_digest(self.headers.get("X-OneSlot-Signature", ""), expected),
                    }
                )
                time.sleep(receiver.delay)
                status, text, headers = receiver.answers.pop(0) if receiver.answers else (200, "ok", {})
                payload = text.encode()
                self.send_response(status)
                headers = {"Content-Type": "text/plain; charset=utf-8", **headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/oneslot?src=test"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, status, text="", headers=None):
        self.answers.append((status, text, headers or {}))


@pytest.fixture
def receiver():
    server = Receiver()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


BODY = '{"name": "{{ contact.name }}", "email": "{{ contact.email }}", "workflow": "{{ workflow.name }}", "n": 1}'


def sealed(secret=SECRET) -> str:
    """A signing secret as the step config stores it."""
    return secretbox.seal(secret, webhook.PURPOSE)


def hook_step(url, body=BODY, secret=SECRET):
    """A webhook step as the editor stores it: the signing secret sealed."""
    return step("h1", "webhook", url=url, body=body, secret=sealed(secret))


def test_webhook_posts_signed_json_with_values_escaped(app, make_contact, receiver):
    receiver.answer(200, "thanks " + "x" * 2000)
    workflow = make_workflow(name="Hooks \\ “quoted”", steps=[hook_step(receiver.url)])
    contact = make_contact(first_name='Ann "The Hammer"', last_name="O'Neil\\\nJr", email="ann@example.com")
    enrolment = enrol_now(workflow, contact)
    drain(app)
    [request] = receiver.requests
    assert request["signature_ok"] and request["path"] == "/hooks/oneslot?src=test"
    assert request["headers"]["Content-Type"].startswith("application/json")
    assert request["headers"]["X-OneSlot-Delivery"] == f"{enrolment.id}-h1"
    assert json.loads(request["body"]) == {
        "name": contact.name,
        "email": "ann@example.com",
        "workflow": "Hooks \\ “quoted”",
        "n": 1,
    }
    run = only_run(enrolment)
    assert run.status == "done" and run.output["status"] == 200
    assert run.output["response"] == ("thanks " + "x" * 2000)[: outbound.SHOWN_CHARS]  # the start of a text answer


def test_webhook_sends_the_link_itself_not_the_stored_marker(app, make_calendar, make_contact, receiver):
    calendar = make_calendar(name="Intro")
    link = {"id": "l1", "type": "generate_link", "key": "booking_link", "config": {"calendar_id": calendar.id}}
    workflow = make_workflow(steps=[link, hook_step(receiver.url, body='{"url": "{{ steps.booking_link.url }}"}')])
    enrol_now(workflow, make_contact())
    drain(app)
    url = json.loads(receiver.requests[0]["body"])["url"]
    assert url.startswith("http://127.0.0.1:5000/book/") and "⟦" not in url


def test_webhook_500_then_200_is_retried_with_backoff_and_one_delivery_id(app, make_contact, receiver):
    app.config["WORKFLOW_RETRY_DELAYS"] = (60, 300)
    receiver.answer(500, "database down")
    workflow = make_workflow(steps=[hook_step(receiver.url)])
    enrolment = enrol_now(workflow, make_contact())
    before = utcnow()
    assert engine.run_due(10) == 1
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "active" and enrolment.run_at >= before.replace(microsecond=0)
    assert (enrolment.run_at - before).total_seconds() > 55  # 1 minute
    run = only_run(enrolment)
    assert run.status == "retrying" and run.error == f"HTTP 500 from {receiver.url}: database down"
    assert engine.run_due(10) == 0  # not due yet
    enrolment.run_at = utcnow()  # the clock moves on
    db.session.commit()
    assert engine.run_due(10) == 1
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "completed"
    run = only_run(enrolment)
    assert run.status == "done" and run.attempts == 2 and run.output["status"] == 200 and run.error == ""
    first, second = receiver.requests
    assert first["headers"]["X-OneSlot-Delivery"] == second["headers"]["X-OneSlot-Delivery"] == f"{enrolment.id}-h1"
    assert first["body"] == second["body"] and second["signature_ok"]


def test_webhook_that_keeps_failing_fails_the_enrolment_with_the_reason(app, make_contact, receiver):
    for _ in range(5):
        receiver.answer(503, "busy")
    workflow = make_workflow(steps=[hook_step(receiver.url)])
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed" and enrolment.last_error == f"HTTP 503 from {receiver.url}: busy"
    assert len(receiver.requests) == 3  # the first try and the two retries configured
    assert only_run(enrolment).status == "failed"


def test_webhook_redirects_are_not_followed(app, make_contact, receiver):
    receiver.answer(302, "", {"Location": receiver.url.replace("/hooks/oneslot", "/elsewhere")})
    receiver.answer(302, "", {"Location": receiver.url.replace("/hooks/oneslot", "/elsewhere")})
    receiver.answer(302, "", {"Location": receiver.url.replace("/hooks/oneslot", "/elsewhere")})
    workflow = make_workflow(steps=[hook_step(receiver.url)])
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    assert [r["path"] for r in receiver.requests] == ["/hooks/oneslot?src=test"] * 3  # never /elsewhere
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.last_error == f"HTTP 302 from {receiver.url}"  # the 3xx is the answer; its Location is not shown


def test_webhook_network_errors_and_timeouts_are_retried(app, make_contact, receiver):
    app.config.update(WEBHOOK_TIMEOUT=1, WORKFLOW_RETRY_DELAYS=(60,))
    receiver.delay = 1.5
    slow = make_workflow(name="Slow", steps=[hook_step(receiver.url)])
    closed = make_workflow(name="Closed", steps=[hook_step(f"http://127.0.0.1:{free_port()}/")])
    contact = make_contact()
    enrol_now(slow, contact)
    enrol_now(closed, contact)
    engine.run_due(10)
    [slow_enrolment], [closed_enrolment] = enrolments(slow), enrolments(closed)
    assert slow_enrolment.status == "active" and "timed out" in slow_enrolment.last_error
    assert closed_enrolment.status == "active" and "Could not reach" in closed_enrolment.last_error


def fake_dns(monkeypatch, answers: dict[str, list[str]]) -> list[str]:
    """Names resolved by a stand-in resolver (no DNS server in tests, and no traffic leaves loopback):
    `answers` maps a name to the addresses a hostile server would give, anything else resolves as usual.
    A numeric-only parse (AI_NUMERICHOST) never asks it, as a real resolver would not. Returns the names
    looked up, in order."""
    real = socket.getaddrinfo
    asked = []

    def resolve(host, port, *args, **kwargs):
        flags = kwargs.get("flags", args[3] if len(args) > 3 else 0)
        if host in answers and not flags & socket.AI_NUMERICHOST:
            asked.append(host)
            return [
                (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port or 80))
                for ip in answers[host]
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return asked


def test_webhook_to_the_app_itself_is_refused_after_resolving_the_name(app, make_contact, monkeypatch):
    # BASE_URL is http://127.0.0.1:5000, and loopback is allowed here: a name that passes the check at
    # save, because it cannot be judged before it is resolved, is refused when it resolves to OneSlot.
    fake_dns(monkeypatch, {"me.example": ["127.0.0.1"]})
    workflow = make_workflow(steps=[hook_step("http://me.example:5000/workflows/")])
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed" and "me.example:5000 is OneSlot itself" in enrolment.last_error


def test_webhook_to_a_name_that_resolves_to_a_link_local_address_is_refused(app, make_contact, monkeypatch):
    asked = fake_dns(monkeypatch, {"metadata.example": ["169.254.169.254"]})
    workflow = make_workflow(steps=[hook_step("http://metadata.example/latest/")])
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed"
    assert "169.254.169.254 is a link-local address (the address of metadata.example)" in enrolment.last_error
    assert asked == ["metadata.example"]  # refused for good at once: not retried


def test_a_secret_sealed_under_a_previous_key_still_signs_through_the_fallbacks(app, make_contact, receiver):
    old_key = app.config["SECRET_KEY"]
    workflow = make_workflow(steps=[hook_step(receiver.url)])  # sealed under the key of the time
    app.config.update(SECRET_KEY="a-brand-new-key-0123456789abcdef", SECRET_KEY_FALLBACKS=[old_key])
    enrol_now(workflow, make_contact())
    drain(app)
    [request] = receiver.requests
    assert request["signature_ok"]  # the receiver checks the HMAC with the plaintext secret
    # Without the old key listed, the secret cannot be read: the step says so and sends nothing.
    app.config["SECRET_KEY_FALLBACKS"] = []
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed" and "cannot be read with the current SECRET_KEY" in enrolment.last_error
    assert len(receiver.requests) == 1


def test_webhook_to_a_non_http_service_never_echoes_what_it_said(app, make_contact, smtp_server):
    # The loopback SMTP sink greets every connection with its banner ("220 localhost … SMTP …").
    url = f"http://127.0.0.1:{smtp_server.port}/hook"
    workflow = make_workflow(steps=[hook_step(url)])
    enrolment = enrol_now(workflow, make_contact())
    assert engine.run_due(10) == 1
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.last_error == f"Could not reach {url}: the receiver did not answer HTTP"
    run = only_run(enrolment)
    for said in ("220", "SMTP", "ESMTP", "localhost", "Error", "command"):
        assert said not in run.error and said not in json.dumps(run.output)


def test_only_a_short_text_answer_is_shown_and_flattened(app, make_contact, receiver):
    app.config["WORKFLOW_RETRY_DELAYS"] = (3600,)  # one request per workflow, in order
    receiver.answer(500, "internal bytes", {"Content-Type": "application/octet-stream"})
    receiver.answer(422, "bad signature\n\u202eevil\x1b[31m " + "y" * 900, {"Content-Type": "application/json"})
    receiver.answer(500, "no content type", {"Content-Type": ""})
    first, second, third = (make_workflow(name=f"W{n}", steps=[hook_step(receiver.url)]) for n in range(3))
    contact = make_contact()
    for workflow in (first, second, third):
        enrol_now(workflow, contact)
        engine.run_due(10)
    errors = [enrolments(w)[0].last_error for w in (first, second, third)]
    assert errors[0] == f"HTTP 500 from {receiver.url}"  # not text: not shown
    assert errors[1].startswith(f"HTTP 422 from {receiver.url}: bad signature evil [31m yyy")
    assert "\n" not in errors[1] and "\u202e" not in errors[1] and "\x1b" not in errors[1]
    assert len(errors[1]) <= len(f"HTTP 422 from {receiver.url}: ") + outbound.SHOWN_CHARS
    assert errors[2] == f"HTTP 500 from {receiver.url}"


def test_webhook_connects_only_to_the_address_it_checked(app, make_contact, monkeypatch, receiver):
    # A rebinding DNS server: the first answer passes the check, any later one points elsewhere. Only
    # 127.0.0.1 is allowed; 127.0.0.2 stands for the internal target (nothing listens there).
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("127.0.0.1/32")
    port = receiver.server.server_address[1]
    real = socket.getaddrinfo
    asked = []

    def rebinding(host, *args, **kwargs):
        if host != "rebind.example" or kwargs.get("flags", 0) & socket.AI_NUMERICHOST:
            return real(host, *args, **kwargs)  # a numeric-only parse never asks a DNS server
        asked.append(host)
        ip = "127.0.0.1" if len(asked) == 1 else "127.0.0.2"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    url = f"http://rebind.example:{port}/hooks/oneslot"
    workflow = make_workflow(steps=[hook_step(url)])  # a name: nothing to resolve at save
    enrolment = enrol_now(workflow, make_contact())
    assert engine.run_due(10) == 1
    assert only_run(enrolment).status == "done"
    assert asked == ["rebind.example"]  # resolved once, then connected to that very address
    [request] = receiver.requests
    assert request["headers"]["Host"] == f"rebind.example:{port}" and request["signature_ok"]


def test_an_international_host_name_is_sent_in_its_ascii_form(app, make_contact, monkeypatch, receiver):
    asked = fake_dns(monkeypatch, {"xn--bcher-kva.example": ["127.0.0.1"]})
    port = receiver.server.server_address[1]
    enrolment = enrol_now(make_workflow(steps=[hook_step(f"http://bücher.example:{port}/in")]), make_contact())
    drain(app)
    assert only_run(enrolment).status == "done" and asked == ["xn--bcher-kva.example"]
    assert receiver.requests[0]["headers"]["Host"] == f"xn--bcher-kva.example:{port}"


def test_webhook_is_checked_again_when_it_is_sent(app, make_contact, receiver):
    workflow = make_workflow(steps=[hook_step(receiver.url)])  # saved while loopback was allowed
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()
    enrolment = enrol_now(workflow, make_contact())
    drain(app)
    enrolment = db.session.get(Enrolment, enrolment.id, populate_existing=True)
    assert enrolment.status == "failed" and receiver.requests == []
    assert "127.0.0.1 is a loopback address: webhooks cannot reach it." in enrolment.last_error
    assert only_run(enrolment).attempts == 1  # refused for good, not retried


def test_a_name_resolving_to_loopback_is_refused_unless_loopback_is_allowed(app):
    # "localhost" goes through the system's real resolver (the hosts file: no DNS traffic).
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()
    with pytest.raises(outbound.Refused, match="is a loopback address"):
        outbound.resolve("localhost", 80)
    # Both loopbacks: some systems also give ::1 for localhost, and every address must pass.
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = outbound.parse_networks("127.0.0.0/8, ::1/128")
    addresses = outbound.resolve("localhost", 80)
    assert addresses and all(ipaddress.ip_address(sockaddr[0]).is_loopback for _family, sockaddr in addresses)


def test_a_name_with_one_internal_address_among_public_ones_is_refused(app, monkeypatch):
    fake_dns(monkeypatch, {"mixed.example": ["93.184.215.14", "10.0.0.7"]})
    with pytest.raises(outbound.Refused, match=r"10\.0\.0\.7 is a private address \(the address of mixed.example\)"):
        outbound.resolve("mixed.example", 443)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://[::1]/hook",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://017700000001/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]:5000/hooks/",
        "http://[64:ff9b::7f00:1]/",
        "http://[2002:7f00:1::]/",
        "http://localhost:9/x",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://100.64.1.1/",
        "http://[fd00::1]/",
        "http://224.0.0.1/",
    ],
)
def test_internal_urls_are_refused_at_save_by_default(app, url):
    app.config["OUTBOUND_ALLOWED_NETWORKS"] = ()
    error = webhook.STEP.validate({"url": url, "body": "{}", "secret": sealed()}, [])["url"]
    assert "webhooks cannot reach it" in error and "OUTBOUND_ALLOWED_NETWORKS" in error


# --- checks at save ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "Enter the URL"),
        ("ftp://example.com/x", "Only http:// and https://"),
        ("javascript:alert(1)", "Only http:// and https://"),
        ("https:///path", "needs a host"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254 is a link-local address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://[::ffff:169.254.1.1]/", "link-local"),
        ("http://0.0.0.0:8080/", "0.0.0.0 is an unspecified address"),
        ("http://[::]/", ":: is an unspecified address"),
        ("http://127.0.0.1:5000/hooks", "127.0.0.1:5000 is OneSlot itself: a webhook cannot call it."),
        ("http://[::ffff:127.0.0.1]:5000/hooks", "[::ffff:127.0.0.1]:5000 is OneSlot itself"),  # loopback allowed
        ("http://2130706433:5000/", "2130706433:5000 is OneSlot itself"),
        ("http://user:pw@example.com/", "user name and password"),
        ("http://example.com:99999/", "not a valid URL"),
        ("https://example.com/a b", "spaces or control characters"),
        ("https://example.com/a\x7f", "spaces or control characters"),
        ("https://a..b/", "host name is not valid"),
    ],
)
def test_webhook_url_is_checked_at_save(app, url, message):
    errors = webhook.STEP.validate({"url": url, "body": "{}", "secret": sealed()}, [])
    assert message in errors["url"]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "https://example.com/hook", "http://localhost:9/x", "https://bücher.example/"]
)
def test_loopback_and_ordinary_urls_are_allowed(app, url):
    assert webhook.STEP.validate({"url": url, "body": "{}", "secret": sealed()}, []) == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "Write the JSON body"),
        ('{"name": {{ contact.name }}}', "JSON once values are inserted: Expecting value (line 1, column 10)"),
        ('{"a": 1,}', "not valid JSON"),
        ('{"a": "{{ contact.shoe_size }}"}', "Unknown value {{ contact.shoe_size }}"),
        ('{"a": "{{ steps.booking_link.url }}"}', "Unknown value {{ steps.booking_link.url }}"),
        ('{"a": "{{ ().__class__ }}"}', "not allowed"),
    ],
)
def test_webhook_body_is_checked_at_save(app, body, message):
    errors = webhook.STEP.validate({"url": "https://example.com/", "body": body, "secret": sealed()}, [])
    assert message in errors["body"]


def test_webhook_body_may_use_numbers_and_earlier_link_values(app, make_calendar):
    link = {"id": "l1", "type": "generate_link", "key": "booking_link", "config": {}}
    body = '{"url": "{{ steps.booking_link.url }}", "minutes": {{ calendar.duration }}}'
    assert webhook.STEP.validate({"url": "https://example.com/", "body": body, "secret": sealed()}, [link]) == {}
    assert "signing secret" in webhook.STEP.validate({"url": "https://example.com/", "body": "{}"}, [])["secret"]


def test_a_new_webhook_step_gets_its_own_secret(app):
    first, second = services.new_step("webhook"), services.new_step("webhook")
    plain = webhook.reveal(first["config"])
    assert len(plain) == 64 and plain != webhook.reveal(second["config"])
    assert secretbox.is_sealed(first["config"]["secret"]) and plain not in first["config"]["secret"]


@pytest.mark.parametrize(
    ("step_type", "config", "field", "message"),
    [
        ("add_tag", {"tag": "  "}, "tag", "Choose the tag to add."),
        ("remove_tag", {"tag": ""}, "tag", "Choose the tag to remove."),
        ("add_tag", {"tag": "x" * 65}, "tag", "longer than 64 characters"),
        ("notify_email", {"subject": "s", "body": "b"}, "admin_id", "Choose the admin to notify"),
        ("notify_email", {"admin_id": 999, "subject": "s", "body": "b"}, "admin_id", "no longer exists"),
        ("notify_email", {"to": "nope", "subject": "s", "body": "b"}, "to", "not a valid email address"),
        ("notify_email", {"admin_id": 1, "to": "a@example.com", "subject": "s", "body": "b"}, "to", "not both"),
        ("notify_email", {"to": "a@example.com", "subject": "", "body": "b"}, "subject", "needs a subject"),
        ("notify_email", {"to": "a@example.com", "subject": "s", "body": "{{ x }}"}, "body", "Unknown value {{ x }}"),
    ],
)
def test_tag_and_notification_fields_are_checked(app, admin, step_type, config, field, message):
    from webapp.workflows import actions

    assert message in actions.get(step_type).validate(config, [])[field]


def test_valid_tag_and_notification_configs_pass(app, admin):
    from webapp.workflows import actions

    assert actions.get("add_tag").validate({"tag": "VIP"}, []) == {}
    ok = {"admin_id": admin.id, "to": "", "subject": "Hi {{ contact.name }}", "body": "b"}
    assert actions.get("notify_email").validate(ok, []) == {}
