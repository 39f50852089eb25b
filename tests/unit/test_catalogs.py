"""The translation catalogs are complete: every string the code and templates mark for translation is
in each language's catalog, translated, not fuzzy, with the same placeholders, and compiled.

The strings are extracted afresh from the sources with babel.cfg (what `make translations` does), so
a new `_()` or `{% trans %}` fails here until every catalog has it (run `make translations`, then
translate what it added).
"""

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from webapp.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "translations"
TRANSLATED = sorted(set(LANGUAGES) - {"en"})  # English is the source language
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "lazy_gettext": None, "_l": None}


@pytest.fixture(scope="module")
def extracted() -> set:
    """Every msgid (a string, or a (singular, plural) tuple) marked in the sources."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _key(value):
    """A message's id or string as a dict key: plural forms come as lists or tuples."""
    return value if isinstance(value, str) else tuple(value)


def _catalog(language: str):
    with open(CATALOGS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def test_the_sources_mark_strings_for_translation(extracted):
    assert len(extracted) > 100  # the invitee pages and mail are marked; an empty extraction checks nothing


def test_every_language_has_a_catalog():
    for language in TRANSLATED:
        assert (CATALOGS / language / "LC_MESSAGES" / "messages.po").is_file()
        assert (CATALOGS / language / "LC_MESSAGES" / "messages.mo").is_file()


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_string_is_in_the_catalog_translated_and_not_fuzzy(language, extracted):
    catalog = _catalog(language)
    missing = [msgid for msgid in extracted if (msgid if isinstance(msgid, str) else msgid[0]) not in catalog]
    assert not missing, f"{language}: not in the catalog (run make translations): {missing[:5]}"
    problems = []
    for message in catalog:
        if not message.id:
            continue  # the header
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if message.fuzzy or not all(strings):
            problems.append(message.id)
    assert not problems, f"{language}: untranslated or fuzzy: {problems[:5]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language):
    catalog = _catalog(language)
    errors = [(message.id, [str(e) for e in errs]) for message, errs in catalog.check()]
    assert not errors, f"{language}: {errors[:5]}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_the_compiled_catalog_matches_its_source(language):
    catalog = _catalog(language)
    with open(CATALOGS / language / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = read_mo(mo)
    source = {_key(message.id): _key(message.string) for message in catalog if message.id and not message.fuzzy}
    built = {_key(message.id): _key(message.string) for message in compiled if message.id}
    assert built == source, f"{language}: messages.mo is out of date: run make translations"
