"""Contact pages: list, search, paging, create, edit, delete and inline tags (with and without HTMX)."""

import re

import pytest
from sqlalchemy import func, select

from tests.helpers import count, pager_link
from webapp.contacts import services
from webapp.contacts.models import Contact, Tag
from webapp.extensions import db


def names_listed(html: str) -> list[str]:
    """Contact names in the result table, in order."""
    return re.findall(r'<td><a href="/contacts/\d+">([^<]+)</a></td>', html)


def tagged(contact, *names):
    services.add_tags(contact, names)
    db.session.commit()
    return contact


@pytest.fixture
def people(make_contact):
    ada = tagged(make_contact(first_name="Ada", last_name="Lovelace", email="ada@example.com"), "math")
    grace = tagged(make_contact(first_name="Grace", last_name="Hopper", email="grace@navy.example.org"), "navy", "vip")
    alan = make_contact(first_name="Alan", last_name="Turing", email="alan@example.com")
    return ada, grace, alan


# --- list and search -----------------------------------------------------------------------------


def test_pages_need_login(client, make_contact):
    contact = make_contact()
    for path in ("/contacts/", "/contacts/new", f"/contacts/{contact.id}", "/contacts/import"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location, path


def test_empty_list_says_what_to_do(login):
    html = login.get("/contacts/").text
    assert "No contacts yet" in html
    assert 'href="/contacts/new"' in html and 'href="/contacts/import"' in html


def test_list_shows_name_email_phone_and_tags_newest_first(login, people):
    ada, grace, alan = people
    alan.phone = "+44 20 7946 0000"
    db.session.commit()
    html = login.get("/contacts/").text
    assert names_listed(html) == ["Alan Turing", "Grace Hopper", "Ada Lovelace"]
    assert "grace@navy.example.org" in html and "+44 20 7946 0000" in html
    assert 'href="/contacts/?tag=vip" class="tag">vip</a>' in html


def test_list_by_name(login, people, make_contact):
    make_contact(first_name="", last_name="", email="bob@example.com")
    html = login.get("/contacts/?sort=name").text
    assert names_listed(html) == ["Ada Lovelace", "Alan Turing", "bob@example.com", "Grace Hopper"]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("grace", ["Grace Hopper"]),
        ("LOVELACE", ["Ada Lovelace"]),
        ("ada lovelace", ["Ada Lovelace"]),
        ("navy.example", ["Grace Hopper"]),
        ("example.com", ["Alan Turing", "Ada Lovelace"]),
        ("vip", ["Grace Hopper"]),
        ("mat", ["Ada Lovelace"]),
        ("%", []),
    ],
)
def test_search_matches_name_email_or_tag(login, people, q, expected):
    html = login.get("/contacts/", query_string={"q": q}).text
    assert names_listed(html) == expected
    if not expected:
        assert "No contacts match" in html


def test_tag_filter_is_exact_and_combines_with_search(login, people, make_contact):
    tagged(make_contact(first_name="Vipul", last_name="Shah", email="vipul@example.com"), "vipers")
    html = login.get("/contacts/?tag=VIP").text
    assert names_listed(html) == ["Grace Hopper"]
    assert "Show every tag" in html
    assert names_listed(login.get("/contacts/?tag=vip&q=ada").text) == []


def test_search_for_htmx_returns_only_the_results(login, people, hx):
    response = login.get("/contacts/?q=grace", headers=hx)
    assert response.status_code == 200
    assert "<html" not in response.text and "<table" in response.text
    assert names_listed(response.text) == ["Grace Hopper"]
    assert "HX-Request" in response.headers["Vary"]


def test_search_page_without_htmx_is_a_full_page_with_a_real_form(login, people):
    html = login.get("/contacts/?q=grace").text
    assert "<html" in html
    assert re.search(r'<form method="get" action="/contacts/"', html)
    assert 'value="grace"' in html


def test_paging(app, login, make_contact):
    app.config["PAGE_SIZE"] = 2
    for n in range(5):
        make_contact(first_name=f"P{n}", last_name="", email=f"p{n}@example.com")
    first = login.get("/contacts/").text
    assert names_listed(first) == ["P4", "P3"] and "5 contacts" in first
    assert pager_link(first, "prev") is None
    second = login.get(pager_link(first, "next")).text
    assert names_listed(second) == ["P2", "P1"]
    third = login.get(pager_link(second, "next")).text
    assert names_listed(third) == ["P0"] and pager_link(third, "next") is None
    assert names_listed(login.get(pager_link(third, "prev")).text) == ["P2", "P1"]
    # An old ?page=N address (before keyset paging) shows the first page.
    assert names_listed(login.get("/contacts/?page=3").text) == ["P4", "P3"]
    # Paging keeps the search, the tag and the order.
    searched = login.get("/contacts/?q=example&sort=name").text
    assert names_listed(searched) == ["P0", "P1"]
    following = pager_link(searched, "next")
    assert "q=example" in following and "sort=name" in following and "after=" in following
    assert names_listed(login.get(following).text) == ["P2", "P3"]


# --- create, edit, delete ------------------------------------------------------------------------


def test_create_trims_and_normalises(login):
    response = login.post(
        "/contacts/new",
        data={
            "first_name": "  Ada ",
            "last_name": " Lovelace",
            "email": " Ada@Example.com ",
            "phone": "+44 (20) 7946-0000",
            "tags": "VIP,  Early   Adopter ,vip",
        },
    )
    assert response.status_code == 303
    contact = db.session.scalar(select(Contact))
    assert response.location == f"/contacts/{contact.id}"
    assert (contact.first_name, contact.last_name, contact.email) == ("Ada", "Lovelace", "Ada@Example.com")
    assert contact.email_key == "ada@example.com"
    assert contact.tag_names == ["early adopter", "vip"]
    page = login.get(response.location).text
    assert "Ada Lovelace was added." in page and "+44 (20) 7946-0000" in page


def test_duplicate_email_is_refused_case_insensitively(login, make_contact):
    ada = make_contact(email="ada@example.com")
    response = login.post("/contacts/new", data={"first_name": "Other", "email": "  ADA@example.COM"})
    assert response.status_code == 422
    assert "A contact with this email already exists." in response.text
    assert f'href="/contacts/{ada.id}"' in response.text
    assert count(Contact) == 1


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": ""}, "Enter an email address."),
        ({"email": "not-an-email"}, "Enter a valid email address, like ada@example.com."),
        (
            {"email": "ada@example.com", "phone": "call me"},
            "Only digits, spaces, +, -, (, ) and dots are allowed in a phone number.",
        ),
        ({"email": "ada@example.com", "phone": "1" * 41}, "Phone is longer than 40 characters."),
        ({"email": "ada@example.com", "tags": "x" * 65}, "is longer than 64 characters."),
    ],
)
def test_invalid_fields_are_explained_and_nothing_is_saved(login, data, message):
    response = login.post("/contacts/new", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert count(Contact) == 0


def test_edit(login, make_contact):
    contact = make_contact(email="ada@example.com")
    page = login.get(f"/contacts/{contact.id}/edit").text
    assert 'value="ada@example.com"' in page
    response = login.post(
        f"/contacts/{contact.id}/edit",
        data={"first_name": "Augusta", "last_name": "King", "email": "ADA@example.com", "phone": ""},
    )
    assert response.status_code == 303 and response.location == f"/contacts/{contact.id}"
    db.session.refresh(contact)
    # Its own email, in another case, is not a duplicate.
    assert (contact.name, contact.email, contact.email_key) == ("Augusta King", "ADA@example.com", "ada@example.com")


def test_edit_to_another_contacts_email_is_refused(login, make_contact):
    ada = make_contact(email="ada@example.com")
    make_contact(email="grace@example.com")
    response = login.post(f"/contacts/{ada.id}/edit", data={"email": "Grace@example.com"})
    assert response.status_code == 422
    assert "A contact with this email already exists." in response.text
    db.session.refresh(ada)
    assert ada.email == "ada@example.com"


def test_contact_page(login, make_contact):
    contact = tagged(make_contact(first_name="Ada", last_name="Lovelace", phone="+1 555 0100"), "vip")
    html = login.get(f"/contacts/{contact.id}").text
    assert "<h1>Ada Lovelace</h1>" in html
    assert 'href="tel:+15550100"' in html
    assert f'href="/contacts/{contact.id}/edit"' in html and f'href="/contacts/{contact.id}/delete"' in html
    assert "Added" in html and "Last changed" in html
    assert login.get("/contacts/999").status_code == 404


def test_delete_asks_then_deletes(login, make_contact):
    contact = tagged(make_contact(), "vip")
    contact_id = contact.id
    confirm = login.get(f"/contacts/{contact_id}/delete")
    assert confirm.status_code == 200
    assert f'<form method="post" action="/contacts/{contact_id}/delete">' in confirm.text
    assert count(Contact) == 1
    response = login.post(f"/contacts/{contact_id}/delete")
    assert response.status_code == 303 and response.location == "/contacts/"
    assert count(Contact) == 0
    assert "was deleted" in login.get("/contacts/").text
    assert login.get(f"/contacts/{contact_id}").status_code == 404
    # The tag stays for other contacts; only the link went.
    assert db.session.scalar(select(Tag.name)) == "vip"


def test_delete_keeps_bookings_without_the_contact(login, make_contact, make_calendar):
    from datetime import UTC, datetime, timedelta

    from webapp.booking.models import Booking

    contact = make_contact()
    start = datetime(2030, 1, 7, 10, tzinfo=UTC)
    booking = Booking(
        calendar=make_calendar(),
        contact_id=contact.id,
        start_at=start,
        end_at=start + timedelta(minutes=30),
        name="Ada",
        email=contact.email,
    )
    db.session.add(booking)
    db.session.commit()
    assert login.post(f"/contacts/{contact.id}/delete").status_code == 303
    db.session.refresh(booking)
    assert booking.contact_id is None


# --- tags ----------------------------------------------------------------------------------------


def test_add_tags_with_htmx_returns_the_tag_fragment(login, make_contact, hx):
    contact = tagged(make_contact(), "vip")
    response = login.post(f"/contacts/{contact.id}/tags", data={"names": " Webinar 2025 ,VIP; newsletter"}, headers=hx)
    assert response.status_code == 200
    assert '<section id="tags"' in response.text and "<html" not in response.text
    assert "Added webinar 2025, newsletter." in response.text
    assert "contact-tags-changed" in response.headers["HX-Trigger"]
    db.session.refresh(contact)
    assert contact.tag_names == ["newsletter", "vip", "webinar 2025"]


def test_add_tags_without_htmx_redirects_back(login, make_contact):
    contact = make_contact()
    response = login.post(f"/contacts/{contact.id}/tags", data={"names": "Customer"})
    assert response.status_code == 303
    assert response.location == f"/contacts/{contact.id}#tags"
    db.session.refresh(contact)
    assert contact.tag_names == ["customer"]
    assert "Added customer." in login.get(response.location).text


@pytest.mark.parametrize(
    "names, message",
    [("  ", "Type a tag name"), (",,", "Type a tag name"), ("ok, " + "y" * 65, "is longer than 64 characters")],
)
def test_bad_tags_are_refused_with_a_message(login, make_contact, hx, names, message):
    contact = make_contact()
    response = login.post(f"/contacts/{contact.id}/tags", data={"names": names}, headers=hx)
    # The refusal comes back as the fragment with its message (base.html has htmx swap 422).
    assert response.status_code == 422
    assert '<section id="tags"' in response.text and "<html" not in response.text
    assert message in response.text and 'aria-invalid="true"' in response.text
    db.session.refresh(contact)
    assert contact.tag_names == []
    plain = login.post(f"/contacts/{contact.id}/tags", data={"names": names})
    assert plain.status_code == 303
    assert message in login.get(plain.location).text


def test_remove_tag_with_htmx(login, make_contact, hx):
    contact = tagged(make_contact(), "vip", "newsletter")
    response = login.post(f"/contacts/{contact.id}/tags/remove", data={"name": "VIP"}, headers=hx)
    assert response.status_code == 200
    assert '<section id="tags"' in response.text and "<html" not in response.text
    assert "Removed vip." in response.text
    assert 'value="vip"' not in response.text and 'value="newsletter"' in response.text
    db.session.refresh(contact)
    assert contact.tag_names == ["newsletter"]


def test_remove_tag_without_htmx_redirects_back(login, make_contact):
    contact = tagged(make_contact(), "vip")
    response = login.post(f"/contacts/{contact.id}/tags/remove", data={"name": "vip"})
    assert response.status_code == 303 and response.location == f"/contacts/{contact.id}#tags"
    db.session.refresh(contact)
    assert contact.tag_names == []


def test_tag_forms_have_real_actions(login, make_contact):
    contact = tagged(make_contact(), "vip")
    html = login.get(f"/contacts/{contact.id}").text
    assert f'action="/contacts/{contact.id}/tags" hx-post="/contacts/{contact.id}/tags"' in html
    assert f'action="/contacts/{contact.id}/tags/remove" hx-post="/contacts/{contact.id}/tags/remove"' in html
    assert 'aria-label="Remove tag vip"' in html


def test_no_inline_scripts_styles_or_handlers(login, make_contact):
    contact = tagged(make_contact(), "vip")
    for path in ("/contacts/", "/contacts/new", f"/contacts/{contact.id}", "/contacts/import"):
        html = login.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert 'style="' not in html, path


def test_add_tags_service(app, make_contact):
    contact = make_contact()
    assert services.add_tags(contact, ["  Big   Fish ", "big fish", "VIP"]) == ["big fish", "vip"]
    assert services.add_tags(contact, ["vip", "new"]) == ["new"]
    # Not committed: the caller decides, so a trigger can join the same transaction.
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 0
    with pytest.raises(services.TagError):
        services.add_tags(contact, ["ok", "x" * 65])
    assert contact.tag_names == []


def test_a_tag_is_shared_between_contacts(app, make_contact):
    first, second = make_contact(), make_contact()
    services.add_tags(first, ["vip"])
    services.add_tags(second, ["VIP"])
    db.session.commit()
    assert db.session.scalars(select(Tag.name)).all() == ["vip"]
