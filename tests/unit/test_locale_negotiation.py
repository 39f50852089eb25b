"""The invitee's locale (webapp/i18n.py negotiate()): the page's switcher, then the browser, then the
calendar's language, then English; the browser's region kept when it names the same language."""

import pytest

from webapp.i18n import negotiate


@pytest.mark.parametrize(
    ("choice", "accepted", "calendar", "expected"),
    [
        (None, ["de-DE", "de", "en"], None, "de_DE"),
        (None, ["en-US", "en"], None, "en_US"),
        (None, ["en-GB"], "fr", "en_GB"),
        (None, ["ja-JP", "ja"], "es", "es"),  # none of ours: the calendar's
        (None, ["ja-JP", "pt-BR"], "es", "pt_BR"),  # the first of the browser's that we speak
        (None, [], None, "en"),
        (None, ["*"], "xx", "en"),  # a calendar language we do not speak is ignored
        ("fr", ["de-DE"], None, "fr"),  # the switcher beats the browser; no French region offered
        ("fr", ["fr-CA", "de-DE"], None, "fr_CA"),
        ("xx", ["de-AT"], None, "de_AT"),  # an unknown choice is ignored
        (None, ["de-ZZ", "de-CH"], None, "de_CH"),  # a region Babel does not know is skipped
        (None, ["DE_de"], None, "de_DE"),
        (None, ["zh-Hant-TW", "es-419"], None, "es"),
    ],
)
def test_negotiate(choice, accepted, calendar, expected):
    assert negotiate(choice, accepted, calendar) == expected
