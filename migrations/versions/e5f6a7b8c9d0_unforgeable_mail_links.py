"""Mail names the secret links it may reveal (secret_links, link_nonce); ids of links and bookings never reused

Stored mail used to hold markers such as ⟦book:42⟧, and sending resolved every one found, including
markers typed by a contact or an invitee. Now a message records the links its code put there and its
markers carry the message's random nonce. Existing messages keep only the markers that were
legitimately theirs: a link whose contact has the message's address, the manage link of the
message's own booking. Anything else stays the text it was.

SQLite reuses the highest id after a delete unless a table is AUTOINCREMENT: links and bookings
become so, so a queued mail can never reveal a newer object that took a deleted one's id.

Revision ID: e5f6a7b8c9d0
Revises: e7a3c5d1f9b2
Create Date: 2026-12-07 00:30:00.000000

"""
import json
import re
import secrets
from email.utils import parseaddr

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5f6a7b8c9d0'
down_revision = 'e7a3c5d1f9b2'
branch_labels = None
depends_on = None

OLD_MARKER = re.compile(r"⟦(book|manage):(\d+)⟧")
NEW_MARKER = re.compile(r"⟦(book|manage):(\d+):([0-9a-f]{32})⟧")


def _parts(row):
    attachments = row.attachments
    if isinstance(attachments, str):
        attachments = json.loads(attachments)
    return row.text_body or "", row.html_body or "", attachments or []


def _rewrite_messages(conn, marker, keep, upgrading):
    """Rewrite the markers of every message that has one; `keep(row, match)` says which are its own."""
    rows = conn.execute(
        sa.text(
            "SELECT id, to_addr, booking_id, text_body, html_body, attachments, link_nonce FROM outbox_messages"
            " WHERE text_body LIKE :m OR html_body LIKE :m OR CAST(attachments AS TEXT) LIKE :m"
        ),
        {"m": "%⟦%"},
    ).all()
    for row in rows:
        text, html, attachments = _parts(row)
        nonce = row.link_nonce or secrets.token_hex(16)
        own = []

        def swap(match, row=row, nonce=nonce, own=own):
            purpose, obj_id = match[1], int(match[2])
            if not keep(row, match):
                return match[0]
            if [purpose, obj_id] not in own:
                own.append([purpose, obj_id])
            return f"⟦{purpose}:{obj_id}:{nonce}⟧" if upgrading else f"⟦{purpose}:{obj_id}⟧"

        text, html = marker.sub(swap, text), marker.sub(swap, html)
        attachments = [{**item, "content": marker.sub(swap, item.get("content") or "")} for item in attachments]
        conn.execute(
            sa.text(
                "UPDATE outbox_messages SET text_body = :text, html_body = :html, attachments = :attachments,"
                " secret_links = :links, link_nonce = :nonce WHERE id = :id"
            ).bindparams(sa.bindparam("attachments", type_=sa.JSON), sa.bindparam("links", type_=sa.JSON)),
            {
                "id": row.id,
                "text": text,
                "html": html,
                "attachments": attachments,
                "links": own if upgrading else [],
                "nonce": nonce if own and upgrading else "",
            },
        )


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_links', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('link_nonce', sa.String(length=32), nullable=False, server_default=''))
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('secret_links', server_default=None)
        batch_op.alter_column('link_nonce', server_default=None)

    conn = op.get_bind()
    # Who each link and booking belongs to: a message keeps a marker only if its recipient is that person.
    link_owner = dict(
        conn.execute(
            sa.text("SELECT l.id, lower(c.email) FROM one_time_links l JOIN contacts c ON c.id = l.contact_id")
        ).all()
    )
    booker = dict(conn.execute(sa.text("SELECT id, lower(email) FROM bookings")).all())

    def keep(row, match):
        recipient = parseaddr(row.to_addr or "")[1].strip().lower()
        if match[1] == "manage":
            return row.booking_id == int(match[2]) and booker.get(row.booking_id) == recipient
        return link_owner.get(int(match[2])) == recipient

    _rewrite_messages(conn, OLD_MARKER, keep, upgrading=True)

    if conn.dialect.name == "sqlite":
        for table in ('one_time_links', 'bookings'):
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': True}):
                pass


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table in ('one_time_links', 'bookings'):
            with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': False}):
                pass
    # Only the message's own markers go back to the old form; one a person typed (any other nonce) stays text.
    _rewrite_messages(conn, NEW_MARKER, lambda row, match: match[3] == row.link_nonce, upgrading=False)
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('link_nonce')
        batch_op.drop_column('secret_links')
