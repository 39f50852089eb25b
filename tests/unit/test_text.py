"""The single-line text check: what it refuses, what it lets through, and what its messages say."""

import pytest

from webapp.text import bad_character, counted, one_line, plural, single_line_error

REFUSED = [
    "Ada\nLovelace",
    "Ada\r\nBcc: eve@example.com",
    "Ada\rLovelace",
    "Ada\x00",
    "Ada\x07",
    "Ada\tLovelace",
    "Ada\x1b[31m",
    "Ada\x7f",
    "Ada\x85",  # NEL, a C1 line break
    "Ada\x9b",  # C1 CSI
    "Ada\u2028Lovelace",
    "Ada\u2029",
    "Ada\u202aX",
    "Ada\u202bX",
    "Ada\u202cX",
    "Ada\u202dX",
    "moc.live\u202e@Ada",
    "Ada\u2066X",
    "Ada\u2067X",
    "Ada\u2068X",
    "Ada\u2069X",
    "Ada\u200eLovelace",  # a mark in text without right-to-left letters only disguises
    "Ada\u200f",
    "Ada\u061c",
]
ALLOWED = [
    "Ada Lovelace",
    "Zoë Ångström-Nuñez",
    "José María O'Brien",
    "李小龙",
    "Σωκράτης",
    "محمد عبد الله",
    "דוד כהן\u200f 2",  # a right-to-left mark beside digits in a Hebrew name
    "علي\u061c (3)",
    "👩\u200d💻 Team",  # zero-width joiner inside an emoji
    "می\u200cخواهم",  # zero-width non-joiner in Persian
    "",
]


@pytest.mark.parametrize("text", REFUSED)
def test_refused(text):
    assert bad_character(text) is not None
    assert single_line_error(text, "First name").startswith("First name ")


@pytest.mark.parametrize("text", ALLOWED)
def test_allowed(text):
    assert single_line_error(text, "First name") is None


def test_messages_name_the_field_and_the_character():
    assert single_line_error("a\r\nb", "Sender name") == "Sender name must be one line: remove the line break."
    assert single_line_error("a\u202eb", "Name") == (
        "Name contains an invisible character that changes the text direction "
        "(U+202E, right-to-left override); remove it."
    )
    assert single_line_error("a\x07b", "Subject") == (
        "Subject contains an invisible control character (U+0007); remove it."
    )


def test_one_line_makes_stored_text_safe_for_a_header():
    assert one_line(" Intro\r\n call\u2028 2 ") == "Intro call 2"


@pytest.mark.parametrize(
    ("n", "noun", "expected"),
    [
        (1, "day", "1 day"),
        (2, "day", "2 days"),
        (0, "contact", "0 contacts"),
        (1, "contact", "1 contact"),
        (1, "step", "1 step"),
        (1, "hour", "1 hour"),
        (24, "hour", "24 hours"),
        (1200, "step", "1,200 steps"),
        (2, "person", "2 people"),
        (None, "day", "None days"),
    ],
)
def test_counted_agrees_with_its_number(n, noun, expected):
    assert counted(n, noun) == expected


def test_plural():
    assert plural("minute", 1) == "minute" and plural("minute", 5) == "minutes" and plural("reply", 2) == "replies"
