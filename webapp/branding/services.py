"""Branding: reading it (once per request), saving it, the logo, the accent's readable colours, and
whom mail is from.

Pages and mail read `current()`, a frozen `Brand` without the logo's bytes: one small query per
request (or per worker batch), kept in `g`. The logo's bytes are read by its URL and the mail sender
only, and cached per process under the branding's version (`logo_bytes`).
"""

import functools
import io
import re
import threading
from dataclasses import dataclass
from email.utils import formataddr, parseaddr

from flask import current_app, g
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select

from webapp import outage
from webapp.audit import audit
from webapp.branding.models import ROW_ID, Branding
from webapp.extensions import db

# Pico's own accent: what pages use until an admin picks another (the colour input starts on it).
DEFAULT_ACCENT = "#0172ad"
HEX_COLOUR = re.compile(r"^#[0-9a-f]{6}$")
LOGO_MAX_WIDTH, LOGO_MAX_HEIGHT = 400, 120
LOGO_MAX_BYTES = 2 * 1024 * 1024  # of the upload
LOGO_MAX_PIXELS = 25_000_000  # a decompression bomb is refused before it is decoded
LOGO_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
# The logo in invitee mail: an image part of the message, named by this Content-ID (mail/sender.py).
LOGO_CID = "brand-logo@oneslot"


class LogoError(ValueError):
    """An upload that is not a PNG, JPEG or WebP image we can read."""


@dataclass(frozen=True)
class Brand:
    """The branding as pages and mail read it (no logo bytes)."""

    business_name: str = ""
    accent: str = ""
    sender_name: str = ""
    sender_email: str = ""
    powered_by: bool = True
    logo_type: str = ""
    logo_width: int = 0
    logo_height: int = 0
    version: int = 0

    @property
    def has_logo(self) -> bool:
        return bool(self.logo_type)

    @property
    def logo_cid(self) -> str:
        return LOGO_CID

    @property
    def colours(self) -> "Colours | None":
        """The accent's colours, None while OneSlot's own are used."""
        return colours(self.accent) if self.accent else None


_COLUMNS = (
    Branding.business_name,
    Branding.accent,
    Branding.sender_name,
    Branding.sender_email,
    Branding.powered_by,
    Branding.logo_type,
    Branding.logo_width,
    Branding.logo_height,
    Branding.version,
)
_QUERY = select(*_COLUMNS).where(Branding.id == ROW_ID)
_KEY = "_oneslot_brand"


def current() -> Brand:
    """The branding, read once per request (or app context: a worker batch) and kept in `g`."""
    brand = g.get(_KEY)
    if brand is None and outage.request_marked():
        brand = Brand()  # the outage's 503 page: OneSlot's own look, without asking the database again
        setattr(g, _KEY, brand)
    if brand is None:
        try:
            # Core on the session's connection: the booking page reads it on every request.
            row = db.session.connection().execute(_QUERY).first()
        except Exception as exc:
            if not outage.is_unavailable(exc):
                raise
            # The database is away: the 503 page (webapp/core/errors.py) still renders, in OneSlot's own look.
            outage.rollback()
            row = None
        brand = Brand(*row) if row else Brand()
        setattr(g, _KEY, brand)
    return brand


def forget() -> None:
    """Read the branding again at the next current() (each request starts so; a save does too)."""
    g.pop(_KEY, None)


def _row() -> Branding:
    row = db.session.get(Branding, ROW_ID)
    if row is None:
        row = Branding(id=ROW_ID, business_name="", accent="", sender_name="", sender_email="", powered_by=True)
        row.logo_type, row.logo_width, row.logo_height, row.version = "", 0, 0, 0
        db.session.add(row)
    return row


def save(*, business_name: str, accent: str, sender_name: str, sender_email: str, powered_by: bool) -> None:
    """Save the settings (validated by the form); committed."""
    row = _row()
    row.business_name = business_name.strip()
    row.accent = "" if accent.lower() == DEFAULT_ACCENT else accent.lower()
    row.sender_name = sender_name.strip()
    row.sender_email = sender_email.strip()
    row.powered_by = powered_by
    row.version += 1
    db.session.commit()
    forget()
    audit("branding.update")


def set_logo(data: bytes) -> None:
    """Store an uploaded logo, resized (process_logo); committed. LogoError when it is not one."""
    content, mimetype, (width, height) = process_logo(data)
    row = _row()
    row.logo, row.logo_type, row.logo_width, row.logo_height = content, mimetype, width, height
    row.version += 1
    db.session.commit()
    forget()
    audit("branding.logo", type=mimetype, width=width, height=height)


def remove_logo() -> None:
    """Remove the logo; committed."""
    row = _row()
    row.logo, row.logo_type, row.logo_width, row.logo_height = None, "", 0, 0
    row.version += 1
    db.session.commit()
    forget()
    audit("branding.logo_removed")


def process_logo(data: bytes) -> tuple[bytes, str, tuple[int, int]]:
    """An upload as the logo we keep: PNG, JPEG or WebP only (SVG can carry script: refused), at most
    400×120 (shrunk, proportions kept), re-encoded so nothing of the upload but its pixels remains."""
    if len(data) > LOGO_MAX_BYTES:
        raise LogoError(f"The logo is larger than {LOGO_MAX_BYTES // (1024 * 1024)} MB.")
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=list(LOGO_TYPES))
        if image.width * image.height > LOGO_MAX_PIXELS:
            raise LogoError("The logo has too many pixels; upload one of at most 400×120.")
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        if isinstance(exc, LogoError):
            raise
        raise LogoError("Upload a PNG, JPEG or WebP image (SVG is not accepted).") from None
    kind = image.format or "PNG"
    image.thumbnail((LOGO_MAX_WIDTH, LOGO_MAX_HEIGHT), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if kind == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=90, optimize=True)
    else:
        if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
            image = image.convert("RGBA")
        image.save(out, kind, **({"optimize": True} if kind == "PNG" else {"quality": 90}))
    return out.getvalue(), LOGO_TYPES[kind], image.size


_logo_lock = threading.Lock()


def logo_bytes(version: int) -> tuple[bytes, str] | None:
    """The logo's bytes and type, cached per process under the branding's version; None: no logo."""
    cache = current_app.extensions.setdefault("brand_logo", {})
    found = cache.get(version)
    if found is None:
        row = db.session.execute(select(Branding.logo, Branding.logo_type).where(Branding.id == ROW_ID)).first()
        found = (row.logo, row.logo_type) if row and row.logo else (b"", "")
        with _logo_lock:
            cache.clear()  # one version at a time: an old one is never asked for again
            cache[version] = found
    return found if found[0] else None


# --- who mail is from ------------------------------------------------------------------------------


def default_sender() -> tuple[str, str]:
    """MAIL_DEFAULT_SENDER as (name, address): the last fallback."""
    name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return name, address


def sender(name: str = "", address: str = "") -> tuple[str, str]:
    """Whom a message is from: the name and address given (a workflow's, a calendar's), else the
    branding's, else MAIL_DEFAULT_SENDER's. Each part falls back on its own."""
    brand = current()
    default_name, default_address = default_sender()
    return (name or brand.sender_name or default_name), (address or brand.sender_email or default_address)


def from_line() -> str:
    """What mail goes out from now, as the From header writes it (the settings page shows it)."""
    return formataddr(sender())


# --- colours ---------------------------------------------------------------------------------------


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _hex(rgb) -> str:
    return "#" + "".join(f"{max(0, min(255, round(c))):02x}" for c in rgb)


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of "#rrggbb"."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g_, b = (channel(v) for v in _rgb(colour))
    return 0.2126 * r + 0.7152 * g_ + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_on(background: str) -> str:
    """Black or white, whichever reads better on `background` (WCAG contrast)."""
    return "#000000" if contrast("#000000", background) >= contrast("#ffffff", background) else "#ffffff"


def _mix(colour: str, towards: str, share: float) -> str:
    a, b = _rgb(colour), _rgb(towards)
    return _hex(x + (y - x) * share for x, y in zip(a, b, strict=True))


def text_colour(colour: str, background: str, minimum: float = 4.5) -> str:
    """`colour` itself when text in it reads on `background` (WCAG AA, 4.5:1), else the nearest shade
    towards black or white (whichever the background is farther from) that does."""
    towards = readable_on(background)
    for step in range(21):
        shade = _mix(colour, towards, step / 20)
        if contrast(shade, background) >= minimum:
            return shade
    return towards


@dataclass(frozen=True)
class Colours:
    """What an accent becomes on pages and in mail."""

    background: str  # buttons, the top bar
    ink: str  # text on the accent: black or white
    hover: str  # a button under the pointer
    light_text: str  # links and accent text on a light page
    dark_text: str  # the same on a dark page


LIGHT_PAGE, DARK_PAGE = "#ffffff", "#13171f"  # Pico's backgrounds


@functools.lru_cache(maxsize=64)
def colours(accent: str) -> Colours:
    """The accent's colours for pages and mail, each readable where it is used."""
    ink = readable_on(accent)
    return Colours(
        background=accent,
        ink=ink,
        hover=_mix(accent, "#000000" if ink == "#ffffff" else "#ffffff", 0.15),
        light_text=text_colour(accent, LIGHT_PAGE),
        dark_text=text_colour(accent, DARK_PAGE),
    )
