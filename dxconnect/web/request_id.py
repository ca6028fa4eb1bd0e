"""Request ids: reuse a valid incoming ``X-Request-Id``, otherwise mint one.

:class:`dxconnect.web.request_edge.RequestEdge` assigns the id before Flask sees
the request and echoes it on the answer; the app reads it from the environ.
"""

from __future__ import annotations

import os
import re
from typing import Any

from flask import has_request_context, request

HEADER = "X-Request-Id"
INCOMING_KEY = "HTTP_X_REQUEST_ID"
#: Where the request's id is kept in the WSGI environ.
ENVIRON_KEY = "dxconnect.web.request_id"
_VALID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def assign(environ: dict[str, Any]) -> str:
    """Give the request of ``environ`` its id (the incoming one when valid) and return it."""
    incoming = environ.get(INCOMING_KEY, "")
    request_id = incoming if _VALID.match(incoming) else os.urandom(16).hex()
    environ[ENVIRON_KEY] = request_id
    return request_id


def current_request_id() -> str:
    """The id of the request being served; ``"-"`` outside a request."""
    if not has_request_context():
        return "-"
    environ = request.environ
    return environ.get(ENVIRON_KEY) or assign(environ)
