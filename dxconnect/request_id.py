"""Request ids: reuse a valid incoming ``X-Request-Id``, otherwise mint one."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-Id"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def current_request_id() -> str:
    """The id of the request being served (minted on first use); ``"-"`` outside a request."""
    if not has_request_context():
        return "-"
    if "request_id" not in g:
        incoming = request.headers.get(HEADER, "")
        g.request_id = incoming if _VALID.match(incoming) else uuid.uuid4().hex
    return g.request_id


def _assign() -> None:
    current_request_id()


def _add_header(response: Response) -> Response:
    response.headers[HEADER] = current_request_id()
    return response


def init_app(app: Flask) -> None:
    """Fix the id before anything else runs and echo it on every response."""
    app.before_request(_assign)
    app.after_request(_add_header)
