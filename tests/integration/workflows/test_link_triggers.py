"""Link lifecycle triggers: "One-time link opened" and "One-time link expired unused"."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from tests.factories import email_step, link_step, make_workflow
from tests.helpers import enrolments
from webapp.booking import links
from webapp.booking.models import OneTimeLink
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.worker import drain
from webapp.workflows import expiry, services, triggers

pytestmark = pytest.mark.usefixtures("fast_retries")


def expire(*items) -> None:
    """Move links' expiry into the past (links.issue refuses a past expiry)."""
    ids = [link.id for link in items]
    db.session.execute(update(OneTimeLink).where(OneTimeLink.id.in_(ids)).values(expires_at=utcnow() - timedelta(1)))
    db.session.commit()


def in_a_day():
    return utcnow() + timedelta(days=1)


# --- opened ---------------------------------------------------------------------------------------


def test_the_first_get_fires_link_opened_once_and_head_fires_nothing(app, client, calendar, make_link):
    workflow = make_workflow("link_opened", {"calendar_id": None}, steps=[link_step(calendar)], allow_reentry=True)
    link, token = make_link(calendar=calendar)
    assert client.head(f"/book/{token}").status_code == 200
    assert enrolments() == []
    assert client.get(f"/book/{token}").status_code == 200
    assert client.get(f"/book/{token}").status_code == 200  # a second opening is not a first one
    [enrolment] = enrolments()
    assert enrolment.workflow_id == workflow.id and enrolment.contact_id == link.contact_id
    assert enrolment.event == {"type": "link_opened", "calendar_id": calendar.id, "link_id": link.id}
    db.session.refresh(link)
    assert link.opened_at is not None


def test_two_first_openings_racing_fire_once(app, calendar, make_link):
    make_workflow("link_opened", {}, steps=[link_step(calendar)], allow_reentry=True)
    link, _ = make_link(calendar=calendar)
    links.mark_opened(link)
    # The other request read the link before this opening committed: it too saw opened_at None.
    set_committed_value(link, "opened_at", None)
    links.mark_opened(link)
    assert len(enrolments()) == 1 and link.opened_at is not None


def test_link_opened_listens_to_its_calendar_only(app, client, calendar, make_calendar, make_link):
    other = make_calendar(name="Other", weekly={d: [(0, 1440)] for d in range(7)})
    mine = make_workflow("link_opened", {"calendar_id": calendar.id}, steps=[link_step(calendar)])
    make_workflow("link_opened", {"calendar_id": other.id}, steps=[link_step(calendar)])
    _, token = make_link(calendar=calendar)
    client.get(f"/book/{token}")
    assert [e.workflow_id for e in enrolments()] == [mine.id]


def test_a_link_without_a_contact_enrols_no_one(app, client, calendar):
    make_workflow("link_opened", {}, steps=[link_step(calendar)])
    link = links.issue(calendar, None)
    db.session.commit()
    assert client.get("/book/" + links.url(link).rsplit("/", 1)[1]).status_code == 200
    assert enrolments() == []


# --- expired --------------------------------------------------------------------------------------


def test_an_expired_unused_link_fires_once(app, calendar, make_link):
    make_workflow("link_expired", {"calendar_id": calendar.id}, steps=[link_step(calendar)], allow_reentry=True)
    link, _ = make_link(calendar=calendar, expires_at=in_a_day())
    assert expiry.handle_expired() == 0  # not expired yet
    expire(link)
    assert expiry.handle_expired() == 1
    assert expiry.handle_expired() == 0
    [enrolment] = enrolments()
    assert enrolment.event == {"type": "link_expired", "calendar_id": calendar.id, "link_id": link.id}
    db.session.refresh(link)
    assert link.expiry_handled_at is not None


def test_used_revoked_and_unexpiring_links_do_not_fire(app, client, calendar, make_link):
    from tests.conftest import iso, tomorrow_at

    make_workflow("link_expired", {}, steps=[link_step(calendar)], allow_reentry=True)
    used, used_token = make_link(calendar=calendar, expires_at=in_a_day())
    data = {"start": iso(tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{used_token}", data=data).status_code == 303
    revoked, _ = make_link(calendar=calendar, expires_at=in_a_day())
    links.revoke(revoked)
    make_link(calendar=calendar)  # never expires
    expire(used, revoked)
    before = len(enrolments())  # booking_made fires nothing here: no workflow listens
    assert expiry.handle_expired() == 2  # both handled (so the query stays small) …
    assert len(enrolments()) == before == 0  # … and neither fired
    assert expiry.handle_expired() == 0


def test_two_workers_fire_each_expired_link_exactly_once(app, calendar, make_link):
    make_workflow("link_expired", {}, steps=[link_step(calendar)], allow_reentry=True)
    made = [make_link(calendar=calendar, expires_at=in_a_day())[0] for _ in range(15)]
    expire(*made)
    made_ids = sorted(link.id for link in made)
    db.session.remove()
    handled, errors = [], []
    start = threading.Barrier(2)

    def worker():
        with app.app_context():
            try:
                start.wait()
                while count := expiry.handle_expired(2):
                    handled.append(count)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(handled) == 15
    fired = sorted(e.event["link_id"] for e in enrolments())
    assert fired == made_ids, "each link fired exactly once"


def test_the_worker_runs_the_expiry_source(app, calendar, make_link):
    make_workflow("link_expired", {}, steps=[link_step(calendar)])
    link, _ = make_link(calendar=calendar, expires_at=in_a_day())
    expire(link)
    drain(app)
    [enrolment] = enrolments()
    assert enrolment.status == "completed" and enrolment.event["link_id"] == link.id


def test_follow_up_when_a_link_expires(app, client, calendar, make_contact, smtp_server):
    """Link expired → Generate link (revoke, a new one) → Send Email: the contact gets a fresh link that works."""
    from tests.conftest import iso, tomorrow_at

    smtp_server.configure(app)
    body = "Your link to {{ calendar.name }} expired. Here is a new one: {{ steps.booking_link.url }}\n"
    make_workflow(
        "link_expired",
        {"calendar_id": calendar.id},
        steps=[link_step(calendar, existing="revoke", expires_in=3), email_step(subject="A fresh link", body=body)],
    )
    contact = make_contact(email="ada@example.com")
    old = links.issue(calendar, contact, expires_at=in_a_day())
    db.session.commit()
    old_token = links.url(old).rsplit("/", 1)[1]
    expire(old)
    drain(app)
    [enrolment] = enrolments()
    assert enrolment.status == "completed", enrolment.last_error
    [sent] = smtp_server.messages
    assert sent["Subject"] == "A fresh link" and "ada@example.com" in sent["To"]
    text = sent.get_body(("plain",)).get_content()
    assert "Your link to Intro call expired." in text
    [url] = [word for word in text.split() if "/book/" in word]
    token = url.rsplit("/", 1)[1]
    assert token != old_token
    assert client.get(f"/book/{old_token}").status_code == 410
    data = {"start": iso(tomorrow_at(10)), "name": "Ada", "email": "ada@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{token}", data=data).status_code == 303
    # The new link expires too one day, but it was used: nothing more fires.
    db.session.execute(update(OneTimeLink).values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    drain(app)
    assert len(enrolments()) == 1
    assert [m["Subject"] for m in smtp_server.messages].count("A fresh link") == 1  # and the booking's confirmation


# --- rules and pages ------------------------------------------------------------------------------


def test_link_triggers_validate_their_calendar(app, calendar):
    assert services.validate_trigger("link_opened", {"calendar_id": None}) == {}
    assert services.validate_trigger("link_expired", {"calendar_id": calendar.id}) == {}
    assert "calendar_id" in services.validate_trigger("link_expired", {"calendar_id": 9999})
    assert (
        triggers.matches("link_expired", {"calendar_id": calendar.id}, "link_expired", {"calendar_id": 1 + calendar.id})
        is False
    )
    assert triggers.matches("link_opened", {}, "link_expired", {"calendar_id": calendar.id}) is False


def test_the_editor_saves_a_link_trigger_and_the_pages_describe_it(app, login, calendar, make_link, client):
    workflow = services.create_workflow("Follow up")
    page = login.get(f"/workflows/{workflow.id}")
    assert "One-time link expired unused" in page.text
    response = login.post(
        f"/workflows/{workflow.id}/trigger",
        data={"trigger_type": "link_expired", "calendar_id": str(calendar.id), "action": "save"},
    )
    assert response.status_code == 303
    db.session.refresh(workflow)
    assert (workflow.trigger_type, workflow.trigger_config) == ("link_expired", {"calendar_id": calendar.id})
    switched = login.post(f"/workflows/{workflow.id}/trigger", data={"trigger_type": "link_opened", "action": "switch"})
    assert "first time they open" in switched.text
    assert "One-time link expired unused · Intro call" in login.get("/workflows/").text
    workflow.steps = [link_step(calendar), email_step(body="{{ calendar.name }} {{ steps.booking_link.url }}")]
    db.session.commit()
    services.publish(workflow)  # {{ calendar.name }} is known: the trigger carries the link's calendar
    link, _ = make_link(calendar=calendar, expires_at=in_a_day())
    expire(link)
    expiry.handle_expired()
    [enrolment] = enrolments()
    shown = login.get(f"/enrolments/{enrolment.id}").text
    assert f"One-time link expired unused (link #{link.id} on Intro call)" in shown
    assert db.session.scalar(select(OneTimeLink.expiry_handled_at).where(OneTimeLink.id == link.id))
