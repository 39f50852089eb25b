"""A host's photo: an upload checked and made a small square (Pillow), stored on the host, served by version."""

from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import select

from webapp.audit import audit
from webapp.extensions import db
from webapp.hosts.models import Host

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a small file may still unpack into a huge image (a "decompression bomb")
SIZE = 256
FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}


class PhotoError(ValueError):
    """An upload that is not a photo we take; the message says why, for the person who sent it."""


def square_photo(data: bytes) -> tuple[bytes, str]:
    """An uploaded image as a SIZE square (centre-cropped): PNG when it has transparency, else JPEG.
    Raises PhotoError for anything that is not a JPEG, PNG, WebP or GIF image of a sane size."""
    if not data:
        raise PhotoError("Choose an image file to upload.")
    if len(data) > MAX_BYTES:
        raise PhotoError(f"The photo is larger than {MAX_BYTES // (1024 * 1024)} MB; choose a smaller one.")
    try:
        opened = Image.open(BytesIO(data))
        if opened.format not in FORMATS:
            raise PhotoError("Upload a JPEG, PNG, WebP or GIF image.")
        if opened.width * opened.height > MAX_PIXELS:
            raise PhotoError("The image is too large in pixels; choose one under 40 megapixels.")
        opened.seek(0)  # a GIF or WebP animation: its first frame
        image: Image.Image = ImageOps.exif_transpose(opened)
        transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if transparent else "RGB")
        image = ImageOps.fit(image, (SIZE, SIZE), method=Image.Resampling.LANCZOS)
        out = BytesIO()
        if transparent:
            image.save(out, "PNG", optimize=True)
            return out.getvalue(), "image/png"
        image.save(out, "JPEG", quality=85, optimize=True)
        return out.getvalue(), "image/jpeg"
    except PhotoError:
        raise
    except Image.DecompressionBombError:
        raise PhotoError("The image is too large in pixels; choose one under 40 megapixels.") from None
    except UnidentifiedImageError:
        raise PhotoError("This file is not an image we can read; upload a JPEG, PNG, WebP or GIF.") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise PhotoError("This image is damaged or cut short; upload it again or choose another.") from None


def set_photo(host: Host, data: bytes) -> None:
    """Store an uploaded photo (resized) under a new version, and commit; PhotoError changes nothing."""
    photo, content_type = square_photo(data)
    host.photo, host.photo_type = photo, content_type
    host.photo_version = (host.photo_version or 0) + 1
    db.session.commit()
    audit("host.photo", host_id=host.id, version=host.photo_version)


def remove_photo(host: Host) -> None:
    """Forget the host's photo (the next one gets a new version, so no cache shows the old), and commit."""
    host.photo, host.photo_type = None, ""
    host.photo_version = (host.photo_version or 0) + 1
    db.session.commit()
    audit("host.photo_remove", host_id=host.id)


def photo_of(host_id: int, version: int) -> tuple[bytes, str] | None:
    """The stored photo and its Content-Type when `version` is the host's current one, else None."""
    row = db.session.execute(
        select(Host.photo, Host.photo_type).where(Host.id == host_id, Host.photo_version == version)
    ).first()
    return (row.photo, row.photo_type) if row and row.photo else None
