"""contact search by index: contact_terms (the words each contact is found by), contacts.sort_name, and the
indexes the contacts list pages by (created_at, id), (sort_name, id) and a tag's contacts (tag_id)

Revision ID: d7e8f9a0b1c2
Revises: a1c2e3f4b5d6
Create Date: 2026-12-08 10:00:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d7e8f9a0b1c2"
down_revision = "a1c2e3f4b5d6"
branch_labels = None
depends_on = None

BATCH = 1000
# Byte order on both databases (SQLite compares BINARY): see webapp/contacts/models.py.
TEXT = sa.String(254).with_variant(sa.String(254, collation="C"), "postgresql")


def upgrade():
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sort_name", TEXT, nullable=False, server_default=""))
        batch_op.create_index("ix_contacts_created_at", ["created_at", "id"], unique=False)
        batch_op.create_index("ix_contacts_sort_name", ["sort_name", "id"], unique=False)
    with op.batch_alter_table("contact_tags", schema=None) as batch_op:
        batch_op.create_index("ix_contact_tags_tag_id", ["tag_id", "contact_id"], unique=False)
    op.create_table(
        "contact_terms",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("term", TEXT, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_contact_terms_contact_id_contacts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("term", "contact_id", name=op.f("pk_contact_terms")),
    )
    with op.batch_alter_table("contact_terms", schema=None) as batch_op:
        batch_op.create_index("ix_contact_terms_contact_id", ["contact_id", "term"], unique=False)
    _fill()


def _fill():
    """Sort keys and terms for the contacts already there, BATCH at a time (the app's own tokenizer:
    the terms must be the ones the app writes and searches)."""
    from webapp.contacts.terms import contact_terms, sort_key

    conn = op.get_bind()
    contacts = sa.table(
        "contacts",
        sa.column("id", sa.Integer),
        sa.column("first_name", sa.String),
        sa.column("last_name", sa.String),
        sa.column("email", sa.String),
        sa.column("sort_name", sa.String),
    )
    terms = sa.table("contact_terms", sa.column("contact_id", sa.Integer), sa.column("term", sa.String))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(contacts.c.id, contacts.c.first_name, contacts.c.last_name, contacts.c.email)
            .where(contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        last = rows[-1].id
        conn.execute(
            contacts.update().where(contacts.c.id == sa.bindparam("row_id")).values(sort_name=sa.bindparam("key")),
            [{"row_id": r.id, "key": sort_key(r.first_name or "", r.last_name or "", r.email or "")} for r in rows],
        )
        conn.execute(
            terms.insert(),
            [
                {"contact_id": r.id, "term": term}
                for r in rows
                for term in sorted(contact_terms(r.first_name or "", r.last_name or "", r.email or ""))
            ],
        )


def downgrade():
    with op.batch_alter_table("contact_terms", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_terms_contact_id")
    op.drop_table("contact_terms")
    with op.batch_alter_table("contact_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_tags_tag_id")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_sort_name")
        batch_op.drop_index("ix_contacts_created_at")
        batch_op.drop_column("sort_name")
