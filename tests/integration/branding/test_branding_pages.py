"""Settings → Branding: the form keeps what was typed when it refuses it, the logo is a real image
resized (SVG and files that only pretend refused), the logo and theme have versioned public URLs, and
the booking page wears the business name, logo and accent (the name as text, never markup)."""

import io

import pytest
from PIL import Image

from tests.conftest import statements_run
from tests.helpers import calendar_form
from webapp.branding import services
from webapp.branding.models import Branding
from webapp.calendars.models import Calendar
from webapp.extensions import db

SETTINGS = {
    "business_name": "Acme & Sons",
    "accent": "#ff8800",
    "sender_name": "Acme Bookings",
    "sender_email": "bookings@acme.example.com",
    "powered_by": "y",
}


def png(width=800, height=300, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def upload(client, data: bytes, filename: str):
    return client.post(
        "/settings/branding/logo",
        data={"logo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def brand_row() -> Branding | None:
    db.session.expire_all()
    return db.session.get(Branding, 1)


def test_the_page_says_where_mail_goes_out_from_and_saves(login):
    page = login.get("/settings/branding")
    assert page.status_code == 200
    assert "OneSlot &lt;noreply@localhost&gt;" in page.text  # MAIL_DEFAULT_SENDER, the last fallback
    assert 'type="color"' in page.text and 'value="#0172ad"' in page.text  # Pico's accent to start from
    response = login.post("/settings/branding", data=SETTINGS)
    assert response.status_code == 303
    row = brand_row()
    assert (row.business_name, row.accent, row.sender_name, row.sender_email) == (
        "Acme & Sons",
        "#ff8800",
        "Acme Bookings",
        "bookings@acme.example.com",
    )
    assert row.powered_by is True and row.version == 1
    page = login.get("/settings/branding")
    assert "Acme Bookings &lt;bookings@acme.example.com&gt;" in page.text
    off = {name: value for name, value in SETTINGS.items() if name != "powered_by"}  # an unticked box is not sent
    assert login.post("/settings/branding", data=off).status_code == 303
    assert brand_row().powered_by is False


def test_an_install_that_never_saved_keeps_sent_by_oneslot_on(app):
    assert services.current() == services.Brand()
    assert services.current().powered_by is True


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("accent", "red", "#rrggbb"),
        ("accent", "#12345g", "#rrggbb"),
        ("sender_email", "bookings@acme.example.com\r\nBcc: victim@example.com", "Enter one email address"),
        ("sender_email", "Acme <bookings@acme.example.com>", "Enter one email address"),
        ("sender_email", "not an address", "Enter one email address"),
        ("sender_name", "Acme\r\nBcc: victim@example.com", "line break"),
        ("business_name", "Acme\u202eevil", "right-to-left override"),
        ("business_name", "A" * 101, "At most 100 characters"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_kept(login, field, typed, message):
    data = {**SETTINGS, field: typed}
    response = login.post("/settings/branding", data=data)
    assert response.status_code == 422
    assert message in response.text
    if field != "accent":  # a colour input shows only colours; its message says what to type
        kept = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert f'value="{kept.splitlines()[0]}' in response.text
    assert 'value="Acme &amp; Sons"' in response.text or field == "business_name"
    assert brand_row() is None  # nothing saved


def test_a_png_logo_is_resized_stored_and_served_at_a_versioned_url(login, client):
    response = upload(login, png(800, 300), "logo.png")
    assert response.status_code == 303
    row = brand_row()
    assert (row.logo_type, row.logo_width, row.logo_height) == ("image/png", 320, 120)
    served = client.get(f"/brand/logo/{row.version}")
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in served.headers["Cache-Control"] and "max-age=31536000" in served.headers["Cache-Control"]
    assert Image.open(io.BytesIO(served.data)).size == (320, 120)
    page = login.get("/settings/branding")
    assert f'src="/brand/logo/{row.version}"' in page.text and "Replace logo" in page.text
    # An old version's URL is not kept for a year.
    assert "immutable" not in client.get(f"/brand/logo/{row.version - 1}").headers["Cache-Control"]
    assert login.post("/settings/branding/logo/remove").status_code == 303
    row = brand_row()
    assert row.logo is None and row.logo_type == ""
    assert client.get(f"/brand/logo/{row.version}").status_code == 404


def test_a_small_jpeg_keeps_its_size_and_type(login):
    out = io.BytesIO()
    Image.new("RGB", (200, 60), (0, 90, 200)).save(out, "JPEG")
    assert upload(login, out.getvalue(), "logo.jpg").status_code == 303
    row = brand_row()
    assert (row.logo_type, row.logo_width, row.logo_height) == ("image/jpeg", 200, 60)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "logo.svg"),
        (b"GIF89a not really", "logo.png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "logo.png"),  # a PNG signature and nothing after it
        (b"%PDF-1.7", "logo.webp"),
    ],
)
def test_svg_and_files_that_are_not_images_are_refused(login, data, filename):
    response = upload(login, data, filename)
    assert response.status_code == 422
    assert "Upload a PNG, JPEG or WebP image (SVG is not accepted)." in response.text
    assert brand_row() is None


def test_the_logo_and_theme_are_public_and_the_settings_page_is_not(client, login):
    services.set_logo(png())
    services.save(business_name="", accent="#ff8800", sender_name="", sender_email="", powered_by=True)
    version = services.current().version
    anonymous = client.application.test_client()
    assert anonymous.get(f"/brand/logo/{version}").status_code == 200
    theme = anonymous.get(f"/brand/theme/{version}.css")
    assert theme.status_code == 200 and theme.headers["Content-Type"] == "text/css; charset=utf-8"
    assert "--pico-primary-background: #ff8800;" in theme.text
    assert "--pico-primary-inverse: #000000;" in theme.text  # black reads better on orange
    assert anonymous.get("/settings/branding").status_code == 302  # to the sign-in page


def test_readable_colours():
    assert services.readable_on("#ffff00") == "#000000"
    assert services.readable_on("#0b1d51") == "#ffffff"
    for accent in ("#ffff00", "#ff8800", "#0172ad", "#777777", "#000000", "#ffffff"):
        palette = services.colours(accent)
        assert services.contrast(palette.ink, accent) >= 4.5
        assert services.contrast(palette.light_text, services.LIGHT_PAGE) >= 4.5
        assert services.contrast(palette.dark_text, services.DARK_PAGE) >= 4.5
    assert services.colours("#0b63a8").light_text == "#0b63a8"  # readable as it is: kept


def test_the_booking_page_wears_the_branding_and_escapes_the_name(app, client, make_link):
    _link, token = make_link()
    plain = client.get(f"/book/{token}")
    assert plain.status_code == 200 and "public-brand" not in plain.text and "/brand/theme/" not in plain.text
    services.set_logo(png())
    services.save(
        business_name="<script>alert('x')</script> & Co",
        accent="#ff8800",
        sender_name="",
        sender_email="",
        powered_by=True,
    )
    version = services.current().version
    for _ in range(2):  # live, then from the pre-rendered shell
        page = client.get(f"/book/{token}")
        assert page.status_code == 200
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Co" in page.text
        assert "<script>alert" not in page.text
        assert f'src="/brand/logo/{version}"' in page.text and 'width="320" height="120"' in page.text
        assert f'href="/brand/theme/{version}.css"' in page.text
    services.save(business_name="Second name", accent="", sender_name="", sender_email="", powered_by=True)
    page = client.get(f"/book/{token}")
    assert "Second name" in page.text and "&lt;script&gt;" not in page.text  # a new key: not the old shell
    assert "/brand/theme/" not in page.text  # OneSlot's own accent again


def test_a_name_holding_a_hole_character_renders_live(app, client, make_link):
    _link, token = make_link()
    services.save(business_name="Acme \ue000token\ue001", accent="", sender_name="", sender_email="", powered_by=True)
    page = client.get(f"/book/{token}")
    assert page.status_code == 200
    assert "Acme \ue000token\ue001" in page.text  # shown as typed, not filled with the token


def test_the_booking_page_reads_the_branding_in_one_small_query(app, client, make_link):
    _link, token = make_link()
    services.save(business_name="Acme", accent="#ff8800", sender_name="", sender_email="", powered_by=True)
    client.get(f"/book/{token}")
    with statements_run() as statements:
        assert client.get(f"/book/{token}").status_code == 200
    reads = [s for s in statements if "branding" in s]
    assert len(reads) == 1 and "logo," not in reads[0], reads


def test_a_calendar_has_its_own_sender(login):
    data = calendar_form(sender_name="Acme Sales", sender_email="sales@acme.example.com")
    assert login.post("/calendars/new", data=data).status_code == 303
    calendar = db.session.query(Calendar).one()
    assert (calendar.sender_name, calendar.sender_email) == ("Acme Sales", "sales@acme.example.com")
    page = login.get(f"/calendars/{calendar.id}")
    assert 'value="Acme Sales"' in page.text and 'value="sales@acme.example.com"' in page.text
    bad = login.post(
        f"/calendars/{calendar.id}",
        data=calendar_form(sender_name="Acme\r\nBcc: x@example.com", sender_email="sales@acme.example.com\nBcc: x@y.z"),
    )
    assert bad.status_code == 422
    assert "line break" in bad.text and "Enter one email address" in bad.text
    db.session.expire_all()
    assert db.session.get(Calendar, calendar.id).sender_name == "Acme Sales"


def test_the_api_takes_and_returns_a_calendars_sender(api):
    created = api.post(
        "/api/v1/calendars", {"name": "Intro", "sender_name": "Acme", "sender_email": "hi@acme.example.com"}
    )
    assert created.status_code == 201, created.json
    assert created.json["sender_name"] == "Acme" and created.json["sender_email"] == "hi@acme.example.com"
    listed = api.get("/api/v1/calendars").json["calendars"]
    assert listed[0]["sender_email"] == "hi@acme.example.com"
    bad = api.post("/api/v1/calendars", {"name": "Bad", "sender_name": "A\r\nBcc: x@y.z", "sender_email": "x\n@y"})
    assert bad.status_code == 422
    assert set(bad.json["fields"]) >= {"sender_name", "sender_email"}
    plain = api.post("/api/v1/calendars", {"name": "Plain"}).json
    assert plain["sender_name"] == "" and plain["sender_email"] == ""
