"""Invitee pages and mail in the invitee's language and clock (webapp/i18n.py), and no dead ends.

The clock is pinned to Monday 7 December 2026, 08:00 UTC (09:00 in Berlin): the first open day is
today, its 14:00 slot is 13:00 UTC, and "tomorrow" is Tuesday 8 December.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from tests.conftest import iso
from tests.helpers import calendar_form
from webapp import i18n
from webapp.booking import links, services
from webapp.booking.models import Booking
from webapp.extensions import db
from webapp.mail.models import OutboxMessage
from webapp.worker import drain

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
TWO_PM_BERLIN = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
GERMAN = {"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"}
AMERICAN = {"Accept-Language": "en-US,en;q=0.9"}
SIGN_IN = re.compile(r"/login|sign in|Sign in", re.IGNORECASE)


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False) as clock:
        yield clock


@pytest.fixture
def berlin(make_calendar):
    return make_calendar(name="Kennenlernen", timezone="Europe/Berlin", duration=30)


def book(client, token, headers, start=TWO_PM_BERLIN):
    data = {"start": iso(start), "name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/Berlin"}
    return client.post(f"/book/{token}", data=data, headers=headers)


def invitee_mail(kind="booking_confirmed") -> OutboxMessage:
    return db.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)).one()


def test_a_german_browser_gets_the_page_and_its_mail_in_german_with_24_hour_times(
    app, client, make_link, berlin, smtp_server, admin
):
    smtp_server.configure(app)
    _, token = make_link(calendar=berlin)
    for _ in range(2):  # the first opening renders live, the next one from the pre-rendered page
        page = client.get(f"/book/{token}", headers=GERMAN).text
        assert '<html lang="de">' in page and "Buchung bestätigen" in page and "Ihre Angaben" in page
        assert "Dezember 2026" in page and "Montag, 7. Dezember" in page and ">Mo.<" in page
        assert ">14:00<" in page and not re.search(r"\d [AP]M\b", page)  # (a token may hold the letters "PM")
    response = book(client, token, GERMAN)
    assert response.status_code == 303
    booking = db.session.scalars(select(Booking)).one()
    assert booking.locale == "de_DE"
    confirmation = client.get(response.location, headers=GERMAN).text
    assert "Ihr Termin ist gebucht" in confirmation and "Montag, 7. Dezember 2026" in confirmation
    assert "14:00–14:30" in confirmation
    mail = invitee_mail()
    assert mail.subject == "Bestätigt: Kennenlernen am 07.12.2026, 14:00"
    assert "Guten Tag Ada Lovelace," in mail.text_body
    assert "Wann: Montag, 7. Dezember 2026, 14:00 – 14:30" in mail.text_body and "Europe/Berlin" in mail.text_body
    assert '<html lang="de"' in mail.html_body and "Montag, 7. Dezember 2026" in mail.html_body
    # The organisers' notification stays English.
    assert (
        "Confirmed"
        in db.session.scalars(select(OutboxMessage.subject).where(OutboxMessage.kind == "admin_confirmed")).one()
    )
    drain(app)
    sent = next(message for message in smtp_server.messages if booking.email in message["To"])
    assert sent["Subject"] == "Bestätigt: Kennenlernen am 07.12.2026, 14:00"
    assert "Wann: Montag, 7. Dezember 2026, 14:00 – 14:30" in sent.get_body(("plain",)).get_content()


def test_an_american_browser_gets_12_hour_times_on_the_page_and_in_the_mail(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    for _ in range(2):
        page = client.get(f"/book/{token}", headers=AMERICAN).text
        assert '<html lang="en">' in page and "Confirm booking" in page
        assert "Monday, December 7" in page and ">2:00 PM<" in page and ">14:00<" not in page
    response = book(client, token, AMERICAN)
    assert db.session.scalars(select(Booking.locale)).one() == "en_US"
    assert "2:00 PM–2:30 PM" in client.get(response.location, headers=AMERICAN).text
    mail = invitee_mail()
    assert mail.subject == "Confirmed: Kennenlernen on Dec 7, 2026, 2:00 PM"
    assert "When: Monday, December 7, 2026, 2:00 PM – 2:30 PM" in mail.text_body


def test_the_zone_picker_speaks_the_invitees_language(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    for _ in range(2):  # the first opening and the pre-rendered page alike
        page = client.get(f"/book/{token}", headers=GERMAN).text
        assert "Berlin — Deutschland" in page and "Vereinigte Staaten" in page and "United States" not in page
        assert 'data-search-placeholder="Stadt oder Land…"' in page


def test_a_british_browser_reads_english_with_a_24_hour_clock(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    page = client.get(f"/book/{token}", headers={"Accept-Language": "en-GB"}).text
    assert "Monday 7 December" in page and ">14:00<" in page and not re.search(r"\d [AP]M\b", page)


@pytest.mark.parametrize(
    ("accept", "words"),
    [
        ("fr-FR,fr;q=0.9", ("Confirmer la réservation", "lundi 7 décembre", ">14:00<")),
        ("es-ES", ("Confirmar reserva", "lunes, 7 de diciembre", ">14:00<")),
        ("pt-BR,pt;q=0.8", ("Confirmar agendamento", "segunda-feira, 7 de dezembro", ">14:00<")),
    ],
)
def test_each_language_speaks_its_own_words_and_dates(client, make_link, berlin, accept, words):
    _, token = make_link(calendar=berlin)
    page = client.get(f"/book/{token}", headers={"Accept-Language": accept}).text
    assert all(word in page for word in words), words


def test_the_switcher_beats_the_browser_and_is_remembered(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    page = client.get(f"/book/{token}", headers=GERMAN).text
    assert 'href="?lang=fr"' in page and 'href="?lang=de" hreflang="de" lang="de" aria-current="true"' in page
    chosen = client.get(f"/book/{token}?lang=fr", headers=GERMAN)
    assert "Confirmer la réservation" in chosen.text
    assert f"{i18n.LANG_COOKIE}=fr" in chosen.headers["Set-Cookie"]
    # Later pages, the confirmation and the mail follow the choice, whatever the browser asks for.
    assert "Confirmer la réservation" in client.get(f"/book/{token}", headers=GERMAN).text
    response = book(client, token, GERMAN)
    assert "Votre réservation est confirmée" in client.get(response.location, headers=GERMAN).text
    assert invitee_mail().subject.startswith("Confirmé : Kennenlernen le ")
    assert "Annuler la réservation" in client.get(response.location).text


def test_an_unknown_language_choice_changes_nothing(app, make_link, berlin):
    _, token = make_link(calendar=berlin)
    response = app.test_client().get(f"/book/{token}?lang=xx", headers=GERMAN)
    assert "Buchung bestätigen" in response.text and i18n.LANG_COOKIE not in response.headers.get("Set-Cookie", "")


def test_the_12_24_toggle_is_remembered_and_works_without_javascript(client, make_link, berlin, hx):
    _, token = make_link(calendar=berlin)
    page = client.get(f"/book/{token}", headers=GERMAN).text
    toggle = re.search(r'<a href="([^"]+clock=12)"', page)[1].replace("&amp;", "&")
    assert ">14:00<" in page
    twelve = client.get(toggle, headers=GERMAN)
    assert ">2:00\u202fPM<" in twelve.text and "Buchung bestätigen" in twelve.text
    assert f"{i18n.CLOCK_COOKIE}=12" in twelve.headers["Set-Cookie"]
    for _ in range(2):  # remembered, live and pre-rendered, page and fragment
        assert ">2:00\u202fPM<" in client.get(f"/book/{token}", headers=GERMAN).text
        assert ">2:00\u202fPM<" in client.get(f"/book/{token}?date=2026-12-07", headers={**GERMAN, **hx}).text
    assert ">14:00<" in client.get(f"/book/{token}?clock=24", headers=GERMAN).text
    # Another browser is not affected by the cached 12-hour page.
    _, other = make_link(calendar=berlin)
    assert ">14:00<" in client.application.test_client().get(f"/book/{other}", headers=GERMAN).text


def test_the_calendars_language_applies_when_the_browser_speaks_none_of_ours(client, make_link, make_calendar):
    spanish = make_calendar(name="Consulta", timezone="Europe/Madrid", language="es")
    _, token = make_link(calendar=spanish)
    for _ in range(2):
        assert "Confirmar reserva" in client.get(f"/book/{token}", headers={"Accept-Language": "ja-JP,ja"}).text
    assert "Buchung bestätigen" in client.get(f"/book/{token}", headers=GERMAN).text  # the browser's first
    assert "Confirmar reserva" in client.get(f"/book/{token}").text  # no header at all


def test_a_calendars_language_is_a_setting(login, client, berlin):
    response = client.post(f"/calendars/{berlin.id}", data=calendar_form(language="pt", slug=berlin.slug))
    assert response.status_code in (200, 303), response.text
    db.session.refresh(berlin)
    assert berlin.language == "pt"
    bad = client.post(f"/calendars/{berlin.id}", data=calendar_form(language="xx", slug=berlin.slug))
    assert bad.status_code == 422 and db.session.get(type(berlin), berlin.id).language == "pt"


def test_admin_pages_stay_english(login, client, berlin):
    page = client.get(f"/calendars/{berlin.id}", headers=GERMAN).text
    assert '<html lang="en">' in page and "Booking pages&#39; language" in page


def test_mail_after_an_admins_cancel_speaks_the_invitees_language(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    book(client, token, GERMAN)
    booking = db.session.scalars(select(Booking)).one()
    services.cancel(booking, "Krank", by="admin")  # outside the invitee's request: the stored locale decides
    mail = invitee_mail("booking_cancelled")
    assert mail.subject == "Storniert: Kennenlernen am 07.12.2026, 14:00"
    assert "Montag, 7. Dezember 2026, 14:00" in mail.text_body and "\nKrank\n" in mail.text_body


def test_an_old_booking_without_a_locale_gets_english_mail(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    book(client, token, GERMAN)
    booking = db.session.scalars(select(Booking)).one()
    booking.locale = ""
    db.session.commit()
    services.resend_confirmation(booking)
    assert invitee_mail("booking_resent").subject == "Your booking: Kennenlernen on Dec 7, 2026, 2:00 PM"


# --- no dead ends ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/book/no-such-link", "/booking/no-such-link", "/booking/no-such-link/reschedule"])
def test_an_unknown_link_is_a_friendly_404_in_the_invitees_language_without_a_sign_in(client, path):
    response = client.get(path, headers={"Accept-Language": "fr-FR"})
    assert response.status_code == 404
    assert "Ce lien ne fonctionne pas" in response.text and '<html lang="fr">' in response.text
    assert not SIGN_IN.search(response.text) and "/auth" not in response.text
    assert 'href="/"' not in response.text  # the admin's home, which asks for a sign-in


def test_the_guard_never_sends_an_invitee_to_the_sign_in(client):
    for path in ("/book/", "/book/x/y", "/booking/x/cancel/more"):
        response = client.get(path, headers=GERMAN)
        assert response.status_code == 404 and "Dieser Link funktioniert nicht" in response.text, path
        assert "Location" not in response.headers and not SIGN_IN.search(response.text)


def test_a_wrong_method_is_a_friendly_405_with_the_way_back(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    response = client.put(f"/book/{token}", headers={"Accept-Language": "es"})
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert "Esta página no se puede abrir así" in response.text
    assert f'href="/book/{token}"' in response.text and not SIGN_IN.search(response.text)


def test_the_back_button_after_booking_lands_on_the_confirmation(app, client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    confirmation = book(client, token, GERMAN).location
    back = client.get(f"/book/{token}", headers=GERMAN)
    assert back.status_code == 303 and back.location == confirmation
    assert "Ihr Termin ist gebucht" in client.get(back.location, headers=GERMAN).text
    # The forms' addresses opened by GET (back, reload, a copied address): their page, not a 405.
    assert client.get(f"/book/{token}/resend").status_code == 303
    cancelled = client.get(confirmation + "/cancel")
    assert cancelled.status_code == 303 and cancelled.location == confirmation
    # Another browser opening the used link is told so, in its language, without a way to sign in.
    other = app.test_client().get(f"/book/{token}", headers=GERMAN)
    assert other.status_code == 410 and "Dieser Link wurde bereits verwendet" in other.text
    assert not SIGN_IN.search(other.text)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("expired", "Dieser Link ist abgelaufen"),
        ("revoked", "Dieser Link ist nicht mehr gültig"),
    ],
)
def test_expired_and_revoked_links_say_so_in_the_invitees_language(
    client, make_link, berlin, monday_morning, status, words
):
    if status == "expired":
        link, token = make_link(calendar=berlin, expires_at=NOW + timedelta(hours=1))
        monday_morning.shift(timedelta(hours=2))
    else:
        link, token = make_link(calendar=berlin)
        links.revoke(link)
    response = client.get(f"/book/{token}", headers=GERMAN)
    assert response.status_code == 410 and words in response.text and not SIGN_IN.search(response.text)
    if status == "expired":
        assert "Montag, 7. Dezember 2026, 10:00" in response.text  # in the calendar's zone, German


def test_a_cancelled_bookings_confirmation_is_translated(client, make_link, berlin):
    _, token = make_link(calendar=berlin)
    confirmation = book(client, token, GERMAN).location
    client.post(confirmation + "/cancel", data={"reason": ""}, headers=GERMAN)
    page = client.get(confirmation, headers=GERMAN).text
    assert "Buchung storniert" in page and "Ihre Buchung ist storniert." in page
