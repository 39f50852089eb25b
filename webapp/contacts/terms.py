"""The words a contact is found by, and the key it is sorted by: one tokenizer for every database.

Search does not ask the database to compare text loosely (LIKE, ILIKE and lower() differ between
SQLite and PostgreSQL, and a pattern with a leading % reads the whole table). Instead, every
contact's first name, last name and email are cut here, in Python, into *terms* stored in
`contact_terms`, and a query word matches when it is the prefix of a term: a range on the btree
index `(term, contact_id)`, identical on both databases. Both store the terms with a byte-order
collation (BINARY on SQLite, "C" on PostgreSQL), so the range and the name order are the same.

Terms are case-folded and NFC-normalised; each word is stored as written and without its accents,
so "jose" finds José while "josé" asks for the accent. A word with inner punctuation is stored in
pieces and joined ("Jean-Luc" → jean, luc, jeanluc); an email gives its pieces and the whole
address ("alex.demo@gmail.com" → alex, demo, gmail, com, alex.demo@gmail.com).
"""

import re
import unicodedata

# Unicode letters and digits: \w without the underscore.
WORD = re.compile(r"[^\W_]+")
TERM_MAX = 254
# Above every character a term can hold: `term < prefix + TOP` closes a prefix range.
TOP = "\U0010ffff"


def fold(text: str) -> str:
    """Case-folded, NFC-normalised text (so a composed and a decomposed é are one letter)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


def unaccented(text: str) -> str:
    """The text without combining marks: "josé" → "jose", "łukasz" stays (ł is a letter of its own)."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def pieces(text: str) -> list[str]:
    """The alphanumeric runs of folded text, in order: "o'brien" → ["o", "brien"]."""
    return WORD.findall(fold(text))


def _with_variants(words) -> set[str]:
    """Each word and its unaccented form, cut to the column's length."""
    found = set()
    for word in words:
        for variant in (word, unaccented(word)):
            if variant:
                found.add(variant[:TERM_MAX])
    return found


def name_terms(text: str) -> set[str]:
    """The terms of a name: each word's pieces, and a word with inner punctuation joined up."""
    words = []
    for chunk in text.split():
        parts = pieces(chunk)
        words.extend(parts)
        if len(parts) > 1:
            words.append("".join(parts))
    return _with_variants(words)


def contact_terms(first_name: str, last_name: str, email: str) -> set[str]:
    """Every term a contact is found by."""
    address = fold(email.strip())
    terms = name_terms(first_name or "") | name_terms(last_name or "") | _with_variants(pieces(address))
    if address:
        terms.add(address[:TERM_MAX])
    return terms


def sort_key(first_name: str, last_name: str, email: str) -> str:
    """What the "by name" order compares: the shown name (the email when there is none), folded, accents off."""
    shown = " ".join(part for part in ((first_name or "").strip(), (last_name or "").strip()) if part)
    return unaccented(fold(shown or (email or "").strip()))[:TERM_MAX]


def query_words(q: str) -> list[tuple[str, list[str]]]:
    """What a search asks for: per whitespace-separated word, its lower-cased text (matched against tag
    names) and its pieces (each the prefix of a term). At most 12 words; repeats dropped."""
    words = []
    for chunk in dict.fromkeys(q.split()):
        words.append((chunk.lower()[:TERM_MAX], [p[:TERM_MAX] for p in dict.fromkeys(pieces(chunk))]))
    return words[:12]
