"""CSV import of contacts: every row is imported, updated or refused with its reason.

A file that cannot be read at all (not CSV, not UTF-8, too large, empty, no email column) raises
FileRefused before anything changes. Otherwise the good rows land in one transaction, whatever the
bad ones do. The work is batched so 10,000 rows take seconds: existing contacts are loaded by
email_key in chunks, tags come from one dict, new contacts go in by one bulk INSERT … RETURNING.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from webapp import events
from webapp.audit import audit
from webapp.contacts import index, services
from webapp.contacts.models import Contact, normalize_email
from webapp.extensions import db

MAX_BYTES = 10 * 1024 * 1024
# Header names after lower-casing and dropping spaces, underscores and dashes.
COLUMNS = {
    "firstname": "first_name",
    "givenname": "first_name",
    "lastname": "last_name",
    "surname": "last_name",
    "familyname": "last_name",
    "email": "email",
    "emailaddress": "email",
    "phone": "phone",
    "phonenumber": "phone",
    "telephone": "phone",
    "mobile": "phone",
    "tags": "tags",
    "tag": "tags",
}
SIGNATURES = {
    b"PK\x03\x04": "an Excel, Numbers or zip file",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) file",
    b"%PDF": "a PDF",
}
SAVE_AS = "In your spreadsheet, choose File → Save as / Download → CSV (UTF-8), then upload that file."
EXAMPLE = (
    "first_name,last_name,email,phone,tags\r\n"
    'Ada,Lovelace,ada@example.com,+44 20 7946 0000,"customer, newsletter"\r\n'
    "Grace,Hopper,grace@example.com,,trial\r\n"
    "Alan,Turing,alan@example.com,(555) 010-0199,vip;webinar\r\n"
)


class FileRefused(ValueError):
    """A file that cannot be imported at all; nothing was changed. The message says what to do."""


@dataclass
class Row:
    """The outcome of one CSV row: imported, updated or refused."""

    line: int
    email: str
    name: str = ""
    status: str = "refused"
    message: str = ""
    contact_id: int | None = None
    # Only while importing: after the commit the contact is expired, and reading it would cost a query.
    contact: Contact | None = field(default=None, repr=False)


@dataclass
class Report:
    """What an import did, row by row."""

    rows: list[Row] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    blank_lines: int = 0

    def of(self, status: str) -> list[Row]:
        """The rows with one outcome, in file order."""
        return [row for row in self.rows if row.status == status]

    @property
    def counts(self) -> dict[str, int]:
        """How many rows were imported, updated and refused."""
        return {status: len(self.of(status)) for status in ("imported", "updated", "refused")}


def import_csv(data: bytes, filename: str = "") -> Report:
    """Import contacts from an uploaded CSV file; raise FileRefused (nothing changed) for an unusable file."""
    text = decode(data)
    records, ignored, blank = parse(text)
    report = Report(ignored_columns=ignored, blank_lines=blank)
    valid: list[tuple[Row, dict, list[str]]] = []
    for line, fields in records:
        row, tags = _check(line, fields)
        report.rows.append(row)
        if row.status != "refused":
            valid.append((row, fields, tags))

    try:
        existing = _existing(normalize_email(fields["email"]) for _row, fields, _tags in valid)
        cache = services.tags_named(name for _row, _fields, tags in valid for name in tags)
        _merge(valid, existing)
        # Whatever reacts to each contact (the triggers' re-entry checks) reads ahead for all of them at once.
        events.contacts_batch.send(None, contact_ids=[_contact(row).id for row, _fields, _tags in valid])
        # After the insert every contact has its id, as whatever reacts to a new tag expects.
        for row, _fields, tags in valid:
            contact = _contact(row)
            if row.status == "imported":
                services.fire_created(contact)
            if added := services.add_tags(contact, tags, cache):
                row.message = _join(row.message, "tags added: " + ", ".join(added))
            row.contact_id, row.contact = contact.id, None
        db.session.commit()
    except IntegrityError:
        # Someone added one of these emails during the import: nothing is half-done, the user retries.
        db.session.rollback()
        raise FileRefused(
            "Contacts changed while the file was being imported, so nothing was imported. Try again."
        ) from None
    for row in report.rows:
        if row.status == "updated" and not row.message:
            row.message = "Already up to date."
    counts = report.counts
    audit(
        "contact.import",
        imported=counts["imported"],
        updated=counts["updated"],
        refused=counts["refused"],
        file=repr(filename[:100]),
    )
    return report


def decode(data: bytes) -> str:
    """The file as text, or FileRefused when it is empty, too large, binary or not UTF-8."""
    if len(data) > MAX_BYTES:
        raise FileRefused(f"The file is larger than {MAX_BYTES // 1024 // 1024} MB. Split it into smaller files.")
    for signature, kind in SIGNATURES.items():
        if data.startswith(signature):
            raise FileRefused(f"This is {kind}, not a CSV file. {SAVE_AS}")
    if b"\x00" in data[:65536]:
        raise FileRefused(f"This is not a CSV file (it contains binary data). {SAVE_AS}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileRefused(f"The file is not UTF-8 text (line {line} has an invalid character). {SAVE_AS}") from None
    if not text.strip():
        raise FileRefused("The file is empty. The first row must name the columns, e.g. first_name,last_name,email.")
    return text


def parse(text: str) -> tuple[list[tuple[int, dict]], list[str], int]:
    """(line number, fields) per data row, the ignored column names, and the number of blank lines."""
    first_line = text.lstrip().split("\n", 1)[0]
    # Spreadsheets in some languages save CSV with semicolons: the header row tells which.
    delimiter = max(",;\t", key=first_line.count) if any(d in first_line for d in ";\t") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    columns: dict[int, str] = {}
    ignored: list[str] = []
    records: list[tuple[int, dict]] = []
    blank = 0
    last_line = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            cells = [cell.strip() for cell in cells]
            if not any(cells):
                blank += header is not None
                continue
            if header is None:
                header = cells
                for index, name in enumerate(cells):
                    key = COLUMNS.get(re.sub(r"[\s_\-]+", "", name.lower()))
                    if key and key not in columns.values():
                        columns[index] = key
                    elif name:
                        ignored.append(name)
                if "email" not in columns.values():
                    found = ", ".join(f"“{name}”" for name in cells[:8] if name)
                    raise FileRefused(
                        "No email column. The first row must name the columns, e.g. "
                        f"first_name,last_name,email,phone,tags. This file's first row has: {found}."
                    )
                continue
            fields = {key: "" for key in ("first_name", "last_name", "email", "phone", "tags")}
            fields.update((key, cells[index]) for index, key in columns.items() if index < len(cells))
            records.append((line, fields))
    except csv.Error as exc:
        raise FileRefused(f"Line {reader.line_num} cannot be read as CSV ({exc}). Nothing was imported.") from None
    if not records:
        raise FileRefused("The file has a header row but no contacts below it.")
    return records, ignored, blank


def _check(line: int, fields: dict) -> tuple[Row, list[str]]:
    """The row's outcome so far (refused with every reason, or pending) and its tag names."""
    name = " ".join(part for part in (fields["first_name"], fields["last_name"]) if part)
    row = Row(line=line, email=fields["email"], name=name, status="pending")
    problems = []
    if error := services.email_error(fields["email"]):
        problems.append(error)
    if error := services.phone_error(fields["phone"]):
        problems.append(error)
    for key in services.NAME_FIELDS:
        if error := services.name_error(key, fields[key]):
            problems.append(error)
    tags = services.split_tags(fields["tags"])
    problems.extend(error for tag in tags if (error := services.tag_error(tag)))
    if problems:
        row.status, row.message = "refused", " ".join(problems)
    return row, tags


def _existing(keys) -> dict[str, Contact]:
    """Contacts already stored for these email keys, loaded in chunks (their tags come along)."""
    keys = list(dict.fromkeys(keys))
    found: dict[str, Contact] = {}
    for start in range(0, len(keys), services.CHUNK):
        chunk = keys[start : start + services.CHUNK]
        found.update((c.email_key, c) for c in db.session.scalars(select(Contact).where(Contact.email_key.in_(chunk))))
    return found


def _contact(row: Row) -> Contact:
    """A valid row's contact, which _merge gave it."""
    assert row.contact is not None, "_merge gives every valid row its contact"
    return row.contact


def _merge(valid: list[tuple[Row, dict, list[str]]], existing: dict[str, Contact]) -> None:
    """Create or update the contact of each valid row; a repeated email updates the earlier row's contact."""
    new: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    keys = []
    for row, fields, _tags in valid:
        key = normalize_email(fields["email"])
        keys.append(key)
        if key not in existing and key not in new:
            new[key] = {name: fields[name] for name in ("first_name", "last_name", "email", "phone")}
            new[key]["email_key"] = key
            row.status = "imported"
            first_line[key] = row.line
            continue
        row.status = "updated"
        changed = _update(existing.get(key) or new[key], fields)
        if key in first_line:
            row.message = f"Same email as line {first_line[key]}: merged into that contact."
        first_line.setdefault(key, row.line)
        if changed:
            row.message = _join(row.message, "changed " + ", ".join(changed))
    if new:
        # A bulk INSERT … RETURNING: through the unit of work, SQLite would get one INSERT per contact.
        inserted = index.insert_contacts(db.session, list(new.values()))
        existing.update((contact.email_key, contact) for contact in inserted)
    for (row, _fields, _tags), key in zip(valid, keys):
        row.contact = existing[key]


def _update(target: Contact | dict, fields: dict) -> list[str]:
    """Copy the row's filled name and phone cells onto a contact (or one still to insert); what changed."""
    changed = []
    for name in ("first_name", "last_name", "phone"):
        current = target[name] if isinstance(target, dict) else getattr(target, name)
        if fields[name] and fields[name] != current:
            changed.append(services.LABELS[name].lower())
            if isinstance(target, dict):
                target[name] = fields[name]
            else:
                setattr(target, name, fields[name])
    return changed


def _join(first: str, second: str) -> str:
    if not first:
        return second[:1].upper() + second[1:] + "."
    return f"{first.rstrip('.')}; {second}."
