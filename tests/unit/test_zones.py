"""The zones people pick from (webapp/zones.py): current places only, labelled with city, country and
offset, searchable, and what a typed zone means."""

import re
import zoneinfo
from datetime import UTC, datetime

import pytest

from webapp import zones

WINTER = datetime(2027, 1, 15, 12, tzinfo=UTC)
SUMMER = datetime(2027, 7, 15, 12, tzinfo=UTC)


def test_the_list_has_the_real_zones():
    names = set(zones.zone_names())
    assert {"America/New_York", "Europe/London", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney", "UTC"} <= names
    assert 300 < len(names) < len(zoneinfo.available_timezones())


@pytest.mark.parametrize(
    "junk", ["localtime", "Factory", "Etc/GMT+5", "Etc/UTC", "US/Eastern", "Asia/Calcutta", "Europe/Kiev", "GMT0"]
)
def test_the_list_leaves_out_junk_and_old_aliases(junk):
    assert junk not in zones.zone_names()


def test_no_offered_name_is_a_posix_right_or_etc_name():
    assert not [name for name in zones.zone_names() if name.startswith(("Etc/", "posix/", "right/", "SystemV/"))]


def test_a_label_names_the_city_the_country_and_the_offset_of_the_day():
    assert zones.label("America/New_York", now=WINTER).text == "New York — United States (UTC−05:00)"
    assert zones.label("America/New_York", now=SUMMER).text == "New York — United States (UTC−04:00)"
    assert zones.label("Asia/Kolkata", now=WINTER).text == "Kolkata — India (UTC+05:30)"
    assert zones.label("UTC", now=WINTER).text == "UTC"
    assert zones.label("America/New_York").abbreviations == ("EST", "EDT")


def test_a_label_speaks_the_locale_it_is_asked_for():
    assert zones.label("Europe/Berlin", "de", now=WINTER).text == "Berlin — Deutschland (UTC+01:00)"
    assert zones.label("America/New_York", "fr", now=WINTER).country == "États-Unis"
    assert zones.label("Europe/Vienna", "de", now=WINTER).city == "Wien"
    assert zones.label("Europe/Berlin", "xx-nowhere", now=WINTER).country == "Germany"  # an unknown locale: English


@pytest.mark.parametrize(
    "typed",
    [
        "New York",
        "new york",
        "  New  York ",
        "America/New_York",
        "america/new york",
        "US/Eastern",
        "EST5EDT",
        "New York — United States",
        "New York — United States (UTC−05:00)",
        "New York — United States (UTC−04:00)",
    ],
)
def test_what_people_type_for_new_york_resolves(typed):
    assert zones.resolve(typed) == "America/New_York"


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Asia/Calcutta", "Asia/Kolkata"),
        ("Europe/Kiev", "Europe/Kyiv"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Etc/UTC", "UTC"),
        ("GMT", "UTC"),
        ("Wien", "Europe/Vienna"),  # German, found in any locale's index
    ],
)
def test_aliases_and_cities_resolve_to_the_current_zone(typed, zone):
    assert zones.resolve(typed, "de" if typed == "Wien" else None) == zone


@pytest.mark.parametrize(
    "typed", ["", None, "Mars/Olympus_Mons", "localtime", "Factory", "Etc/GMT+5", "x" * 500, "<b>"]
)
def test_text_that_names_no_zone_resolves_to_nothing(typed):
    assert zones.resolve(typed) is None


def test_every_iana_name_but_the_junk_resolves_to_an_offered_zone():
    offered = set(zones.zone_names())
    junk = {name for name in zoneinfo.available_timezones() if name in ("localtime", "Factory")}
    junk |= {name for name in zoneinfo.available_timezones() if re.fullmatch(r"Etc/GMT[+-]\d+", name)}
    for name in zoneinfo.available_timezones() - junk:
        assert zones.canonical(name) in offered, name


def test_a_legacy_alias_resolves_to_a_zone_with_the_same_rules():
    for alias, name in zones._aliases().items():
        for moment in (WINTER, SUMMER):
            assert (
                moment.astimezone(zoneinfo.ZoneInfo(alias)).utcoffset()
                == moment.astimezone(zoneinfo.ZoneInfo(name)).utcoffset()
            ), alias


def options(selected, locale=None):
    return re.findall(r"<option [^>]*>[^<]*</option>", zones.zone_options(selected, locale))


def test_the_options_are_sorted_by_city_with_the_search_terms(time_machine):
    time_machine.move_to(WINTER)
    html = zones.zone_options("America/New_York")
    assert '<option value="America/New_York" selected data-abbr="EST EDT">New York — United States (UTC−05:00)' in html
    assert html.count(" selected") == 1
    cities = [re.search(r">([^<]*) —", option).group(1) for option in options(None) if " — " in option]
    assert cities == sorted(cities, key=zones._key)
    assert 'value="Europe/Berlin" data-abbr="CET CEST">Berlin — Germany (UTC+01:00)' in html


def test_the_offsets_follow_the_season(time_machine):
    time_machine.move_to(SUMMER)
    assert "New York — United States (UTC−04:00)" in zones.zone_options(None)


def test_a_legacy_alias_shows_as_its_zone():
    assert '<option value="America/New_York" selected' in zones.zone_options("US/Eastern")


def test_a_stored_bare_offset_zone_still_shows_chosen():
    first = options("Etc/GMT+5")[0]
    assert first.startswith('<option value="Etc/GMT+5" selected>Etc/GMT+5 (UTC−05:00)')


def test_typed_text_that_is_no_zone_is_kept_and_escaped():
    first = options("<b>Mars</b>")[0]
    assert (
        first == '<option value="&lt;b&gt;Mars&lt;/b&gt;" selected>&lt;b&gt;Mars&lt;/b&gt; (not a time zone)</option>'
    )


def test_the_options_are_built_once_per_locale_and_hour(time_machine):
    time_machine.move_to(WINTER)
    zones.zone_options("UTC", "fr")
    hits = zones._zone_options.cache_info().hits
    zones.zone_options("Europe/Paris", "fr")
    assert zones._zone_options.cache_info().hits == hits + 1
    assert "Berlin — Allemagne" in zones.zone_options(None, "fr")


def test_describe_and_place():
    assert zones.describe("America/Los_Angeles", now=WINTER) == "Los Angeles — United States (UTC−08:00)"
    assert zones.describe(None) == "UTC"
    assert zones.place("US/Pacific") == "Los Angeles — United States"


def test_the_message_for_a_bad_zone_quotes_what_was_typed():
    assert (
        zones.unknown("Mars")
        == "“Mars” is not a time zone we know. Pick one from the list, or type a city such as New York."
    )
    assert zones.unknown("  ") == "Choose a time zone."


def test_every_city_is_a_place_name_not_a_path():
    cities = [zones.label(name).city for name in zones.zone_names()]
    assert not [city for city in cities if "/" in city or "_" in city]
    assert zones.label("America/Argentina/Salta").city == "Salta"
