"""One-time links and the public booking flow: the guarantees in DESIGN.md, one test each."""

from datetime import timedelta

from sqlalchemy import select, text

from tests.conftest import iso, make_app, tomorrow_at
from tests.helpers import post_booking
from webapp.booking import links
from webapp.booking.models import Booking
from webapp.clock import utcnow
from webapp.extensions import db
from webapp.mail.models import OutboxMessage


def test_no_plaintext_token_is_stored(make_link):
    link, token = make_link()
    row = db.session.execute(text("SELECT * FROM one_time_links")).mappings().one()
    assert all(token not in str(value) for value in row.values())
    assert links.find(token).id == link.id
    assert links.url(link).endswith("/book/" + token)  # rebuilt from salt + key, for mail


def test_token_is_long_and_unguessable(make_link):
    _, token = make_link()
    _, other = make_link()
    assert len(token) >= 43 and token != other  # 256-bit HMAC, base64url


def test_a_different_secret_key_opens_nothing(make_link, app):
    link, token = make_link()
    app.config["SECRET_KEY"] = "another-secret-key-entirely"
    assert links.url(link).rsplit("/", 1)[1] != token


def test_unknown_token_is_404(client):
    response = client.get("/book/not-a-real-token")
    assert response.status_code == 404
    assert client.post("/book/not-a-real-token", data={}).status_code == 404


def test_opening_records_first_open_and_does_not_consume(client, make_link):
    link, token = make_link()
    assert client.head(f"/book/{token}").status_code == 200
    db.session.refresh(link)
    assert link.opened_at is None  # a HEAD (a scanner) records nothing
    for _ in range(3):
        assert client.get(f"/book/{token}").status_code == 200
    db.session.refresh(link)
    first = link.opened_at
    assert first is not None and link.used_at is None and link.status == "opened"
    client.get(f"/book/{token}")
    db.session.refresh(link)
    assert link.opened_at == first


def test_booking_pages_keep_the_token_private(client, make_link):
    _, token = make_link()
    response = client.get(f"/book/{token}")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_first_response_holds_open_days_and_first_days_slots(client, make_link, make_calendar):
    calendar = make_calendar(
        name="Strategy session", timezone="UTC", duration=60, weekly={d: [(600, 720)] for d in range(7)}
    )
    calendar.description = "We map your next quarter."
    calendar.location = "https://meet.example/xyz"
    db.session.commit()
    _, token = make_link(calendar=calendar)
    page = client.get(f"/book/{token}?tz=UTC").text
    assert "Strategy session" in page and "We map your next quarter." in page and "60 minutes" in page
    assert 'href="https://meet.example/xyz"' in page
    assert 'class="day open' in page
    assert page.count('type="radio" name="start"') in (1, 2)  # 10:00 and 11:00 (fewer late in the day)
    assert 'value="Ada"' not in page or "Lovelace" in page
    assert "Sign out" not in page  # no admin navigation


def test_name_prefilled_and_email_shown_masked_from_contact(client, make_link, make_contact):
    contact = make_contact(first_name="Grace", last_name="Hopper", email="grace@example.com")
    _, token = make_link(contact=contact)
    for _ in range(2):  # the first opening renders live, the next one from the cached page
        page = client.get(f"/book/{token}").text
        assert 'value="Grace Hopper"' in page
        assert "send the confirmation to <strong>g***@e***.com</strong>" in page
        assert "grace@example.com" not in page and 'name="email"' not in page


def test_slots_fragment_for_a_chosen_day(client, make_link, hx):
    _, token = make_link()
    day = tomorrow_at(0).date()
    response = client.get(f"/book/{token}?date={day.isoformat()}&tz=UTC", headers=hx)
    assert response.status_code == 200 and "<html" not in response.text
    assert f'value="{iso(tomorrow_at(10))}"' in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_viewer_time_zone_changes_the_times(client, make_link):
    _, token = make_link()
    day = tomorrow_at(0).date()
    british = {"Accept-Language": "en-GB"}
    page = client.get(f"/book/{token}?date={day.isoformat()}&tz=Asia/Kolkata", headers=british).text
    # 10:00 UTC is 15:30 in Kolkata (a 24-hour clock in British English), and the value sent back stays the UTC instant.
    assert f'value="{iso(tomorrow_at(10))}"' in page
    assert ">15:30<" in page


def test_book_consumes_the_link_and_redirects_to_confirmation(client, make_link):
    link, token = make_link()
    response = post_booking(client, token, tomorrow_at(10))
    assert response.status_code == 303 and response.location.startswith("/booking/")
    booking = db.session.scalars(select(Booking)).one()
    db.session.refresh(link)
    assert link.status == "used" and link.booking_id == booking.id
    assert booking.start_at == tomorrow_at(10) and booking.end_at == tomorrow_at(10, 30)
    assert booking.timezone == "Europe/London" and booking.contact_id == link.contact_id
    page = client.get(response.location).text
    assert "You're booked" in page and "invite.ics" in page and "calendar.google.com" in page


def test_booking_queues_confirmation_and_admin_notification(client, make_link, make_contact, admin):
    _, token = make_link(contact=make_contact(email="ada@example.com"))
    post_booking(client, token, tomorrow_at(10))
    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [(m.to_addr, m.kind) for m in messages] == [
        ("ada@example.com", "booking_confirmed"),
        (admin.email, "admin_confirmed"),
    ]
    confirmation = messages[0]
    assert confirmation.attachments[0]["filename"] == "invite.ics"
    assert "BEGIN:VEVENT" in confirmation.attachments[0]["content"]
    assert "⟦manage:" in confirmation.text_body  # the stored copy holds a marker, never the link
    assert "/booking/" not in confirmation.text_body


def test_used_link_answers_410_and_offers_resend(client, make_link, app):
    _, token = make_link()
    booked = post_booking(client, token, tomorrow_at(10))
    # The browser that booked goes back to the confirmation; anyone else opening the link learns it was used.
    back = client.get(f"/book/{token}")
    assert back.status_code == 303 and back.location == booked.location
    for response in (app.test_client().get(f"/book/{token}"), post_booking(client, token, tomorrow_at(11))):
        assert response.status_code == 410
        assert "This link has already been used" in response.text
        assert "Email me my booking again" in response.text
        assert "a***@e***.com" in response.text and "ada@example.com" not in response.text
        assert 'name="start"' not in response.text
    assert db.session.scalar(select(db.func.count(Booking.id))) == 1


def test_resend_goes_to_the_address_on_file(client, make_link, make_contact):
    _, token = make_link(contact=make_contact(email="ada@example.com"))
    post_booking(client, token, tomorrow_at(10))
    before = db.session.scalar(select(db.func.count(OutboxMessage.id)))
    response = client.post(f"/book/{token}/resend", data={"email": "attacker@evil.example"})
    assert response.status_code == 200 and "a***@e***.com" in response.text
    resent = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == before + 1
    assert resent.to_addr == "ada@example.com" and resent.kind == "booking_resent"


def test_resend_needs_a_used_link(client, make_link):
    _, token = make_link()
    assert client.post(f"/book/{token}/resend").status_code == 404


def test_expired_link_answers_410(client, make_link):
    link, token = make_link(expires_at=utcnow() + timedelta(hours=1))
    link.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = client.get(f"/book/{token}")
    assert response.status_code == 410 and "This link has expired" in response.text
    assert post_booking(client, token, tomorrow_at(10)).status_code == 410
    assert db.session.scalar(select(Booking.id)) is None


def test_revoked_link_answers_410(client, make_link):
    link, token = make_link()
    assert links.revoke(link) is True
    response = post_booking(client, token, tomorrow_at(10))
    assert response.status_code == 410 and "withdrawn" in response.text
    assert db.session.scalar(select(Booking.id)) is None


def test_taken_slot_answers_409_with_fresh_slots_and_link_stays_usable(client, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", weekly={d: [(0, 1440)] for d in range(7)})
    _, first = make_link(calendar=calendar)
    link, second = make_link(calendar=calendar)
    assert post_booking(client, first, tomorrow_at(10)).status_code == 303
    response = post_booking(client, second, tomorrow_at(10), name="Second person")
    assert response.status_code == 409
    assert "that time was just taken" in response.text
    assert f'value="{iso(tomorrow_at(10))}"' not in response.text
    assert f'value="{iso(tomorrow_at(10, 30))}"' in response.text
    assert 'value="Second person"' in response.text  # nothing the invitee typed is lost
    db.session.refresh(link)
    assert link.bookable
    assert post_booking(client, second, tomorrow_at(10, 30)).status_code == 303


def test_invalid_input_answers_422_with_a_message_per_field(client, make_link, make_calendar):
    calendar = make_calendar(allow_other_email=True, weekly={d: [(0, 1440)] for d in range(7)})
    link, token = make_link(calendar=calendar)
    response = client.post(f"/book/{token}", data={"start": "", "name": "", "email": "not-an-email", "timezone": "UTC"})
    assert response.status_code == 422
    assert "Pick a time." in response.text
    assert "Tell us your name." in response.text
    assert "Enter a valid email address, like ada@example.com." in response.text
    response = client.post(f"/book/{token}", data={"start": "tomorrow at ten", "name": "A", "email": "a@b.io"})
    assert response.status_code == 422 and "Pick a time from the list." in response.text
    db.session.refresh(link)
    assert link.bookable


def test_a_time_that_is_not_a_slot_is_refused(client, make_link):
    _, token = make_link()
    response = post_booking(client, token, tomorrow_at(10, 7))
    assert response.status_code == 409
    assert db.session.scalar(select(Booking.id)) is None


def test_inactive_calendar_takes_no_booking(client, make_link):
    link, token = make_link()
    link.calendar.is_active = False
    db.session.commit()
    assert "No open times" in client.get(f"/book/{token}").text
    assert post_booking(client, token, tomorrow_at(10)).status_code == 409


def test_group_slot_counts_seats(client, make_link, make_calendar):
    calendar = make_calendar(timezone="UTC", seats=3, weekly={d: [(0, 1440)] for d in range(7)})
    tokens = [make_link(calendar=calendar)[1] for _ in range(4)]
    for token in tokens[:3]:
        assert post_booking(client, token, tomorrow_at(10)).status_code == 303
    assert post_booking(client, tokens[3], tomorrow_at(10)).status_code == 409


def test_rate_limit_answers_429_with_a_friendly_page(tmp_path, app, make_link):
    _, token = make_link()
    same_database = {"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"]}
    limited = make_app(tmp_path, RATELIMIT_ENABLED=True, ENV_VARS=same_database)
    client = limited.test_client()
    with limited.app_context():
        statuses = [client.post(f"/book/{token}", data={}).status_code for _ in range(21)]
        assert statuses[:20] == [422] * 20 and statuses[20] == 429
        response = client.post(f"/book/{token}", data={})
        assert "Too many requests" in response.text
        assert response.headers["Retry-After"]
