"""Time zones at the edge: the zones people pick, their labels, what a typed zone means, an instant in a zone.

Times are stored in UTC; these turn them into what a person reads (pages, mail subjects).

The zones offered are tzdata's zone.tab (one line per place in use, with its country) plus UTC: no
"localtime", "Factory", `Etc/`, `posix/`, `right/` or backward-compatible alias. Babel (CLDR) names
each one's city and country in a locale. Any other IANA name still *resolves* (resolve()) to the
offered zone it is an alias of (US/Eastern → America/New_York), so a stored legacy name keeps working
and is saved as its canonical zone.
"""

import hashlib
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import get_timezone_location
from markupsafe import Markup, escape
from wtforms.validators import ValidationError

DEFAULT_LOCALE = "en"
UTC_NAMES = {"UTC", "UCT", "Universal", "Zulu", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich"}


def _tab(name: str) -> list[list[str]]:
    """A tzdata table's rows (comments and blank lines left out), from the pinned tzdata package."""
    text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


@cache
def _countries() -> dict[str, str]:
    """Zone name -> ISO 3166 country code, for every zone offered (UTC has none)."""
    return {row[2]: row[0] for row in _tab("zone.tab")}


@cache
def zone_names() -> tuple[str, ...]:
    """The zones people pick from: tzdata's zone.tab and UTC, sorted."""
    return tuple(sorted({*_countries(), "UTC"}))


def _digest(name: str) -> str | None:
    try:
        data = resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).read_bytes()
    except (OSError, ValueError, ModuleNotFoundError):
        return None
    return hashlib.sha256(data).hexdigest()


POSIX_LINKS = {
    "EST5EDT": "America/New_York",
    "CST6CDT": "America/Chicago",
    "MST7MDT": "America/Denver",
    "PST8PDT": "America/Los_Angeles",
    "EST": "America/Panama",
    "MST": "America/Phoenix",
    "HST": "Pacific/Honolulu",
}


@cache
def _aliases() -> dict[str, str]:
    """Every other IANA name -> the offered zone it stands for.

    CLDR's alias table first (US/Eastern → America/New_York); else the offered zone whose compiled
    rules are the same file (tzdata ships a link as a copy of its target).
    """
    offered = set(zone_names())
    cldr = get_global("zone_aliases")
    by_cldr = {cldr.get(name, name): name for name in offered}
    by_digest: dict[str, str] = {}
    for name in sorted(offered):
        digest = _digest(name)
        if digest:
            by_digest.setdefault(digest, name)
    aliases = {}
    for name in zoneinfo.available_timezones() - offered:
        target = by_cldr.get(cldr.get(name, name))
        if target is None:
            digest = _digest(name)
            target = by_digest.get(digest) if digest else None
        if target is not None:
            aliases[name] = target
    # Every name for offset zero with no rules is UTC ("Etc/GMT+5" is not: it stays a bare offset).
    for name in zoneinfo.available_timezones():
        if name.removeprefix("Etc/") in UTC_NAMES:
            aliases.setdefault(name, "UTC")
    # The POSIX-style names tzdata 2024b made links in its "backward" file; CLDR (Babel 2.19) no longer
    # lists them, and a compiled copy may differ from its target's in a header byte.
    for name, target in POSIX_LINKS.items():
        if target in offered:
            aliases.setdefault(name, target)
    aliases.pop("UTC", None)
    return aliases


def canonical(name: str | None) -> str | None:
    """The offered zone an IANA name is (itself, or what an alias stands for); None if it is none."""
    if not name:
        return None
    if name in _countries() or name == "UTC":
        return name
    return _aliases().get(name)


@lru_cache(maxsize=64)
def _locale(locale: str | None) -> Locale:
    try:
        return Locale.parse((locale or DEFAULT_LOCALE).replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


@lru_cache(maxsize=64)
def _locale_name(locale: str | None) -> str:
    return str(_locale(locale))


def offset_text(offset: timedelta | None) -> str:
    """timedelta(hours=-5) -> 'UTC−05:00' (a real minus sign)."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    sign = "−" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


@dataclass(frozen=True)
class ZoneLabel:
    """How a zone reads in one locale: 'New York — United States (UTC−05:00)'."""

    name: str
    city: str
    country: str
    offset: str
    abbreviations: tuple[str, ...]  # letters only ('EST', 'EDT'); tzdata's '+05' says nothing more than the offset

    @property
    def place(self) -> str:
        """'New York — United States' (no offset: it changes with the seasons)."""
        return f"{self.city} — {self.country}" if self.country else self.city

    @property
    def text(self) -> str:
        return "UTC" if self.name == "UTC" else f"{self.place} ({self.offset})"


def _city(name: str, loc: Locale) -> str:
    if name == "UTC":
        return "UTC"
    try:
        city = get_timezone_location(ZoneInfo(name), loc, return_city=True)
    except (LookupError, ValueError):
        city = name
    # CLDR names no city for a few zones ("America/Argentina/Salta"): Babel then gives "Argentina/Salta".
    return city.rsplit("/", 1)[-1].replace("_", " ")


def _abbreviations(zone: ZoneInfo, year: int) -> tuple[str, ...]:
    names = []
    for month in (1, 7):
        abbreviation = datetime(year, month, 15, 12, tzinfo=zone).tzname() or ""
        if abbreviation.isalpha() and abbreviation not in names:
            names.append(abbreviation)
    return tuple(names)


def label(name: str, locale: str | None = None, now: datetime | None = None) -> ZoneLabel:
    """A zone's city, country (in `locale`) and UTC offset at `now` (default: the current time)."""
    zone_name = canonical(name) or name
    loc = _locale(locale)
    now = now or datetime.now(UTC)
    zone = ZoneInfo(zone_name)
    country_code = _countries().get(zone_name)
    country = loc.territories.get(country_code, country_code) if country_code else ""
    return ZoneLabel(
        zone_name,
        _city(zone_name, loc),
        country or ("" if zone_name == "UTC" else ""),
        offset_text(now.astimezone(zone).utcoffset()),
        _abbreviations(zone, now.year),
    )


def describe(name: str | None, locale: str | None = None, now: datetime | None = None) -> str:
    """A zone as a sentence reads it: 'Los Angeles — United States (UTC−08:00)'; 'UTC' for none."""
    zone_name = canonical(name)
    return label(zone_name, locale, now).text if zone_name else "UTC"


def place(name: str | None, locale: str | None = None) -> str:
    """Where a zone is, without its offset (which depends on the date): 'Paris — France'."""
    zone_name = canonical(name)
    return label(zone_name, locale).place if zone_name else (name or "UTC")


def _key(text: str) -> str:
    """Typed text as the index reads it: no case, accents, underscores or dashes ('sao paulo')."""
    plain = unicodedata.normalize("NFKD", text.replace("_", " ").replace("—", " ").replace(",", " "))
    return " ".join("".join(c for c in plain if not unicodedata.combining(c)).casefold().split())


@cache
def _index(locale: str) -> dict[str, str]:
    """Typed text (casefolded) -> zone: the IANA name, an alias, the city, 'city — country', the label."""
    index: dict[str, str] = {}
    for alias, name in _aliases().items():
        index.setdefault(_key(alias), name)
    for name in zone_names():
        zone_label = label(name, locale)
        for text in (zone_label.place, zone_label.city):
            index.setdefault(_key(text), name)
    for name in zone_names():
        index[_key(name)] = name
    return index


def unknown(typed: str | None) -> str:
    """The message for text that names no zone."""
    shown = (typed or "").strip()[:60]
    if not shown:
        return "Choose a time zone."
    return f"“{shown}” is not a time zone we know. Pick one from the list, or type a city such as New York."


def resolve(text: str | None, locale: str | None = None) -> str | None:
    """What someone typed or picked, as an offered zone; None when it names none.

    Takes the IANA name ('America/New_York'), a legacy alias ('US/Eastern'), the city ('New York'),
    or the label the picker shows, with or without its offset ('New York — United States (UTC−05:00)').
    """
    text = (text or "").strip()
    if not text or len(text) > 200:
        return None
    if found := canonical(text):
        return found
    if text.endswith(")") and "(" in text:
        text = text[: text.rindex("(")].strip()
    key = _key(text)
    loc = _locale_name(locale)
    return _index(loc).get(key) or (_index(DEFAULT_LOCALE).get(key) if loc != DEFAULT_LOCALE else None)


def zone_info(name: str | None) -> ZoneInfo:
    """The rules of a zone: an offered one, a stored legacy name ('Etc/GMT+5' still reads as itself), else UTC."""
    if name and (name in _countries() or name in zoneinfo.available_timezones()):
        return ZoneInfo(name)
    return ZoneInfo(canonical(name) or "UTC")


def format_datetime(value: datetime | None, zone: str = "UTC", fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """An instant shown in a zone, with the zone's abbreviation."""
    if value is None:
        return ""
    local = value.astimezone(zone_info(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


@lru_cache(maxsize=32)
def _zone_options(locale: str, hour: str) -> str:
    """Every offered zone as an <option>, sorted by city: a native select's type-ahead finds 'New York'."""
    now = datetime.strptime(hour, "%Y-%m-%dT%H").replace(tzinfo=UTC)
    labels = sorted((label(name, locale, now) for name in zone_names()), key=lambda z: (_key(z.city), z.name))
    return "".join(
        Markup('<option value="{0}" data-abbr="{1}">{2}</option>').format(z.name, " ".join(z.abbreviations), z.text)
        for z in labels
    )


def zone_options(selected: str | None, locale: str | None = None) -> Markup:
    """<option>s for every offered zone, one selected; the HTML is built once per locale and hour
    (the offsets in the labels follow DST) and kept per chosen zone, so a page pays a lookup."""
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    name = canonical(selected) if selected else ""
    if name is not None:
        return _selected_options(name, _locale_name(locale), hour)
    html = Markup(_zone_options(_locale_name(locale), hour))
    assert selected is not None
    if selected in zoneinfo.available_timezones():
        # A stored zone no longer offered (a bare 'Etc/GMT+5'): shown first, chosen, until changed.
        offset = offset_text(datetime.now(UTC).astimezone(ZoneInfo(selected)).utcoffset())
        return Markup('<option value="{0}" selected>{0} ({1})</option>').format(selected, offset) + html
    # Typed text that names no zone (a form answered with an error): kept, chosen, to be corrected.
    return Markup('<option value="{0}" selected>{0} (not a time zone)</option>').format(selected) + html


@lru_cache(maxsize=512)
def _selected_options(name: str, locale: str, hour: str) -> Markup:
    """The options with the offered zone `name` chosen ('' for none): at most ~420 per locale and hour."""
    html = _zone_options(locale, hour)
    if not name:
        return Markup(html)
    marker = f'<option value="{escape(name)}" '
    return Markup(html.replace(marker, marker + "selected ", 1))


class KnownZone:
    """WTForms validator: what was typed or picked, as an offered zone (resolve(), whose name becomes
    the field's data); unknown()'s message for text that names none."""

    def __call__(self, form, field):
        zone = resolve((field.data or "").strip())
        if zone is None:
            raise ValidationError(unknown(field.data))
        field.data = zone
