"""Invitees' language and clock: which locale a public page or an invitee's mail speaks, and dates
and times written for it by Babel.

Only what invitees see is translated (the booking pages, their error pages, their mail); admin pages
stay English. The locale of an invitee page, first match wins:

1. an explicit choice from the page's switcher (`?lang=de`, then remembered in a cookie);
2. the browser's `Accept-Language`, the first of its languages we have;
3. the calendar's default language (`use_calendar_default()`, called by the page before it renders);
4. English.

The locale keeps the browser's region when it names the same language ("de-AT" gives de_AT, "en-GB"
en_GB), so Babel writes dates and times as people there do; the catalogs are per language
(translations/<lang>/LC_MESSAGES/messages.po, `make translations`).

Times follow the locale's clock (12-hour for en_US, 24-hour for en_GB, de, fr, es, pt) unless the
invitee chose one with the page's toggle (`?clock=12|24`, remembered in a cookie). Mail uses the
locale's clock (`mail_locale()`): the invitee's toggle belongs to the page they clicked it on.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import match_skeleton
from flask import g, has_request_context, request
from flask_babel import force_locale, get_locale, ngettext, refresh
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

__all__ = ["_", "_l", "ngettext"]  # what features mark their invitee strings with

# The languages invitee pages and mail speak, with the switcher's labels (each in its own language).
LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español", "pt": "Português"}
DEFAULT = "en"
LANG_COOKIE = "oneslot_lang"
CLOCK_COOKIE = "oneslot_clock"
CLOCKS = ("12", "24")
COOKIE_AGE = 365 * 24 * 3600

# Requests whose pages invitees see: the booking blueprint's, and any error under its paths.
INVITEE_PATHS = ("/book/", "/booking/")


def is_invitee_request() -> bool:
    """True for the public booking pages (and their errors): the only pages that are translated."""
    return request.blueprint == "booking" or request.path.startswith(INVITEE_PATHS)


@lru_cache(maxsize=512)
def _locale_name(language: str, region: str | None) -> str:
    """'de' + 'AT' -> 'de_AT' when Babel knows that locale, else the language alone."""
    if region:
        try:
            return str(Locale(language, region.upper()))
        except (UnknownLocaleError, ValueError):
            pass
    return language


def _split(tag: str) -> tuple[str, str | None]:
    """'de-DE' -> ('de', 'DE'); 'zh-Hant-TW' -> ('zh', 'TW'); '*' -> ('*', None)."""
    parts = tag.replace("_", "-").lower().split("-")
    region = next((p for p in parts[1:] if len(p) == 2 and p.isalpha()), None)
    return parts[0], region


def negotiate(choice: str | None, accepted: list[str], calendar_default: str | None = None) -> str:
    """The locale name for an explicit `choice`, the browser's `accepted` tags (best first) and a calendar's default.

    Pure: the selector below feeds it the request. The language comes from the first of choice,
    accepted, calendar_default that we speak; the region from the first accepted tag of that language.
    """
    tags = [_split(tag) for tag in accepted]
    language = choice if choice in LANGUAGES else None
    language = language or next((lang for lang, _ in tags if lang in LANGUAGES), None)
    if language is None:
        language = calendar_default if calendar_default in LANGUAGES else DEFAULT
    for lang, region in tags:  # the first region Babel knows for that language
        if lang == language and region and (name := _locale_name(language, region)) != language:
            return name
    return language


def _chosen_language() -> str | None:
    choice = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
    return choice if choice in LANGUAGES else None


@lru_cache(maxsize=512)
def _parsed(name: str) -> Locale:
    return Locale.parse(name)


def select_locale() -> Locale:
    """Flask-Babel's locale selector: English but on invitee pages (module docstring).

    A Locale from a small cache: the booking page is the hot path, and parsing one costs a lookup
    of the locale's data files.
    """
    if not has_request_context() or not is_invitee_request():
        return _parsed(DEFAULT)
    accepted = [tag for tag, _quality in request.accept_languages]
    return _parsed(negotiate(_chosen_language(), accepted, g.get("calendar_language")))


def use_calendar_default(language: str | None) -> None:
    """Tell the selector the page's calendar default language (step 3); call it before rendering."""
    if language != g.get("calendar_language"):
        g.calendar_language = language
        refresh()  # the locale may have been read already (an error message, a flash)


def language() -> str:
    """The current locale's language ('de' for de_AT): what a booking stores and the switcher marks."""
    locale = get_locale()
    return locale.language if locale is not None and locale.language in LANGUAGES else DEFAULT


def locale_name() -> str:
    """The current locale as a name ('de_AT'), for cache keys and for Booking.locale."""
    return str(get_locale() or DEFAULT)


def _locale() -> Locale:
    return get_locale() or _parsed(DEFAULT)


# ---- the clock: 12 or 24 hours ----


@lru_cache(maxsize=256)
def _locale_clock(name: str) -> str:
    pattern = Locale.parse(name).time_formats["short"].pattern
    return "12" if "h" in pattern or "K" in pattern else "24"


def clock() -> str:
    """'12' or '24': the invitee's choice on a page (query, then cookie), else the locale's habit."""
    if has_request_context() and not g.get("_i18n_mail") and is_invitee_request():
        chosen = request.args.get("clock") or request.cookies.get(CLOCK_COOKIE)
        if chosen in CLOCKS:
            return chosen
    return _locale_clock(str(_locale()))


@contextmanager
def mail_locale(name: str | None) -> Iterator[None]:
    """Render an invitee's mail in their locale (English when unknown), with that locale's clock."""
    previous = g.get("_i18n_mail")
    g._i18n_mail = True
    try:
        with force_locale(valid_locale(name)):
            yield
    finally:
        g._i18n_mail = previous


def valid_locale(name: str | None) -> str:
    """A stored locale name when Babel knows it and we speak its language, else English."""
    if not name:
        return DEFAULT
    try:
        locale = Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        return DEFAULT
    return str(locale) if locale.language in LANGUAGES else DEFAULT


# ---- dates and times for the current locale, in a zone ----


def _local(value: datetime, zone: str | None) -> datetime:
    return value.astimezone(ZoneInfo(zone or "UTC"))


@lru_cache(maxsize=256)
def _pattern(name: str, skeleton: str, widen_weekday: bool = False) -> str:
    """The locale's pattern for a CLDR skeleton; a day label's weekday written in full."""
    locale = Locale.parse(name)
    key = match_skeleton(skeleton, locale.datetime_skeletons) or skeleton
    pattern = str(locale.datetime_skeletons[key]) if key in locale.datetime_skeletons else skeleton
    if widen_weekday:
        pattern = re.sub(r"(?<!E)E{1,3}(?!E)", "EEEE", pattern)
    return pattern


def _format(value: datetime | date, pattern: str) -> str:
    locale = _locale()
    if isinstance(value, datetime):
        return babel_format_datetime(value, pattern, tzinfo=value.tzinfo, locale=locale)
    return babel_format_date(value, pattern, locale=locale)


def format_time(value: datetime | None, zone: str | None = "UTC") -> str:
    """'2:30 PM' (en_US, or a chosen 12-hour clock) or '14:30', in the zone."""
    if value is None:
        return ""
    skeleton = "hm" if clock() == "12" else "Hm"
    return _format(_local(value, zone), _pattern(str(_locale()), skeleton))


def format_date(value: datetime | date | None, zone: str | None = "UTC", style: str = "full") -> str:
    """'Monday, December 7, 2026' / 'Montag, 7. Dezember 2026' ('full'; 'long', 'medium', 'short' too)."""
    if value is None:
        return ""
    day = _local(value, zone).date() if isinstance(value, datetime) else value
    return babel_format_date(day, style, locale=_locale())


def format_datetime(value: datetime | None, zone: str | None = "UTC", style: str = "full") -> str:
    """The date and the time, joined as the locale joins them: 'Montag, 7. Dezember 2026, 14:30'."""
    if value is None:
        return ""
    joiner = str(_locale().datetime_formats.get(style, "{1}, {0}")).replace("'", "")
    return joiner.replace("{1}", format_date(value, zone, style)).replace("{0}", format_time(value, zone))


def day_label(value: date | None) -> str:
    """A day as people say it, without the year: 'Monday, December 7' / 'lundi 7 décembre'."""
    if value is None:
        return ""
    return _format(value, _pattern(str(_locale()), "MMMMEEEEd", widen_weekday=True))


def month_label(value: date | None) -> str:
    """A month heading: 'December 2026' / 'Décembre 2026' (capitalised, as a heading starts)."""
    if value is None:
        return ""
    text = _format(value, _pattern(str(_locale()), "yMMMM"))
    return text[:1].upper() + text[1:]


def weekday_names() -> list[tuple[str, str]]:
    """Monday first: (abbreviated, short) names for the month grid's header ('Mon', 'Mo')."""
    days = _locale().days["format"]
    return [(days["abbreviated"][i], days["short"][i]) for i in range(7)]


def cache_key() -> tuple[str, str]:
    """What rendered invitee HTML depends on besides its data: the locale and the clock."""
    return (str(_locale()), clock())


# ---- the switcher and the toggle remember the choice ----


def remember_choice(response):
    """After an invitee page that carries ?lang= or ?clock=, keep the choice in a cookie (a year)."""
    if not has_request_context() or not is_invitee_request():
        return response
    for arg, cookie, allowed in (("lang", LANG_COOKIE, LANGUAGES), ("clock", CLOCK_COOKIE, CLOCKS)):
        value = request.args.get(arg)
        if value in allowed and request.cookies.get(cookie) != value:
            response.set_cookie(cookie, value, max_age=COOKIE_AGE, samesite="Lax", secure=request.is_secure)
    return response


def fresh_request() -> None:
    """Each request selects its own locale: nothing of another request's (tests share one app context)."""
    if "_flask_babel" in g:
        refresh()
    g.pop("calendar_language", None)


def register(app) -> None:
    """Filters and globals for templates; the cookie hook."""
    # {% trans %} blocks collapse their whitespace (babel.cfg extracts them so): a catalog's strings
    # never depend on a template's indentation.
    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.add_template_filter(format_time, "ltime")
    app.add_template_filter(format_date, "ldate")
    app.add_template_filter(format_datetime, "ldatetime")
    app.add_template_filter(day_label, "lday")
    app.add_template_filter(month_label, "lmonth")
    app.jinja_env.globals.update(
        languages=LANGUAGES, current_language=language, current_clock=clock, weekday_names=weekday_names
    )
    app.before_request(fresh_request)
    app.after_request(remember_choice)
