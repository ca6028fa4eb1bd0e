"""Deciding, from its bytes alone, whether an upload is a safe raster image.

Accepted: PNG, JPEG, WebP, GIF and ICO. The magic bytes pick the type (the
file name and the declared content type are ignored); Pillow then decodes the
whole image, so empty, truncated or malformed files are refused. Files carrying
markup or script (SVG, HTML, and polyglots — an image header followed by
``<script>`` or ``<html``) are refused as well, so a stored file can never be
rendered as a document.
"""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image

from dxconnect.errors import InvalidPayload, PayloadTooLarge

#: Largest accepted image file.
MAX_IMAGE_BYTES = 2 * 1024 * 1024
#: Largest accepted image area (decompression bombs are refused before decoding).
MAX_IMAGE_PIXELS = 4096 * 4096


@dataclass(frozen=True)
class ImageType:
    """An accepted image type: Pillow format name, file extension and media type."""

    pillow_format: str
    extension: str
    content_type: str


PNG = ImageType("PNG", "png", "image/png")
JPEG = ImageType("JPEG", "jpg", "image/jpeg")
WEBP = ImageType("WEBP", "webp", "image/webp")
GIF = ImageType("GIF", "gif", "image/gif")
ICO = ImageType("ICO", "ico", "image/x-icon")

#: Every accepted type, by file extension.
TYPES_BY_EXTENSION = {kind.extension: kind for kind in (PNG, JPEG, WEBP, GIF, ICO)}

#: Markers of markup or script anywhere in a file (case-insensitive).
_ACTIVE_CONTENT = re.compile(
    rb"<\s*(script|html|svg|body|iframe|object|embed|head|meta|!doctype)|<\?xml|<\?php|javascript:",
    re.IGNORECASE,
)

REFUSED = "The file must be a PNG, JPEG, WebP, GIF or ICO image."


def sniff(data: bytes) -> ImageType | None:
    """The accepted type announced by ``data``'s magic bytes, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data.startswith(b"\x00\x00\x01\x00"):
        return ICO
    return None


def inspect_image(data: bytes, field: str = "file") -> ImageType:
    """The type of the image in ``data``; otherwise :class:`InvalidPayload` naming ``field``.

    More than :data:`MAX_IMAGE_BYTES` raises :class:`PayloadTooLarge`.
    """
    if len(data) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge(
            f"The file is larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB",
            {field: [f"Must be at most {MAX_IMAGE_BYTES} bytes."]},
        )
    if not data:
        raise InvalidPayload("The file is empty", {field: ["The file is empty."]})
    kind = sniff(data)
    if kind is None:
        raise InvalidPayload(REFUSED, {field: [REFUSED]})
    if _ACTIVE_CONTENT.search(data):
        raise InvalidPayload(
            "The file contains markup or script",
            {field: ["Images must not contain markup or script."]},
        )
    _decode(data, kind, field)
    return kind


def _decode(data: bytes, kind: ImageType, field: str) -> None:
    """Decode every pixel with Pillow; refuse what does not decode as ``kind``."""
    broken = InvalidPayload(
        f"The file is not a valid {kind.pillow_format} image",
        {field: [f"Not a valid {kind.pillow_format} image (corrupt or truncated)."]},
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind.pillow_format]) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise InvalidPayload(
                        "The image has too many pixels",
                        {field: [f"Must have at most {MAX_IMAGE_PIXELS} pixels."]},
                    )
                image.verify()
            with Image.open(io.BytesIO(data), formats=[kind.pillow_format]) as image:
                image.load()
    except InvalidPayload:
        raise
    except Exception:  # noqa: BLE001  (Pillow raises many types: any failure means "not an image")
        raise broken from None
