"""Rules every request body obeys: JSON (or multipart for uploads), within the size limit."""

from __future__ import annotations

from flask import Flask, request

from dxconnect.errors import error_response

#: Media types a request body may have.
ACCEPTED_BODY_TYPES = ("application/json", "multipart/form-data")


def _has_body() -> bool:
    return bool(request.content_length) or request.headers.get("Transfer-Encoding") == "chunked"


def reject_unsupported_body():  # type: ignore[no-untyped-def]
    """415 for a body that is neither JSON nor a multipart upload; 413 when declared too large."""
    if request.method not in ("POST", "PUT", "PATCH") or not _has_body():
        return None
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        return error_response(413)
    if request.mimetype not in ACCEPTED_BODY_TYPES:
        return error_response(415)
    return None


def init_app(app: Flask) -> None:
    """Check the body's type and size before any view runs."""
    app.before_request(reject_unsupported_body)
