"""Single-line text people type (names, subjects, sender names): one check for every entry point.

Such text ends up in mail headers, subjects, .ics lines and pages read by someone else. A line
break there would add headers (the outbox refuses it, so every send on it fails); a C0/C1 control
character is invisible; a bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069) makes
text display in another order than it is stored ("Trojan Source" spoofing: an address or a
link shown reversed as a harmless name). The marks U+200E, U+200F and U+061C are allowed only in
text with right-to-left letters, where they place digits and punctuation correctly; elsewhere
they only disguise.

`single_line_error()` is the plain function (API, CSV import, inbound webhook, workflow import);
`SingleLine` the WTForms validator (pages). Both refuse rather than clean: what is stored is what
the person typed, and the message says which character to remove.
"""

import unicodedata

from wtforms.validators import ValidationError

# Embeddings and overrides (LRE, RLE, PDF, LRO, RLO), isolates (LRI, RLI, FSI, PDI).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Marks: harmless (and sometimes needed) beside right-to-left letters.
BIDI_MARKS = frozenset("\u200e\u200f\u061c")
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
NAMES = {
    "\n": "a line break",
    "\r": "a line break",
    "\t": "a tab",
    "\x00": "a NUL character",
    "\u202e": "right-to-left override",
    "\u202d": "left-to-right override",
    "\u200e": "left-to-right mark",
    "\u200f": "right-to-left mark",
}


def _has_rtl_letters(text: str) -> bool:
    # The marks are strong characters themselves (RLM is "R", ALM "AL"): they do not count.
    return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text if ch not in BIDI_MARKS)


def _describe(ch: str) -> str:
    name = NAMES.get(ch) or unicodedata.name(ch, "").lower()
    return f"U+{ord(ch):04X}, {name}" if name else f"U+{ord(ch):04X}"


def bad_character(text: str) -> str | None:
    """The first character single-line text may not hold, or None."""
    rtl = None
    for ch in text:
        if ch in BIDI_MARKS:
            if rtl is None:
                rtl = _has_rtl_letters(text)
            if not rtl:
                return ch
        elif ch in LINE_BREAKS or ch in BIDI_CONTROLS or unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            return ch
    return None


def single_line_error(text: str, label: str) -> str | None:
    """Why `text` cannot be stored as the single-line field `label`, or None; the message names the field."""
    ch = bad_character(text or "")
    if ch is None:
        return None
    if ch in LINE_BREAKS:
        return f"{label} must be one line: remove the line break."
    if ch in BIDI_CONTROLS or ch in BIDI_MARKS:
        return f"{label} contains an invisible character that changes the text direction ({_describe(ch)}); remove it."
    return f"{label} contains an invisible control character ({_describe(ch)}); remove it."


def one_line(text: str) -> str:
    """Text as a header may hold it: line breaks and control characters become spaces, runs of spaces one.

    For text stored before it was checked, and text put together from several (a subject).
    """
    cleaned = "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text)
    return " ".join(cleaned.split())


class SingleLine:
    """WTForms validator: single_line_error() on the field's data, labelled with the field's label."""

    def __init__(self, label: str | None = None):
        self.label = label

    def __call__(self, form, field):
        if isinstance(field.data, str) and (error := single_line_error(field.data, self.label or field.label.text)):
            raise ValidationError(error)


# Nouns whose plural is not the singular plus "s" (admin pages are English; invitee pages use Babel).
IRREGULAR_PLURALS = {"person": "people", "reply": "replies", "entry": "entries", "match": "matches"}


def plural(noun: str, n: int) -> str:
    """The noun as it agrees with the number n: plural("day", 1) -> "day", plural("day", 2) -> "days"."""
    if n == 1 or n == -1:
        return noun
    return IRREGULAR_PLURALS.get(noun) or noun + "s"


def counted(n, noun: str) -> str:
    """A number and its noun, agreeing: "1 day", "2 days", "0 contacts", "1,200 steps" (admin pages).

    One helper for every count the admin pages print, as a function and as the `counted` filter.
    A number that is not one (a missing config value) is shown as it is, with the plural.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        return f"{n} {plural(noun, 0)}"
    return f"{n:,} {plural(noun, n)}"
