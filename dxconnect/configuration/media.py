"""Uploaded logo and favicon files: stored in ``MEDIA_ROOT`` under random names, served at /media/.

A stored file is referred to by its path, ``/media/<32 hex digits>.<ext>``; the
name never comes from the user. Files are public (the login page shows the
logo before anyone logs in) and served with the type their content was checked
to be, ``X-Content-Type-Options: nosniff`` and a sandboxing CSP.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path

from flask import Blueprint, Flask, Response, current_app, send_from_directory

from dxconnect.configuration.images import TYPES_BY_EXTENSION, ImageType
from dxconnect.errors import NotFound

MEDIA_URL_PREFIX = "/media/"
_NAME_RE = re.compile(r"[0-9a-f]{32}\.(" + "|".join(TYPES_BY_EXTENSION) + r")")

blueprint = Blueprint("media", __name__, url_prefix=MEDIA_URL_PREFIX.rstrip("/"))


def media_root() -> Path:
    """The folder holding uploaded files (``MEDIA_ROOT``)."""
    return Path(current_app.config["DXCONNECT_SETTINGS"].media_root)


def stored_name(reference: str) -> str | None:
    """The file name when ``reference`` is a ``/media/<name>`` path of a stored file, else None."""
    if not reference.startswith(MEDIA_URL_PREFIX):
        return None
    name = reference[len(MEDIA_URL_PREFIX) :]
    return name if _NAME_RE.fullmatch(name) else None


def save(data: bytes, kind: ImageType) -> str:
    """Write ``data`` under a new random name; return its ``/media/<name>`` reference.

    The file appears atomically (written aside, then renamed), so it is never
    served half-written.
    """
    root = media_root()
    root.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{kind.extension}"
    handle, temporary = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, root / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return MEDIA_URL_PREFIX + name


def delete(reference: str) -> None:
    """Remove the stored file ``reference`` names (anything else, e.g. an external URL, is left)."""
    name = stored_name(reference)
    if name is not None:
        (media_root() / name).unlink(missing_ok=True)


@blueprint.get("/<name>")
def serve(name: str) -> Response:
    """A stored file, with the content type its bytes were checked to be."""
    if not _NAME_RE.fullmatch(name):
        raise NotFound()
    kind = TYPES_BY_EXTENSION[name.rsplit(".", 1)[1]]
    response = send_from_directory(media_root(), name, mimetype=kind.content_type, max_age=86400)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def init_app(app: Flask) -> None:
    """Serve ``MEDIA_ROOT`` at ``/media/``."""
    app.register_blueprint(blueprint)
