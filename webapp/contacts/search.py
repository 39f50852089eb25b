"""Contact search and the contacts list: answered by indexes, the same rows on SQLite and PostgreSQL.

A search is whitespace-separated words, and a contact matches when EVERY word does. A word matches
when a tag name contains it, or when each of its alphanumeric pieces is the beginning of one of the
contact's terms (words of the first and last name and of the email, and the whole address; see
terms.py). So "mar" finds Maria and Marchetti, "gmail" everyone at gmail.com, "jose" José, and
"alex.demo@gmail.com" that address. A word in the middle of a name ("aria" for Maria) no longer
matches: only a prefix can be read off a btree index, and a prefix is what people type. Tags (a
small table) are still matched anywhere in their name.

How each condition is read depends on how many rows it has, which one statement counts up to
RARE first: a rare word's contacts are read through its index (`id IN (…)`), a common one is
checked per contact (`EXISTS`) while the list's own index is walked in order, and stops after one
page. Either way the results are the same; only the cost differs.
"""

from sqlalchemy import Select, Table, and_, exists, false, func, or_, select
from sqlalchemy.sql import ColumnElement

from webapp.contacts.models import Contact, Tag, contact_tags, contact_terms, normalize_tag
from webapp.contacts.terms import TOP, query_words
from webapp.extensions import db
from webapp.paging import Count, Page, count_upto, from_args, newest_first, oldest_first

SORTS = {
    "newest": newest_first(Contact.created_at, Contact.id),
    "name": oldest_first(Contact.sort_name, Contact.id),
}
# Past this many index rows, a condition is checked per contact instead of read as a list of ids.
RARE = 2000


class Source:
    """The contact ids one condition selects from one table: a term prefix, or a set of tags."""

    def __init__(self, table: Table, clause: ColumnElement):
        self.table, self.clause = table, clause
        self.common = False

    def ids(self) -> Select:
        """SELECT contact_id … for this condition."""
        return select(self.table.c.contact_id).where(self.clause)

    def condition(self) -> ColumnElement:
        """The condition on Contact, in the form its size calls for."""
        if self.common:
            return exists().where(self.table.c.contact_id == Contact.id, self.clause)
        return Contact.id.in_(self.ids())


def _prefix(piece: str) -> Source:
    return Source(contact_terms, and_(contact_terms.c.term >= piece, contact_terms.c.term < piece + TOP))


def _tagged(tag_ids: list[int]) -> Source:
    return Source(contact_tags, contact_tags.c.tag_id.in_(tag_ids))


def _tags_for(texts: list[str], tag: str) -> tuple[dict[str, list[int]], int | None]:
    """Per word, the ids of the tags containing it; and the id of the filter's tag (None: no such tag)."""
    conditions = [Tag.name.contains(text, autoescape=True) for text in texts]
    if tag:
        conditions.append(Tag.name == tag)
    if not conditions:
        return {}, None
    rows = db.session.execute(select(Tag.id, Tag.name).where(or_(*conditions))).all()
    # Decided here, in Python: SQLite's LIKE ignores ASCII case and PostgreSQL's does not.
    per_word = {text: sorted(tag_id for tag_id, name in rows if text in name) for text in texts}
    return per_word, next((tag_id for tag_id, name in rows if name == tag), None)


def _weigh(sources: list[Source]) -> None:
    """Mark the sources with RARE rows or more as common, counting all of them in one statement."""
    if not sources:
        return
    counts = [
        select(func.count()).select_from(source.ids().limit(RARE).subquery()).scalar_subquery() for source in sources
    ]
    for source, count in zip(sources, db.session.execute(select(*counts)).one(), strict=True):
        source.common = count >= RARE


def matching(q: str = "", tag: str = "") -> Select:
    """Contacts matching every word of q (and tagged `tag` when given), in no order."""
    # PostgreSQL text cannot hold NUL, and no term or tag does: dropped rather than sent.
    words = query_words(q.replace("\x00", ""))
    tag = normalize_tag(tag.replace("\x00", ""))
    per_word, tag_id = _tags_for([text for text, _ in words], tag)
    query = select(Contact)
    if tag and tag_id is None:
        return query.where(false())
    sources: list[Source] = []
    conditions = []
    for text, pieces in words:
        branches: list[Source | list[Source]] = []
        if tag_ids := per_word.get(text):
            sources.append(_tagged(tag_ids))
            branches.append(sources[-1])
        if pieces:
            sources.extend(prefixes := [_prefix(piece) for piece in pieces])
            branches.append(prefixes)
        conditions.append(branches)
    if tag_id is not None:
        sources.append(tag_filter := _tagged([tag_id]))
    _weigh(sources)
    for branches in conditions:
        options = [
            and_(*(s.condition() for s in branch)) if isinstance(branch, list) else branch.condition()
            for branch in branches
        ]
        query = query.where(or_(*options) if options else false())
    if tag_id is not None:
        query = query.where(tag_filter.condition())
    return query


def search_query(q: str = "", tag: str = "", sort: str = "newest") -> Select:
    """Contacts matching q and tag, ordered as the list orders them (newest first or by name)."""
    keys = SORTS.get(sort, SORTS["newest"])
    return matching(q, tag).order_by(*(key.ordered() for key in keys))


def search(q: str, tag: str, sort: str, args, per_page: int) -> tuple[Page, Count]:
    """The page of matching contacts the request's cursor asks for, and how many match (counted up to 1,000)."""
    query = matching(q, tag)
    page = from_args(query, SORTS.get(sort, SORTS["newest"]), args, per_page)
    return page, count_upto(query)
