"""Contact search by index (webapp/contacts/search.py): the same rows on SQLite and PostgreSQL, terms
kept current on every write path, the list keyset-paged at a cost that does not grow with the data.

The suite runs once on SQLite and once with TEST_DATABASE_URL on PostgreSQL, so every expectation
below is checked on both databases.
"""

import re

import pytest
from sqlalchemy import func, select, text, update

from tests.conftest import statements_run
from tests.helpers import Api, empty_database_upgraded_to, pager_link
from webapp.api import keys
from webapp.contacts import importer, services
from webapp.contacts.models import Contact, contact_terms
from webapp.contacts.search import search_query
from webapp.contacts.terms import contact_terms as terms_of
from webapp.contacts.terms import sort_key
from webapp.extensions import db

PEOPLE = [
    # first, last, email, tags
    ("José", "Martínez", "jose.martinez@gmail.com", "customer"),
    ("Jose", "Marquez", "jm@yahoo.com", "vip-2024"),
    ("Maria", "O'Brien", "maria.obrien@example.org", ""),
    ("Mark", "Smith-Jones", "mark@gmail.com", "customer, newsletter"),
    ("Zoë", "Straße", "zoe@example.org", "newsletter"),
    ("", "", "nobody.named@example.net", ""),
    ("Ana", "Lopez", "alex.demo@gmail.com", "wholesale"),
    ("Łukasz", "Nowak", "lukasz@example.pl", ""),
    ("100%", "under_score", "pct@example.org", ""),
]

QUERIES = {
    "jose": {"jose.martinez@gmail.com", "jm@yahoo.com"},  # accents off: finds José too
    "josé": {"jose.martinez@gmail.com"},  # typed with the accent: only José
    "JOSE": {"jose.martinez@gmail.com", "jm@yahoo.com"},
    "mar": {"jose.martinez@gmail.com", "jm@yahoo.com", "maria.obrien@example.org", "mark@gmail.com"},
    "jose mar": {"jose.martinez@gmail.com", "jm@yahoo.com"},  # every word must match
    "jose smith": set(),
    "gmail": {"jose.martinez@gmail.com", "mark@gmail.com", "alex.demo@gmail.com"},  # the email's domain
    "gmail.com": {"jose.martinez@gmail.com", "mark@gmail.com", "alex.demo@gmail.com"},
    "alex.demo@gmail.com": {"alex.demo@gmail.com"},
    "alex.demo@": {"alex.demo@gmail.com"},
    "demo": {"alex.demo@gmail.com"},
    "o'brien": {"maria.obrien@example.org"},
    "obrien": {"maria.obrien@example.org"},
    "brien": {"maria.obrien@example.org"},
    "smithjones": {"mark@gmail.com"},
    "jones": {"mark@gmail.com"},
    "strasse": {"zoe@example.org"},  # casefold: ß is ss
    "zoe": {"zoe@example.org"},
    "łuk": {"lukasz@example.pl"},
    "custom": {"jose.martinez@gmail.com", "mark@gmail.com"},  # a tag, anywhere in its name
    "sale": {"alex.demo@gmail.com"},
    "2024": {"jm@yahoo.com"},
    "vip-2024": {"jm@yahoo.com"},
    "newsletter gmail": {"mark@gmail.com"},
    "nobody": {"nobody.named@example.net"},
    "artinez": set(),  # the middle of a word is not searched (see search.py)
    "100": {"pct@example.org"},
    "100%": {"pct@example.org"},
    "under_score": {"pct@example.org"},
    "%": set(),
    "_": set(),
    "'": set(),
    "   ": None,  # no words: every contact
    "": None,
}


@pytest.fixture
def people(app):
    made = []
    for first, last, email, tags in PEOPLE:
        made.append(
            services.create_contact({"first_name": first, "last_name": last, "email": email}, services.split_tags(tags))
        )
    return made


def found(q: str = "", tag: str = "", sort: str = "newest") -> list[str]:
    """Emails of the contacts search_query returns, in its order."""
    return [c.email for c in db.session.scalars(search_query(q, tag, sort))]


@pytest.mark.parametrize("q", list(QUERIES))
def test_search_finds_the_same_contacts_on_either_database(people, q):
    expected = QUERIES[q] if QUERIES[q] is not None else {p[2] for p in PEOPLE}
    assert set(found(q)) == expected


def test_a_tag_filter_and_words_together(people):
    assert set(found("gmail", tag="customer")) == {"jose.martinez@gmail.com", "mark@gmail.com"}
    assert found("jose", tag="Customer ") == ["jose.martinez@gmail.com"]
    assert found("jose", tag="no-such-tag") == []


def test_by_name_is_folded_and_unnamed_contacts_sort_by_email(people):
    assert found(sort="name") == [
        "pct@example.org",  # "100% under_score": digits before letters
        "alex.demo@gmail.com",  # ana lopez
        "jm@yahoo.com",  # jose marquez
        "jose.martinez@gmail.com",  # josé martínez, accents off
        "maria.obrien@example.org",
        "mark@gmail.com",
        "nobody.named@example.net",  # no name: listed by its email
        "zoe@example.org",
        "lukasz@example.pl",  # ł is a letter of its own, after z in code point order
    ]


@pytest.mark.parametrize(
    "q",
    [
        "%",
        "_",
        "%_%",
        "'; DROP TABLE contacts; --",
        '"',
        "\\",
        "\x00",
        "a\x00b",
        "x" * 200,
        "é" * 200,
        "🙂",
        "\U0010ffff",
        " " * 200,
        "a " * 100,
        "\u202e",
        "ｆｕｌｌ",
        "a%",
        "%a",
    ],
)
def test_odd_input_never_fails(login, people, q):
    response = login.get("/contacts/", query_string={"q": q, "tag": q, "sort": "name"})
    assert response.status_code == 200
    response = login.get("/contacts/", query_string={"q": q})
    assert response.status_code == 200


def test_old_page_numbers_and_bad_cursors_show_the_first_page(login, people):
    for query in ("page=3", "page=-1", "page=abc", "page=99999999999999999999", "after=abc", "before=%00"):
        assert login.get(f"/contacts/?{query}").status_code == 200


# --- every write path leaves the contact findable --------------------------------------------------


def searchable(email: str, *words: str) -> None:
    """The contact with this email is found by each word, and its terms are exactly what the tokenizer makes."""
    contact = services.find_by_email(email)
    for word in words:
        assert contact.email in found(word), (word, email)
    stored = set(db.session.scalars(select(contact_terms.c.term).where(contact_terms.c.contact_id == contact.id)))
    assert stored == terms_of(contact.first_name, contact.last_name, contact.email)
    assert contact.sort_name == sort_key(contact.first_name, contact.last_name, contact.email)


def test_every_write_path_keeps_the_terms(login, client, runner, make_contact):
    # The admin form: create, then rename.
    login.post("/contacts/new", data={"first_name": "Renée", "last_name": "Form", "email": "form@example.com"})
    searchable("form@example.com", "renee", "form")
    contact = services.find_by_email("form@example.com")
    login.post(
        f"/contacts/{contact.id}/edit", data={"first_name": "Edited", "last_name": "Name", "email": "moved@x.io"}
    )
    searchable("moved@x.io", "edited", "moved", "x.io")
    assert found("renee") == [] and found("form") == []
    # The API: create, then update by email.
    api = Api(client, keys.create_key("tests")[1])
    assert api.post("/api/v1/contacts", json={"email": "api@example.com", "first_name": "Apiary"}).status_code == 201
    searchable("api@example.com", "apiary")
    assert api.post("/api/v1/contacts", json={"email": "API@example.com", "last_name": "Keeper"}).status_code == 200
    searchable("api@example.com", "apiary", "keeper")
    # The CSV importer: a new contact (bulk insert) and a changed one (unit of work).
    csv = b"first_name,last_name,email\nBulk,Imported,bulk@example.com\nApiarist,,api@example.com\n"
    assert importer.import_csv(csv).counts == {"imported": 1, "updated": 1, "refused": 0}
    searchable("bulk@example.com", "bulk", "imported")
    searchable("api@example.com", "apiarist", "keeper")
    # The webhook trigger's path (services.new_contact / apply_fields) and the demo.
    services.new_contact({"first_name": "Hooked", "last_name": "", "email": "hook@example.com"})
    db.session.commit()
    services.apply_fields(services.find_by_email("hook@example.com"), {"first_name": "Rehooked"})
    db.session.commit()
    searchable("hook@example.com", "rehooked")
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    searchable("alex.demo@example.com", "alex", "demo")
    # A plain ORM write (as the tests' make_contact does).
    make_contact(first_name="Plain", last_name="Orm", email="orm@example.com")
    searchable("orm@example.com", "plain", "orm")
    # Deleting a contact takes its terms along.
    gone = services.find_by_email("orm@example.com").id
    services.delete_contact(services.find_by_email("orm@example.com"))
    assert db.session.scalar(select(func.count()).where(contact_terms.c.contact_id == gone)) == 0


def test_a_bulk_write_that_would_skip_the_terms_is_refused(people):
    with pytest.raises(RuntimeError, match="search finds them"):
        db.session.execute(update(Contact).where(Contact.id == people[0].id).values(first_name="Sneaky"))
    db.session.rollback()
    db.session.execute(update(Contact).where(Contact.id == people[0].id).values(phone="+1 555"))  # not searched
    db.session.commit()


def test_a_rolled_back_flush_indexes_nothing(people):
    contact = db.session.get(Contact, people[0].id)
    contact.first_name = "Rolled"
    db.session.flush()
    db.session.rollback()
    assert found("rolled") == [] and "jose.martinez@gmail.com" in found("jose")


# --- the list: keyset pages, a capped count, statements that do not grow ---------------------------


def listed(html: str) -> list[str]:
    return re.findall(r'<td><a href="/contacts/\d+">[^<]+</a></td>\s*<td>([^<]+)</td>', html)


@pytest.mark.parametrize("sort", ["newest", "name"])
def test_pages_forwards_and_backwards_with_a_search_and_a_tag(app, login, sort):
    app.config["PAGE_SIZE"] = 3
    for n in range(11):
        tags = ["club"] if n % 4 else ["other"]
        services.create_contact({"first_name": f"Member{n:02d}", "last_name": "Zed", "email": f"m{n}@club.io"}, tags)
    services.create_contact({"first_name": "Outsider", "last_name": "", "email": "out@club.io"}, ["club"])
    expected = [e for e in found("member club.io", tag="club", sort=sort)]
    assert len(expected) == 8
    url = f"/contacts/?q=member+club.io&tag=club&sort={sort}"
    pages, html = [], login.get(url).text
    assert "8 contacts match" in html
    while True:
        pages.append(listed(html))
        if not (following := pager_link(html, "next")):
            break
        assert "tag=club" in following and "q=member" in following
        html = login.get(following).text
    assert [e for page in pages for e in page] == expected and [len(p) for p in pages] == [3, 3, 2]
    back = []
    while previous := pager_link(html, "prev"):
        html = login.get(previous).text
        back.insert(0, listed(html))
    assert back == pages[:-1]


def test_the_count_is_capped(app, login, monkeypatch):
    from webapp import paging

    monkeypatch.setattr(paging, "COUNT_CAP", 4)
    monkeypatch.setattr(paging.count_upto, "__defaults__", (4,))
    for n in range(6):
        services.create_contact({"first_name": f"P{n}", "last_name": "", "email": f"p{n}@example.com"})
    assert "4+ contacts" in login.get("/contacts/").text
    assert "4+ contacts match" in login.get("/contacts/?q=example").text


@pytest.mark.parametrize(
    "url", ["/contacts/", "/contacts/?q=mar+gmail", "/contacts/?q=customer&sort=name", "/contacts/?q=jose&tag=customer"]
)
def test_the_page_sends_as_many_statements_with_3_and_30_contacts(app, login, url):
    def make(start, stop):
        for n in range(start, stop):
            services.create_contact(
                {"first_name": "Maria", "last_name": f"Ng{n}", "email": f"maria{n}@gmail.com"},
                ["customer", f"g{n % 3}"],
            )
        services.create_contact(
            {"first_name": "José", "last_name": "", "email": f"jose{start}@gmail.com"}, ["customer"]
        )

    def statements():
        with statements_run() as run:
            assert login.get(url).status_code == 200
        return len(run)

    make(0, 2)
    small = statements()
    make(2, 28)
    assert statements() == small


def test_a_search_reads_the_terms_index(people):
    """EXPLAIN shows the prefix range served by the (term, contact_id) index, not a scan of the table."""
    query = search_query("jose")
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    if db.engine.dialect.name == "sqlite":
        plan = "\n".join(row[-1] for row in db.session.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert re.search(r"SEARCH contact_terms USING COVERING INDEX \S+ \(term>\? AND term<\?\)", plan), plan
        assert "SCAN contacts" not in plan, plan
    else:
        db.session.execute(text("SET LOCAL enable_seqscan = off"))  # a 9-row table is read whole otherwise
        plan = "\n".join(r[0] for r in db.session.execute(text("EXPLAIN " + sql)).all())
        assert "pk_contact_terms" in plan, plan


def test_the_migration_fills_terms_and_sort_keys_of_existing_contacts(tmp_path):
    from flask_migrate import downgrade, upgrade

    from tests.conftest import make_app

    app = make_app(tmp_path)
    with app.app_context():
        empty_database_upgraded_to("a1c2e3f4b5d6")
        with db.engine.begin() as conn:
            for n, (first, last, email) in enumerate([("José", "Martínez", "jm@x.io"), ("", "", "Only@Mail.io")], 1):
                conn.execute(
                    text(
                        "INSERT INTO contacts (id, first_name, last_name, email, email_key, phone, created_at,"
                        " updated_at) VALUES (:id, :first, :last, :email, :key, '', '2026-01-01 00:00:00',"
                        " '2026-01-01 00:00:00')"
                    ),
                    {"id": n, "first": first, "last": last, "email": email, "key": email.lower()},
                )
        upgrade()
        assert found("jose") == ["jm@x.io"] and found("mail.io") == ["Only@Mail.io"]
        assert found(sort="name") == ["jm@x.io", "Only@Mail.io"]
        assert db.session.get(Contact, 2).sort_name == "only@mail.io"
        db.session.remove()
        downgrade(revision="a1c2e3f4b5d6")
        assert "contact_terms" not in db.inspect(db.engine).get_table_names()
        upgrade()
        db.session.remove()
