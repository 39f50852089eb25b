"""Contact and tag rules, shared by the pages, the CSV importer, the API and the workflows."""

import re
from collections.abc import Iterable, Mapping

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from webapp import events
from webapp.audit import audit
from webapp.clock import utcnow
from webapp.contacts.models import Contact, Tag, normalize_email, normalize_tag
from webapp.contacts.search import search, search_query  # noqa: F401  (the pages, suggestions and enrolment use them)
from webapp.extensions import db
from webapp.text import single_line_error

FIELDS = ("first_name", "last_name", "email", "phone")
NAME_FIELDS = ("first_name", "last_name")
MAX_LENGTHS = {"first_name": 100, "last_name": 100, "email": 254, "phone": 40}
LABELS = {"first_name": "First name", "last_name": "Last name", "email": "Email", "phone": "Phone"}
TAG_MAX = 64
TAG_SEPARATORS = re.compile(r"[,;]")
PHONE_RE = re.compile(r"^[0-9 +\-().]*$")
SORTS = ("newest", "name")  # search.SORTS holds their keys
# Chunks keep IN (…) lists below every database's bound-parameter limit.
CHUNK = 500


class TagError(ValueError):
    """A tag name that cannot be stored; the message says why."""


# --- checks shared by the forms and the importer -------------------------------------------------


def email_error(email: str) -> str | None:
    """Why an address is not a usable email, or None (the rule of the form's Email validator)."""
    if not email:
        return "Email is missing."
    if len(email) > MAX_LENGTHS["email"]:
        return "Email is longer than 254 characters."
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        return f"“{email}” is not a valid email address."
    return None


def name_error(key: str, value: str) -> str | None:
    """Why a first or last name is refused (too long, a line break, a control or direction character), or None."""
    if len(value) > MAX_LENGTHS[key]:
        return f"{LABELS[key]} is longer than {MAX_LENGTHS[key]} characters."
    return single_line_error(value, LABELS[key])


def phone_error(phone: str) -> str | None:
    """Why a phone number is refused, or None; a light check, since formats differ by country."""
    if not phone:
        return None
    if len(phone) > MAX_LENGTHS["phone"]:
        return "Phone is longer than 40 characters."
    if not PHONE_RE.match(phone) or not any(ch.isdigit() for ch in phone):
        return "Only digits, spaces, +, -, (, ) and dots are allowed in a phone number."
    return None


def tag_error(name: str) -> str | None:
    """Why a (normalised) tag name is refused, or None."""
    if not name:
        return "A tag needs at least one character."
    if len(name) > TAG_MAX:
        return f"“{name[:20]}…” is longer than {TAG_MAX} characters."
    return None


def split_tags(text: str) -> list[str]:
    """'VIP, news;  Trial ' -> ['vip', 'news', 'trial']: normalised, de-duplicated, empty pieces skipped."""
    names = (normalize_tag(piece) for piece in TAG_SEPARATORS.split(text or ""))
    return [name for name in dict.fromkeys(names) if name]


def parse_tags(text: str) -> tuple[list[str], list[str]]:
    """Tag names typed by a person, and a message for each one refused."""
    names = split_tags(text)
    errors = [error for name in names if (error := tag_error(name))]
    return [name for name in names if not tag_error(name)], errors


# --- finding contacts ----------------------------------------------------------------------------


def find_by_email(email: str, exclude_id: int | None = None) -> Contact | None:
    """The contact with this email, compared without case and spaces."""
    query = select(Contact).where(Contact.email_key == normalize_email(email))
    if exclude_id:
        query = query.where(Contact.id != exclude_id)
    return db.session.scalar(query)


# --- changing contacts ---------------------------------------------------------------------------


def clean(data: Mapping) -> dict:
    """The contact fields of data, trimmed; missing fields are left out."""
    return {key: (data[key] or "").strip() for key in FIELDS if key in data}


def _apply(contact: Contact, data: Mapping) -> None:
    for key, value in clean(data).items():
        setattr(contact, key, value)
    contact.email_key = normalize_email(contact.email)


def fire_created(contact: Contact) -> None:
    """Send "contact created" for a contact inserted in bulk (the CSV import); does NOT commit."""
    events.contact_created.send(contact)


def apply_fields(contact: Contact, data: Mapping) -> None:
    """Set validated fields on a contact without committing (the webhook commits with its enrolment)."""
    _apply(contact, data)


def new_contact(data: Mapping, tag_names: Iterable[str] = ()) -> Contact:
    """Add a contact from validated fields, with tags, and send "contact created"; does NOT commit."""
    contact = Contact(first_name="", last_name="", phone="", tags=[])
    _apply(contact, data)
    db.session.add(contact)
    db.session.flush()
    events.contact_created.send(contact)
    add_tags(contact, tag_names)
    return contact


def create_contact(data: Mapping, tag_names: Iterable[str] = ()) -> Contact:
    """Add a contact from validated fields, with tags, and commit."""
    contact = new_contact(data, tag_names)
    db.session.commit()
    audit("contact.create", contact_id=contact.id)
    return contact


def update_contact(contact: Contact, data: Mapping) -> None:
    """Save validated fields and commit."""
    _apply(contact, data)
    db.session.commit()
    audit("contact.update", contact_id=contact.id)


def delete_contact(contact: Contact) -> None:
    """Delete a contact and its tag links; its bookings and links stay, no longer linked to it (their
    foreign keys are ON DELETE SET NULL, which SQLite enforces too: extensions turns foreign keys on)."""
    contact_id = contact.id
    db.session.delete(contact)
    db.session.commit()
    audit("contact.delete", contact_id=contact_id)


# --- tags ----------------------------------------------------------------------------------------


def tags_named(names: Iterable[str], cache: dict[str, Tag] | None = None) -> dict[str, Tag]:
    """Tag rows for normalised names, created when missing; cache (name -> Tag) saves repeated queries."""
    cache = {} if cache is None else cache
    missing = [name for name in dict.fromkeys(names) if name not in cache]
    for start in range(0, len(missing), CHUNK):
        chunk = missing[start : start + CHUNK]
        # INSERT … ON CONFLICT DO NOTHING, then SELECT: two requests adding the same new tag both succeed.
        insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        db.session.execute(insert(Tag).values([{"name": name} for name in chunk]).on_conflict_do_nothing())
        cache.update((tag.name, tag) for tag in db.session.scalars(select(Tag).where(Tag.name.in_(chunk))))
    return cache


def add_tags(
    contact: Contact, names: Iterable[str], cache: dict[str, Tag] | None = None, *, via_workflows: Iterable[int] = ()
) -> list[str]:
    """Attach tags to a contact (creating new tags) and return the names newly added, in order.

    Every tag addition goes through here: pages, CSV import, API and workflows. Names are normalised
    (normalize_tag); a name that is empty or longer than 64 characters raises TagError before anything
    changes. This does NOT commit: the caller commits, so a tag and whatever reacts to it (the
    "tag added" trigger) land in one transaction or not at all. The contact should have its id
    (flushed) before the call. `cache` (name -> Tag) lets a bulk caller avoid a query per contact.
    `via_workflows`: the workflows whose steps added the tag, which its trigger must not enrol again.
    """
    wanted = [normalize_tag(name) for name in names]
    for name in wanted:
        if error := tag_error(name):
            raise TagError(error)
    have = set(contact.tag_names)
    new = [name for name in dict.fromkeys(wanted) if name not in have]
    if not new:
        return []
    tags = tags_named(new, cache)
    contact.tags.extend(tags[name] for name in new)
    contact.updated_at = utcnow()
    via = tuple(via_workflows)
    for name in new:
        events.tag_added.send(contact, tag=name, via_workflows=via)
    return new


def remove_tag(contact: Contact, name: str) -> bool:
    """Detach one tag from a contact; True when it was there. Does NOT commit (like add_tags)."""
    name = normalize_tag(name)
    for tag in contact.tags:
        if tag.name == name:
            contact.tags.remove(tag)
            contact.updated_at = utcnow()
            return True
    return False
