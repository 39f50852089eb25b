"""The booking page, pre-rendered: HTML rendered once with holes, and the holes filled per request.

Opening a one-time link is the hot path (bench/booking_page.py). Rendering booking/page.html and
booking/_picker.html is most of a request's cost, yet nearly all of their HTML is the same for every
link of a calendar. So each is rendered once with a *hole* wherever a per-request value goes, split
around the holes and kept in the in-process cache (cache.py); a request joins the parts with its own
values (fill()) and runs no template. views.py decides when the pre-rendered page may answer.

A hole is a name between two private-use characters: "\ue000token\ue001" (hole()). split() cuts
rendered HTML into literal parts (UTF-8 bytes) and hole names; fill() joins the parts with each hole's
value, escaped as the template would write it (text()) and encoded.

Invariants:
- Only this module makes holes. Unicode gives the private-use characters no meaning and nothing we
  write contains them, but people can type them, so no typed text is ever part of HTML that is split:
  - the picker holds no typed text (dates, times, zone names and counts from the slot engine) and
    one hole, the page's URL;
  - the shell (page.html) shows the calendar's texts (SHOWN) and its hosts' names (team.py), typed by
    an admin: a calendar whose texts or hosts' names hold U+E000 is never pre-rendered (shell_parts()
    returns None, the page renders live);
  - per-request values (the token and its URLs, the CSRF token, the zone options, the contact's
    name and masked email) go in after the split, so whatever they hold is never read as a hole.
    The zone options are themselves cached HTML (zones.zone_options: per locale, hour and chosen
    zone), so a request pays a lookup, not ~420 labels.
- The filled page is what a live render writes: text() escapes as Jinja's autoescape does, and
  page.html reads the link only through the holes (its comment lists them).
- Nothing is invalidated. The shell's cache key holds everything it is rendered from (SHOWN, the
  branding (its name is typed text too, checked like SHOWN), the calendar's Team (its assignment and
  its hosts' ids, names and photo versions), the email mode, whether the viewer chose a zone, the
  script root, the locale and the 12/24-hour clock: i18n.cache_key()); the picker's parts live on
  their cached Picker, one per locale and clock, whose key holds the calendar's state (settings,
  hours, booking_seq, its hosts' busy_seq and settings) and the minute (picker.build()).
  A change leads to new keys; old entries fall out of the LRU (cache.MAX_ENTRIES, one cache per
  worker process and app).
- Never pre-rendered: whatever belongs to one link, one person or one request. Besides the holes
  above: flashed messages (a page with flashes renders live), a chosen time, typed values and
  errors (picker_html() returns None and the picker renders live), the signed-in admin.
"""

import re

from flask import render_template, request
from markupsafe import Markup, escape

from webapp import i18n
from webapp.booking import cache, picker, team
from webapp.booking.forms import BookForm
from webapp.branding import services as branding

# A hole: \ue000name\ue001, the name between two private-use characters.
HOLE = re.compile("\ue000([a-z_]+)\ue001")


def hole(name: str) -> str:
    """The hole that stands for the value `name`."""
    return f"\ue000{name}\ue001"


def split(html: str) -> list:
    """HTML as its literal parts, UTF-8 encoded (even indexes), and hole names (odd indexes).

    Joining bytes: encoding a 40 KB page that holds any non-ASCII character costs more than the rest.
    """
    return [part if i % 2 else part.encode() for i, part in enumerate(HOLE.split(html))]


def fill(parts: list, values: dict[str, bytes]) -> bytes:
    """The HTML again, each hole replaced by its (escaped, encoded) value."""
    return b"".join(values[part] if i % 2 else part for i, part in enumerate(parts))


def text(value) -> bytes:
    """A value as a template writes it: escaped (unless Markup), then encoded."""
    return str(escape(value)).encode()


def picker_parts(view: picker.Picker) -> list:
    """booking/_picker.html with nothing chosen, rendered once per (cached) picker, locale and clock.

    Everything the template reads then comes from the picker, the locale and the clock
    (i18n.cache_key()), except the page URL, which is a hole: the links of one calendar share the HTML.
    """
    key = i18n.cache_key()
    parts = view.html.get(key) if view.html else None
    if parts is None:
        html = render_template(
            "booking/_picker.html", picker=view, form=BookForm(formdata=None), picker_url=hole("picker_url")
        )
        parts = split(html)
        view.html = {**(view.html or {}), key: parts}  # a new dict: other threads may be reading the old one
    return parts


def picker_html(view: picker.Picker, form, picker_url: str) -> Markup | None:
    """The picker from its cached HTML; None when a time is chosen or has an error (renders live)."""
    if form.start.data or form.start.errors:
        return None
    return Markup(fill(picker_parts(view), {"picker_url": text(picker_url)}).decode())


# What page.html shows of a calendar: the shell's key. None may hold a hole's characters.
SHOWN = ("name", "duration", "location", "description")


def shell_parts(calendar, view: picker.Picker, email_mode: str, hosts: team.Team) -> list | None:
    """booking/page.html as first opened, with holes for the token and its URLs, the CSRF token, the
    picker, the zone options, the contact's name and masked email: shared by the calendar's links
    that ask for the email the same way (email_mode).

    page.html may read nothing else of the link (see its comment). None when the calendar's texts
    hold a hole's characters: the page then renders live.
    """
    shown = tuple(getattr(calendar, name) for name in SHOWN)
    brand = branding.current()  # public.html's header and theme
    if any(isinstance(value, str) and "\ue000" in value for value in (*shown, brand.business_name)):
        return None
    if any("\ue000" in member.name for member in hosts.members):
        return None
    # _timezone.html marks a zone the viewer chose; base.html's static URLs follow the script root.
    key = (
        "shell",
        shown,
        hosts,
        email_mode,
        bool(request.args.get("tz")),
        request.script_root,
        i18n.cache_key(),
        brand,
    )
    store = cache.store()
    parts = store.get(key)
    if parts is None:
        html = render_template(
            "booking/page.html",
            token=hole("token"),
            calendar=dict(zip(SHOWN, shown)),
            team=hosts,
            form=BookForm(formdata=None, name=hole("name"), email_mode=email_mode),
            masked_email=hole("masked_email"),
            picker=view,
            error=None,
            picker_url=hole("picker_url"),
            book_url=hole("book_url"),
            picker_html=Markup(hole("picker")),
            csrf_token=lambda: hole("csrf"),
            zone_options=lambda selected, locale=None: Markup(hole("zones")),
            get_flashed_messages=lambda **options: [],
        )
        parts = split(html)
        store.put(key, parts)
    return parts
