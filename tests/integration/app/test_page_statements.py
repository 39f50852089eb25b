"""Every admin page sends as many SQL statements with 25 contacts as with 3: none grows with the data.

One world is built through the services (contacts tagged into the demo workflow, the worker making
their links and sending their mail, some refused for good, some held; bookings, a cancellation, an
attendance, an API key, a test run), each page is rendered and its statements counted, then the world
grows to 25 contacts and the page is rendered again. A page whose count grows runs a query per row.
"""

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import statements_run
from webapp.api import keys
from webapp.booking import links
from webapp.booking import services as booking
from webapp.booking.models import OneTimeLink
from webapp.calendars.models import Calendar
from webapp.calendars.services import slots
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain
from webapp.workflows import demo, test_runs
from webapp.workflows.models import Enrolment, Workflow

SMALL, LARGE = 3, 25

# (test id, path template filled from the world's ids)
PAGES = [
    ("dashboard", "/"),
    ("contacts", "/contacts/"),
    ("contacts-search", "/contacts/?q=ada"),
    ("contacts-tag", "/contacts/?tag=vip"),
    ("contact", "/contacts/{contact}"),
    ("calendars", "/calendars/"),
    ("calendar-links", "/links/calendar/{calendar}"),
    ("bookings", "/bookings/"),
    ("mail", "/mail/"),
    ("mail-message", "/mail/{message}"),
    ("workflows", "/workflows/"),
    ("workflow-editor", "/workflows/{workflow}"),
    ("enrolments", "/workflows/{workflow}/enrolments"),
    ("enrolment", "/enrolments/{enrolment}"),
    ("test-run", "/workflows/test-runs/{test_run}"),
    ("settings", "/settings"),
    ("api-keys", "/settings/api-keys/"),
    ("booking-page", "/book/{token}"),
]


class World:
    """A growing world: contacts taken through the demo workflow, with bookings and mail."""

    def __init__(self, app, smtp_server):
        """The demo (calendar, contact, published workflow) and mail sent to `smtp_server`."""
        self.app, self.smtp = app, smtp_server
        smtp_server.configure(app)
        report = demo.seed()
        self.calendar_id, self.workflow_id, self.contact_id = report.calendar.id, report.workflow.id, report.contact.id
        self.count = 0
        self.ids: dict[str, object] = {}

    def grow(self, total: int) -> None:
        """Add contacts until there are `total`, each through the workflow, with a booking."""
        first = self.count
        made_ids = [
            contacts.create_contact(
                {"first_name": "Ada", "last_name": f"Lovelace{n}", "email": f"ada{n}@example.com"},
                [demo.TAG, "vip", f"group-{n % 3}"],
            ).id
            for n in range(first, total)
        ]
        # The first messages are refused for good: failed messages and failed enrolments.
        self.smtp.refuse(max(1, (total - first) // 5), "550 5.1.1 No such user here")
        drain(self.app)
        calendar = db.session.get(Calendar, self.calendar_id)
        today = datetime.now(UTC).date()
        starts = [slot.start for slot in slots(calendar, today + timedelta(days=1), today + timedelta(days=30), "UTC")]
        fresh = db.session.scalars(
            select(OneTimeLink).where(OneTimeLink.contact_id.in_(made_ids)).order_by(OneTimeLink.id)
        ).all()
        made = []
        for n, link in zip(range(first, total), fresh, strict=False):
            if n % 4 == 3:
                continue  # some links stay unused (and some unopened)
            links.mark_opened(link)
            made.append(booking.book(link, starts[n], booking.Invitee(link.contact.name, "", "UTC")))
        booking.cancel(made[0], "Cannot make it", by="admin")
        with time_machine.travel(datetime.now(UTC) + timedelta(days=40), tick=False):
            booking.set_attendance(made[-1], "no_show")
        # One message held: the mail server is away for one run of the worker.
        self.app.config["MAIL_SERVER"] = ""
        contacts.create_contact({"first_name": "Held", "email": f"held{total}@example.com"}, [demo.TAG])
        drain(self.app)
        self.smtp.configure(self.app)
        keys.create_key(f"key {total}")
        self.count = total
        if not self.ids:
            self._remember()

    def _remember(self) -> None:
        """The ids the pages name, taken from the first (small) world, and a test run."""
        contact = db.session.get(Contact, self.contact_id)
        link = db.session.scalars(
            select(OneTimeLink).where(OneTimeLink.used_at.is_(None), OneTimeLink.opened_at.is_(None))
        ).first()
        workflow = db.session.get(Workflow, self.workflow_id)
        enrolment = db.session.scalars(select(Enrolment).order_by(Enrolment.id)).first()
        test_run = test_runs.start(workflow, contact, "published", False, "tester@example.com")
        drain(self.app)
        self.ids = {
            "contact": enrolment.contact_id,
            "calendar": self.calendar_id,
            "message": db.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id)),
            "workflow": workflow.id,
            "enrolment": enrolment.id,
            "test_run": test_run.id,
            "token": links.url(link).rsplit("/", 1)[1],
        }


@pytest.fixture
def world(app, smtp_server):
    """A world with the demo workflow, growing on demand; mail goes to the SMTP sink."""
    return World(app, smtp_server)


def _count(client, path: str) -> list[str]:
    """The statements of the second GET of `path` (the first fills whatever caches the page keeps)."""
    assert client.get(path).status_code == 200
    db.session.remove()
    with statements_run() as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return statements


def _shape(statement: str) -> str:
    """A statement with its IN lists folded, so one query over 3 rows and over 25 reads alike."""
    return re.sub(r"IN \((?:\?|%\(\w+\)s|, )+\)", "IN (…)", statement)[:240]


@pytest.mark.parametrize("path", [path for _id, path in PAGES], ids=[page_id for page_id, _path in PAGES])
def test_a_page_sends_as_many_statements_with_more_data(world, login, path):
    """The page sends the same statements (by count) at 3 and at 25 contacts."""
    world.grow(SMALL)
    url = path.format(**world.ids)
    small = _count(login, url)
    world.grow(LARGE)
    large = _count(login, url)
    grown = Counter(map(_shape, large)) - Counter(map(_shape, small))
    assert len(large) == len(small), (
        f"{len(small)} statements at {SMALL} contacts, {len(large)} at {LARGE}; more:\n"
        + ("\n".join(f"{n}× {statement}" for statement, n in grown.most_common(6)))
    )
