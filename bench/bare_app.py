"""The reference for the HTTP benchmark: a bare WSGI callable returning a constant JSON body.

Served by the same gunicorn config (worker class, worker count) as the product, it
measures what the server, the worker class and the load generator cost on their own:
``gunicorn -c gunicorn.conf.py bench.bare_app:app``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

BODY = b'{"status": "ok"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer every request with ``200`` and :data:`BODY`."""
    start_response("200 OK", HEADERS)
    return [BODY]
