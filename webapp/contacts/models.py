"""Contacts and their tags."""

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, PrimaryKeyConstraint, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.clock import utcnow
from webapp.columns import UTCDateTime
from webapp.extensions import db

# Byte (code point) order on both databases: SQLite compares BINARY, PostgreSQL is told "C", so a
# prefix range and the "by name" order give the same rows in the same order on either.
Text = String(254).with_variant(String(254, collation="C"), "postgresql")

contact_tags = Table(
    "contact_tags",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # A tag's contacts (the tag filter and tag search) without reading every contact's tags.
    Index("ix_contact_tags_tag_id", "tag_id", "contact_id"),
)

# The words each contact is found by (webapp/contacts/terms.py makes them; webapp/contacts/index.py
# keeps them current). (term, contact_id) serves a prefix search, (contact_id, term) a check per contact.
contact_terms = Table(
    "contact_terms",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("term", Text, nullable=False),
    PrimaryKeyConstraint("term", "contact_id", name="pk_contact_terms"),
    Index("ix_contact_terms_contact_id", "contact_id", "term"),
)


def normalize_email(email: str) -> str:
    """The key that makes emails unique regardless of case and spaces."""
    return email.strip().lower()


def normalize_tag(name: str) -> str:
    """Tags compare case-insensitively and without surrounding spaces."""
    return " ".join(name.split()).lower()


class Tag(db.Model):
    """A label on contacts; tags are stored lower-case."""

    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class Contact(db.Model):
    """A person who can receive one-time booking links."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    phone: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The shown name folded for the "by name" order (terms.sort_key), set on every write by webapp/contacts/index.py.
    sort_name: Mapped[str] = mapped_column(Text, default="", server_default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_contacts_created_at", "created_at", "id"),
        Index("ix_contacts_sort_name", "sort_name", "id"),
    )

    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, order_by=Tag.name, lazy="selectin")

    @property
    def full_name(self) -> str:
        """First and last name; empty when both are (never the email: the booking page prefills it)."""
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def name(self) -> str:
        """First and last name, or the email when both are empty."""
        return self.full_name or self.email

    @property
    def tag_names(self) -> list[str]:
        """The contact's tags as sorted names."""
        return sorted(t.name for t in self.tags)

    def __repr__(self) -> str:
        return f"<Contact {self.id} {self.email}>"
