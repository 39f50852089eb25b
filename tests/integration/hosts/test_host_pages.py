"""Host pages: list, add, edit (errors keep what was typed), photo upload and its public URL, own hours,
time off, deactivate or delete."""

from datetime import UTC, date, datetime
from io import BytesIO

import pytest
import time_machine
from PIL import Image
from sqlalchemy import select

from tests.helpers import pager_link
from webapp.booking.models import Booking, BookingHost
from webapp.extensions import db
from webapp.hosts.models import Host, HostTimeOff


def image_bytes(fmt="JPEG", size=(400, 300), mode="RGB", color=(200, 40, 40)) -> bytes:
    """A real image: red on the left half, blue on the right (so the centre crop shows both)."""
    image = Image.new(mode, size, color)
    if mode == "RGB":
        image.paste((30, 60, 220), (size[0] // 2, 0, size[0], size[1]))
    out = BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def upload(client, host, data: bytes, filename="me.jpg"):
    return client.post(
        f"/hosts/{host.id}/photo",
        data={"photo": (BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_the_admin_is_a_host_marked_you(login, admin):
    page = login.get("/hosts/").text
    assert admin.email in page and ">you<" in page
    assert 'href="/hosts/"' in login.get("/calendars/").text  # the nav entry


def test_add_host_then_list_shows_calendars(login, make_calendar):
    response = login.post("/hosts/new", data={"name": "Sam Rivera", "email": "Sam@Example.com", "timezone": "Berlin"})
    host = db.session.scalar(select(Host).where(Host.email_key == "sam@example.com"))
    assert response.status_code == 303 and response.location == f"/hosts/{host.id}"
    assert host.timezone == "Europe/Berlin" and host.user_id is None
    calendar = make_calendar(name="Demo call")
    from webapp.calendars import services

    services.set_hosts(calendar, [host.id])
    db.session.commit()
    page = login.get("/hosts/").text
    assert "Sam Rivera" in page and "Demo call" in page and ">SR<" in page  # initials without a photo


def test_add_host_errors_keep_what_was_typed(login, make_host):
    make_host(name="Taken", email="taken@example.com")
    response = login.post("/hosts/new", data={"name": "Ada <b>", "email": "TAKEN@example.com ", "timezone": "Atlantis"})
    assert response.status_code == 422
    assert "Another host already has this email." in response.text
    assert "is not a time zone" in response.text or "Atlantis" in response.text
    assert 'value="Ada &lt;b&gt;"' in response.text  # kept, and escaped
    assert db.session.scalar(select(Host).where(Host.name == "Ada <b>")) is None


def test_edit_details(login, make_host):
    host = make_host(name="Sam", email="sam@example.com")
    response = login.post(
        f"/hosts/{host.id}", data={"name": "Sam Rivera", "email": "sam.r@example.com", "timezone": "UTC"}
    )
    assert response.status_code == 303
    db.session.refresh(host)
    assert (host.name, host.email, host.email_key) == ("Sam Rivera", "sam.r@example.com", "sam.r@example.com")


def test_edit_refuses_another_hosts_email_and_keeps_input(login, make_host):
    make_host(email="one@example.com")
    host = make_host(name="Two", email="two@example.com")
    response = login.post(f"/hosts/{host.id}", data={"name": "Renamed", "email": "One@example.com", "timezone": "UTC"})
    assert response.status_code == 422 and "Another host already has this email." in response.text
    assert 'value="Renamed"' in response.text
    db.session.refresh(host)
    assert host.name == "Two"
    # Its own email (any case) is not "another host's".
    assert (
        login.post(f"/hosts/{host.id}", data={"name": "Two", "email": "TWO@example.com", "timezone": "UTC"}).status_code
        == 303
    )


def test_photo_upload_is_cropped_resized_and_served(login, client, make_host):
    host = make_host()
    response = upload(login, host, image_bytes("PNG", (600, 300)), "me.png")
    assert response.status_code == 303
    db.session.refresh(host)
    assert host.photo_version == 1 and host.photo_type == "image/jpeg"
    url = f"/hosts/{host.id}/photo/1"
    assert url in login.get(f"/hosts/{host.id}").text
    login.post("/logout")
    served = client.get(url)  # public: booking pages show it
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age=31536000" in served.headers["Cache-Control"]
    image = Image.open(BytesIO(served.data))
    assert image.size == (256, 256) and image.format == "JPEG"
    # The centre crop of a red | blue image keeps both halves.
    assert image.getpixel((10, 128))[0] > 150 and image.getpixel((245, 128))[2] > 150
    assert client.get(f"/hosts/{host.id}/photo/2").status_code == 404  # not this version


def test_transparent_images_stay_png_and_every_format_is_taken(login, make_host):
    host = make_host()
    assert upload(login, host, image_bytes("PNG", (50, 80), "RGBA", (0, 0, 0, 0)), "t.png").status_code == 303
    db.session.refresh(host)
    assert host.photo_type == "image/png"
    for fmt in ("GIF", "WEBP", "JPEG"):
        assert upload(login, host, image_bytes(fmt), f"x.{fmt.lower()}").status_code == 303, fmt
    db.session.refresh(host)
    assert host.photo_version == 4


def test_bad_files_are_refused_with_a_message(login, make_host):
    host = make_host()
    for data, name in [
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg"),
        (b"hello", "x.jpg"),
        (image_bytes("BMP"), "x.bmp"),
        (image_bytes("JPEG")[:200], "cut.jpg"),
        (b"", "empty.jpg"),
    ]:
        response = upload(login, host, data, name)
        assert response.status_code == 422, name
        assert 'class="field-error" id="photo-error"' in response.text, name
    db.session.refresh(host)
    assert host.photo_version == 0 and host.photo_type == ""


def test_a_too_large_file_is_refused(login, make_host, monkeypatch):
    from webapp.hosts import photos

    monkeypatch.setattr(photos, "MAX_BYTES", 1000)
    host = make_host()
    response = upload(login, host, image_bytes("PNG", (400, 400)))
    assert response.status_code == 422 and "larger than" in response.text


def test_remove_photo(login, client, make_host):
    host = make_host()
    upload(login, host, image_bytes())
    assert login.post(f"/hosts/{host.id}/photo/remove").status_code == 303
    db.session.refresh(host)
    assert host.photo_type == "" and host.photo_version == 2
    assert client.get(f"/hosts/{host.id}/photo/1").status_code == 404
    assert client.get(f"/hosts/{host.id}/photo/2").status_code == 404


def test_photo_of_a_missing_host_is_404(client):
    assert client.get("/hosts/999/photo/1").status_code == 404


def test_own_hours_saved_and_refused_when_they_overlap(login, make_host):
    host = make_host()
    page = login.get(f"/hosts/{host.id}").text
    assert page.count('value="09:00"') == 5  # starts with weekdays 9–5
    response = login.post(
        f"/hosts/{host.id}/hours",
        data={
            "own_hours": "y",
            "mon-0-start": "09:00",
            "mon-0-end": "12:00",
            "mon-1-start": "11:00",
            "mon-1-end": "14:00",
        },
    )
    assert response.status_code == 422 and "overlaps" in response.text
    assert 'value="11:00"' in response.text
    db.session.refresh(host)
    assert not host.own_hours and host.hours == []
    response = login.post(
        f"/hosts/{host.id}/hours",
        data={
            "own_hours": "y",
            "mon-0-start": "09:00",
            "mon-0-end": "12:00",
            "tue-0-start": "13:00",
            "tue-0-end": "00:00",
        },
    )
    assert response.status_code == 303
    db.session.refresh(host)
    assert host.own_hours and [(h.weekday, h.start_minute, h.end_minute) for h in host.hours] == [
        (0, 540, 720),
        (1, 780, 1440),
    ]


def test_add_hours_row_keeps_what_was_typed(login, make_host):
    host = make_host()
    response = login.post(
        f"/hosts/{host.id}/hours",
        data={"own_hours": "y", "mon-0-start": "08:15", "mon-0-end": "10:00", "action": "add-mon"},
    )
    assert response.status_code == 200
    assert 'value="08:15"' in response.text and 'value="10:00"' in response.text and 'value="11:00"' in response.text
    db.session.refresh(host)
    assert host.hours == []


@pytest.fixture
def in_march():
    """10 March 2026 from before sign-in to the end of the test (a session is not signed in the future)."""
    with time_machine.travel(datetime(2026, 3, 10, 12, tzinfo=UTC), tick=False):
        yield


def test_time_off_add_list_remove(in_march, login, make_host):
    host = make_host()
    response = login.post(f"/hosts/{host.id}/time-off", data={"first_day": "2026-03-20", "last_day": "2026-03-18"})
    assert response.status_code == 422 and "The last day is before the first day." in response.text
    assert 'value="2026-03-20"' in response.text
    assert db.session.scalar(select(HostTimeOff.id)) is None
    response = login.post(
        f"/hosts/{host.id}/time-off", data={"first_day": "2026-03-20", "last_day": "2026-03-24", "note": "Ski <trip>"}
    )
    assert response.status_code == 303
    login.post(f"/hosts/{host.id}/time-off", data={"first_day": "2026-03-30", "note": ""})
    db.session.add(HostTimeOff(host_id=host.id, first_day=date(2026, 2, 1), last_day=date(2026, 2, 3), note="Old"))
    db.session.commit()
    page = login.get(f"/hosts/{host.id}").text
    assert "Fri 20 Mar 2026 – Tue 24 Mar 2026" in page and "Ski &lt;trip&gt;" in page
    assert "Mon 30 Mar 2026" in page and "Old" not in page  # past time off is not listed
    entries = {e.first_day: e for e in db.session.scalars(select(HostTimeOff))}
    assert entries[date(2026, 3, 30)].last_day == date(2026, 3, 30)  # empty last day: one day
    assert login.post(f"/hosts/{host.id}/time-off/{entries[date(2026, 3, 20)].id}/remove").status_code == 303
    assert db.session.get(HostTimeOff, entries[date(2026, 3, 20)].id) is None
    other = Host(name="Other", email="o@example.com", email_key="o@example.com")
    db.session.add(other)
    db.session.commit()
    # Another host's entry is not removed through this host's address.
    login.post(f"/hosts/{other.id}/time-off/{entries[date(2026, 3, 30)].id}/remove")
    assert db.session.get(HostTimeOff, entries[date(2026, 3, 30)].id) is not None


def test_a_host_without_bookings_is_deleted(login, make_host, make_calendar):
    calendar = make_calendar()
    host = make_host(calendars=[calendar])
    page = login.get(f"/hosts/{host.id}/delete").text
    assert "cannot be undone" in page
    response = login.post(f"/hosts/{host.id}/delete")
    assert response.status_code == 303 and response.location == "/hosts/"
    assert db.session.get(Host, host.id) is None
    db.session.refresh(calendar)
    assert calendar.host_links == []


def test_a_host_with_bookings_is_deactivated_not_deleted(login, make_host, make_calendar, make_contact):
    calendar = make_calendar()
    host = make_host(calendars=[calendar])
    contact = make_contact()
    start = datetime(2026, 1, 5, 10, tzinfo=UTC)
    booking = Booking(
        calendar_id=calendar.id,
        contact_id=contact.id,
        start_at=start,
        end_at=start.replace(hour=11),
        name="Ada",
        email="ada@example.com",
        timezone="UTC",
    )
    db.session.add(booking)
    db.session.flush()
    db.session.add(
        BookingHost(booking_id=booking.id, host_id=host.id, calendar_id=calendar.id, busy_start=start, busy_end=start)
    )
    db.session.commit()
    assert "deactivated" in login.get(f"/hosts/{host.id}/delete").text
    response = login.post(f"/hosts/{host.id}/delete")
    assert response.status_code == 303
    db.session.refresh(host)
    assert host.is_active is False
    assert "inactive" in login.get("/hosts/").text
    login.post(f"/hosts/{host.id}/active", data={"active": "1"})
    db.session.refresh(host)
    assert host.is_active is True


def test_an_admins_host_is_never_deleted(login, admin):
    host = db.session.scalar(select(Host).where(Host.user_id == admin.id))
    assert "Delete…" not in login.get(f"/hosts/{host.id}").text
    login.post(f"/hosts/{host.id}/delete")
    assert db.session.get(Host, host.id) is not None


def test_the_list_is_paged(login, make_host):
    for n in range(55):
        make_host(name=f"Host {n:02d}")
    page = login.get("/hosts/").text
    assert "Host 00" in page and "Host 48" in page and "Host 54" not in page
    following = login.get(pager_link(page, "next")).text
    assert "Host 54" in following and "Host 00" not in following


def test_pages_need_sign_in(client, make_host):
    host = make_host()
    for path in ("/hosts/", "/hosts/new", f"/hosts/{host.id}", f"/hosts/{host.id}/delete"):
        assert client.get(path).status_code == 302, path
    assert client.post(f"/hosts/{host.id}/photo/remove").status_code == 302


def test_settings_links_to_the_admins_own_host(login, admin):
    assert 'href="/hosts/me"' in login.get("/settings").text
    host = db.session.scalar(select(Host).where(Host.user_id == admin.id))
    assert login.get("/hosts/me").location == f"/hosts/{host.id}"


def test_a_hosts_page_ends_with_their_connected_calendars_and_bookings_feed(app, login, make_host):
    host = make_host(name="Sam Rivera")
    html = login.get(f"/hosts/{host.id}").text
    assert 'id="connections"' in html and "Connect a calendar…" in html
    assert 'id="host-feed"' in html and f"/hosts/{host.id}/feed" in html


def test_an_email_with_a_nul_byte_is_refused_not_looked_up(app, api, make_host):
    """The form's own check refuses it; the "already taken" lookup never sends it to the database
    (PostgreSQL text cannot hold NUL: schemathesis found the 500)."""
    host = make_host(name="Sam Rivera")
    response = api.patch(f"/api/v1/hosts/{host.id}", {"email": "sam\x00@example.com"})
    assert response.status_code == 422 and "email" in response.json["fields"]
