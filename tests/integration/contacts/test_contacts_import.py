"""CSV import: per-row outcomes, updates, header variants, bad files, and a 10,000-row file."""

import io
import re

import pytest
from sqlalchemy import func, select

from tests.helpers import count
from webapp.contacts import importer, services
from webapp.contacts.models import Contact, Tag
from webapp.extensions import db


def upload(client, content: str | bytes, filename: str = "contacts.csv"):
    data = content.encode() if isinstance(content, str) else content
    return client.post(
        "/contacts/import", data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data"
    )


def summary(html: str) -> tuple[int, int, int]:
    """(imported, updated, refused) as the report's summary line shows them."""
    match = re.search(
        r"<strong>(\d+)</strong> imported,\s*<strong>(\d+)</strong> updated,\s*<strong>(\d+)</strong> refused", html
    )
    assert match, "no import summary in the page"
    return tuple(int(n) for n in match.groups())


def contacts() -> dict[str, Contact]:
    return {c.email_key: c for c in db.session.scalars(select(Contact))}


def outcomes(report) -> list[tuple[int, str]]:
    return [(row.line, row.status) for row in report.rows]


def test_import_page_offers_an_example_file(login):
    html = login.get("/contacts/import").text
    assert 'enctype="multipart/form-data"' in html
    assert 'href="/contacts/import/example.csv"' in html
    example = login.get("/contacts/import/example.csv")
    assert example.status_code == 200
    assert example.mimetype == "text/csv"
    assert "attachment" in example.headers["Content-Disposition"]
    # The example itself imports cleanly.
    report = importer.import_csv(example.data)
    assert report.counts == {"imported": 3, "updated": 0, "refused": 0}


def test_mixed_rows_give_exact_outcomes_and_good_rows_land(login, make_contact):
    make_contact(first_name="Old", last_name="Name", email="grace@example.com", phone="111")
    csv = (
        "First Name,Last Name,Email,Phone,Tags\n"
        "Ada,Lovelace,ada@example.com,+44 20 7946 0000,customer\n"  # 2 imported
        "Nobody,,,,\n"  # 3 refused: no email
        ",Hopper,GRACE@example.com,,navy\n"  # 4 updated
        "Bad,Mail,not-an-email,,\n"  # 5 refused
        "Bad,Phone,phone@example.com,call me,\n"  # 6 refused
        "\n"  # 7 blank: skipped, reported
        "Ada,King,ada@example.com,,vip\n"  # 8 same email as line 2: merged
        f"Long,Tag,long@example.com,,{'x' * 65}\n"  # 9 refused
    )
    response = upload(login, csv)
    assert response.status_code == 200
    html = response.text
    assert summary(html) == (1, 2, 4)
    # Refused rows come first, with their line and reason.
    refused = html.index('id="refused-rows"')
    assert refused < html.index('id="saved-rows"')
    for line, reason in [
        (3, "Email is missing."),
        (5, "“not-an-email” is not a valid email address."),
        (6, "Only digits, spaces, +, -, (, ) and dots are allowed in a phone number."),
        (9, "is longer than 64 characters"),
    ]:
        assert re.search(rf"<tr><td>{line}</td>.*{re.escape(reason)}", html), (line, reason)
    assert "Same email as line 2: merged into that contact" in html
    assert "1 empty line was skipped." in html

    stored = contacts()
    assert sorted(stored) == ["ada@example.com", "grace@example.com"]
    ada, grace = stored["ada@example.com"], stored["grace@example.com"]
    assert (ada.name, ada.phone, ada.tag_names) == ("Ada King", "+44 20 7946 0000", ["customer", "vip"])
    # Empty cells keep what the contact had; filled ones replace it.
    assert (grace.first_name, grace.last_name, grace.phone, grace.tag_names) == ("Old", "Hopper", "111", ["navy"])


def test_report_outcomes_per_line(app):
    report = importer.import_csv(b"email,phone\na@example.com,\n,\nb@example.com,x\nA@example.com,123\n")
    assert outcomes(report) == [(2, "imported"), (4, "refused"), (5, "updated")]
    assert report.blank_lines == 1
    assert report.of("updated")[0].message == "Same email as line 2: merged into that contact; changed phone."


def test_update_of_an_existing_contact(app, make_contact):
    ada = make_contact(first_name="Ada", last_name="Lovelace", email="Ada@Example.com", phone="")
    services.add_tags(ada, ["math"])
    db.session.commit()
    report = importer.import_csv(b"email,first name,phone,tags\nada@example.com,Augusta,+1 555 0100,math;poet\n")
    assert outcomes(report) == [(2, "updated")]
    assert report.rows[0].message == "Changed first name, phone; tags added: poet."
    assert report.rows[0].contact_id == ada.id
    ada = db.session.get(Contact, ada.id)
    assert (ada.name, ada.email, ada.phone) == ("Augusta Lovelace", "Ada@Example.com", "+1 555 0100")
    assert ada.tag_names == ["math", "poet"]
    again = importer.import_csv(b"email,first name,phone,tags\nada@example.com,Augusta,+1 555 0100,math;poet\n")
    assert again.rows[0].message == "Already up to date."
    assert count(Contact) == 1


@pytest.mark.parametrize(
    "header",
    [
        "first_name,last_name,email,phone,tags",
        "First Name,Last Name,E-mail,Phone,Tags",
        "FIRSTNAME,LASTNAME,EMAIL,PHONE,TAGS",
        " first name , last_name ,Email Address,phone number,tag",
    ],
)
def test_header_variants(app, header):
    report = importer.import_csv(f"{header}\nAda,Lovelace,ada@example.com,123,vip\n".encode())
    assert report.counts["imported"] == 1
    ada = contacts()["ada@example.com"]
    assert (ada.first_name, ada.last_name, ada.phone, ada.tag_names) == ("Ada", "Lovelace", "123", ["vip"])


def test_columns_in_any_order_and_unknown_ones_reported(app):
    report = importer.import_csv(b"Company,Email,Tags,Last Name\nACME,ada@example.com,vip,Lovelace\n")
    assert report.ignored_columns == ["Company"]
    ada = contacts()["ada@example.com"]
    assert (ada.first_name, ada.last_name, ada.tag_names) == ("", "Lovelace", ["vip"])


def test_bom_crlf_and_semicolon_tags(app):
    data = '\ufeffEmail,Tags\r\nada@example.com,"VIP; Newsletter , early adopter"\r\n'.encode()
    report = importer.import_csv(data)
    assert outcomes(report) == [(2, "imported")]
    assert contacts()["ada@example.com"].tag_names == ["early adopter", "newsletter", "vip"]


def test_semicolon_separated_file(app):
    # What spreadsheets save in locales that use the comma as the decimal mark.
    report = importer.import_csv(b"email;first name;tags\nada@example.com;Ada;vip, news\n")
    assert outcomes(report) == [(2, "imported")]
    assert contacts()["ada@example.com"].tag_names == ["news", "vip"]


def test_quoted_multiline_cell_keeps_line_numbers(app):
    report = importer.import_csv(b'email,note\na@example.com,"Two\nlines"\nbad,x\n')
    assert outcomes(report) == [(2, "imported"), (4, "refused")]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf \r\n\r\n", "The file is empty."),
        (b"name,phone\nAda,123\n", "No email column."),
        (b"ada@example.com,Ada\n", "No email column."),
        (b"email,name\n", "no contacts below it"),
        (b"PK\x03\x04\x14\x00\x06\x00", "not a CSV file"),
        (b"%PDF-1.7\n", "not a CSV file"),
        (b"email\n\x00\x01\x02", "not a CSV file"),
        ("email\nrené@example.com\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_bad_files_get_one_message_and_change_nothing(login, make_contact, content, message):
    make_contact(email="keep@example.com")
    response = upload(login, content)
    assert response.status_code == 422
    assert message in response.text
    assert 'class="flash flash-error" role="alert"' in response.text
    assert "Import result" not in response.text
    assert count(Contact) == 1


def test_too_large_file_is_refused(login, monkeypatch):
    monkeypatch.setattr(importer, "MAX_BYTES", 100)
    response = upload(login, "email\n" + "ada@example.com\n" * 10)
    assert response.status_code == 422
    assert "larger than" in response.text
    assert count(Contact) == 0


def test_no_file_chosen(login):
    response = login.post("/contacts/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Choose a CSV file to import." in response.text


@pytest.mark.slow
def test_ten_thousand_rows(login, make_contact):
    make_contact(email="person17@example.com", first_name="Existing")
    lines = ["first_name,last_name,email,phone,tags"]
    lines += [f"P{n},Row{n},person{n}@example.com,+1 555 {n:04d},batch;group-{n % 7}" for n in range(10_000)]
    lines.append("Broken,Row,broken-at-example.com,,")
    response = upload(login, "\n".join(lines) + "\n")
    assert response.status_code == 200
    assert summary(response.text) == (9999, 1, 1)
    assert count(Contact) == 10_000
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 8
    assert contacts()["person17@example.com"].tag_names == ["batch", "group-3"]
