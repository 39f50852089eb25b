"""The booking page caches its slots: every change to bookings or hours must show at once."""

from tests.conftest import iso, tomorrow_at
from webapp.booking import services
from webapp.booking.models import Booking
from webapp.calendars import services as calendar_services
from webapp.extensions import db


def page_for_tomorrow(client, token):
    day = tomorrow_at(0).date().isoformat()
    return client.get(f"/book/{token}?date={day}&tz=UTC").text


def test_page_follows_bookings_cancellations_and_hours(client, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", weekly={d: [(0, 1440)] for d in range(7)})
    _, watcher = make_link(calendar=calendar)
    _, booker = make_link(calendar=calendar)
    ten = f'value="{iso(tomorrow_at(10))}"'
    page_for_tomorrow(client, watcher)  # opened: later GETs take the cached path
    assert ten in page_for_tomorrow(client, watcher)

    data = {"start": iso(tomorrow_at(10)), "name": "B", "email": "b@example.com", "timezone": "UTC"}
    assert client.post(f"/book/{booker}", data=data).status_code == 303
    assert ten not in page_for_tomorrow(client, watcher)

    booking = db.session.query(Booking).one()
    services.cancel(booking, by="admin")
    assert ten in page_for_tomorrow(client, watcher)

    calendar_services.update_calendar(calendar, {}, weekly={d: [(14 * 60, 15 * 60)] for d in range(7)})
    html = page_for_tomorrow(client, watcher)
    assert ten not in html and f'value="{iso(tomorrow_at(14))}"' in html
