"""Request ids: reuse a valid incoming ``X-Request-Id``, otherwise mint one."""

from __future__ import annotations

import os
import re

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-Id"
ENVIRON_KEY = "HTTP_X_REQUEST_ID"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def current_request_id() -> str:
    """The id of the request being served (minted on first use); ``"-"`` outside a request."""
    if not has_request_context():
        return "-"
    request_id = g.get("request_id")
    if request_id is None:
        incoming = request.environ.get(ENVIRON_KEY, "")
        request_id = g.request_id = incoming if _VALID.match(incoming) else os.urandom(16).hex()
    return request_id


def _add_header(response: Response) -> Response:
    response.headers[HEADER] = current_request_id()
    return response


def init_app(app: Flask) -> None:
    """Echo the request's id on every response (minted when first needed)."""
    app.after_request(_add_header)
