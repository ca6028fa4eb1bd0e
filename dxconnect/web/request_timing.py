"""When the current request started: one clock read, shared by the access log and the metrics.

:class:`dxconnect.web.request_edge.RequestEdge` reads the clock as the request
arrives, before Flask, and keeps it in the WSGI environ.
"""

from __future__ import annotations

import time
from typing import Any

from flask import has_request_context, request

#: Where the request's start (``time.perf_counter()``) is kept in the WSGI environ.
ENVIRON_KEY = "dxconnect.request_started"


def start(environ: dict[str, Any]) -> float:
    """Record that the request of ``environ`` starts now; return the clock reading."""
    started = environ[ENVIRON_KEY] = time.perf_counter()
    return started


def elapsed_seconds() -> float | None:
    """Seconds since the current request started (None outside a timed request)."""
    started = request.environ.get(ENVIRON_KEY) if has_request_context() else None
    return None if started is None else time.perf_counter() - started
