"""webapp.events: each signal is sent once per event with the documented arguments, and its receivers
run in the sender's transaction (one that raises leaves the sender's change uncommitted)."""

from contextlib import ExitStack
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.conftest import tomorrow_at
from webapp import events
from webapp.booking import links
from webapp.booking import services as bookings
from webapp.booking.models import Booking, OneTimeLink
from webapp.clock import utcnow
from webapp.contacts import importer
from webapp.contacts import services as contacts
from webapp.contacts.models import Contact
from webapp.extensions import db
from webapp.workflows import expiry

NAMES = (
    "contact_created",
    "tag_added",
    "contacts_batch",
    "link_opened",
    "link_expired",
    "booking_made",
    "booking_rescheduled",
    "booking_cancelled",
    "booking_attendance_marked",
)


@pytest.fixture
def sent(app):
    """Every signal sent while the test runs, in order: (name, sender, keyword arguments)."""
    log = []
    with ExitStack() as stack:
        for name in NAMES:

            def receive(sender, _name=name, **kwargs):
                log.append((_name, sender, kwargs))

            stack.enter_context(getattr(events, name).connected_to(receive))
        yield log


@pytest.fixture
def calendar(make_calendar):
    return make_calendar(name="Intro call", weekly={d: [(0, 1440)] for d in range(7)})


def invitee() -> bookings.Invitee:
    return bookings.Invitee(name="Ada", email="", timezone="UTC")


def taken(log) -> list:
    """The log so far, emptied."""
    found = list(log)
    log.clear()
    return found


def test_contact_events_are_sent_once_each(sent):
    ada = contacts.create_contact({"email": "ada@example.com", "first_name": "Ada"}, ["vip", "news"])
    assert taken(sent) == [
        ("contact_created", ada, {}),
        ("tag_added", ada, {"tag": "vip", "via_workflows": ()}),
        ("tag_added", ada, {"tag": "news", "via_workflows": ()}),
    ]
    assert contacts.add_tags(ada, ["VIP"]) == []
    assert sent == []  # a tag already there is not added again
    contacts.add_tags(ada, ["trial"], via_workflows=[7, 9])
    assert taken(sent) == [("tag_added", ada, {"tag": "trial", "via_workflows": (7, 9)})]
    db.session.commit()


def test_the_csv_import_sends_one_batch_then_each_contact_and_tag(sent, make_contact):
    ada = make_contact(email="ada@example.com")
    importer.import_csv(b"email,tags\r\nbob@example.com,vip\r\nada@example.com,trial\r\n", "two.csv")
    bob = db.session.scalar(select(Contact).where(Contact.email == "bob@example.com"))
    assert [(name, kwargs) for name, _sender, kwargs in sent[:1]] == [
        ("contacts_batch", {"contact_ids": [bob.id, ada.id]})
    ]
    assert sent[0][1] is None
    assert [(name, sender.id, kwargs) for name, sender, kwargs in sent[1:]] == [
        ("contact_created", bob.id, {}),
        ("tag_added", bob.id, {"tag": "vip", "via_workflows": ()}),
        ("tag_added", ada.id, {"tag": "trial", "via_workflows": ()}),
    ]


def test_link_and_booking_events_are_sent_once_each(sent, calendar, make_link):
    link, _token = make_link(calendar=calendar)
    taken(sent)
    links.mark_opened(link)
    links.mark_opened(link)  # a second opening is not a first one
    assert taken(sent) == [("link_opened", link, {})]
    booking = bookings.book(link, tomorrow_at(10), invitee())
    assert taken(sent) == [("booking_made", booking, {"link_id": link.id})]
    bookings.reschedule(booking, tomorrow_at(11))
    assert [(name, sender.id, kwargs) for name, sender, kwargs in taken(sent)] == [
        ("booking_rescheduled", booking.id, {})
    ]
    booking = db.session.get(Booking, booking.id)
    bookings.cancel(booking, "sorry", by="admin")
    assert taken(sent) == [("booking_cancelled", booking, {})]


def test_attendance_is_sent_when_it_becomes_showed_or_no_show(sent, calendar, make_contact):
    booking = Booking(
        calendar_id=calendar.id,
        contact_id=make_contact().id,
        start_at=utcnow() - timedelta(hours=2),
        end_at=utcnow() - timedelta(hours=1),
        name="Ada",
        email="ada@example.com",
        timezone="UTC",
    )
    db.session.add(booking)
    db.session.commit()
    taken(sent)
    bookings.set_attendance(booking, "showed")
    bookings.set_attendance(booking, "showed")  # unchanged: nothing new
    bookings.set_attendance(booking, None)  # cleared: nothing is marked
    bookings.set_attendance(booking, "no_show")
    assert taken(sent) == [
        ("booking_attendance_marked", booking, {"attendance": "showed"}),
        ("booking_attendance_marked", booking, {"attendance": "no_show"}),
    ]


def test_link_expired_is_sent_once_per_unused_link(sent, calendar, make_link):
    link, _token = make_link(calendar=calendar, expires_at=utcnow() + timedelta(days=1))
    db.session.execute(update(OneTimeLink).where(OneTimeLink.id == link.id).values(expires_at=utcnow() - timedelta(1)))
    db.session.commit()
    taken(sent)
    assert expiry.handle_expired() == 1
    assert expiry.handle_expired() == 0
    assert [(name, sender.id, kwargs) for name, sender, kwargs in sent] == [("link_expired", link.id, {})]


def test_a_receiver_that_raises_leaves_the_booking_uncommitted(app, calendar, make_link):
    link, _token = make_link(calendar=calendar)

    def refuse(_booking, **_kwargs):
        raise RuntimeError("receiver failed")

    with events.booking_made.connected_to(refuse), pytest.raises(RuntimeError):
        bookings.book(link, tomorrow_at(10), invitee())
    db.session.rollback()  # what the request's teardown does
    assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
    db.session.refresh(link)
    assert link.used_at is None and link.booking_id is None
    assert bookings.book(link, tomorrow_at(10), invitee()).id is not None  # the link was never consumed


def test_a_receiver_that_raises_leaves_the_contact_uncommitted(app):
    def refuse(_contact, **_kwargs):
        raise RuntimeError("receiver failed")

    with events.tag_added.connected_to(refuse), pytest.raises(RuntimeError):
        contacts.create_contact({"email": "ada@example.com"}, ["vip"])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 0
