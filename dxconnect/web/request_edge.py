"""What every request gets at the WSGI edge, around Flask: an id, a clock, a count.

Before the app: the request's id is assigned and its clock started (both kept
in the environ, where the app reads them). As the app answers: ``X-Request-Id``
is added to the headers. After: the request is counted and timed in the
metrics, by method, route and final status. Done here rather than in Flask
request hooks, which would reach the same values through context-local
proxies several times per request; the environ is at hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from dxconnect.metrics.requests import count_request, route_of
from dxconnect.web import request_id, request_timing

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class RequestEdge:
    """WSGI middleware wrapping the app's ``wsgi_app`` (see the module docstring)."""

    def __init__(self, wsgi_app: WSGIApp) -> None:
        self.wsgi_app = wsgi_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve one request through the wrapped app."""
        started = request_timing.start(environ)
        header = (request_id.HEADER, request_id.assign(environ))
        answer: list[tuple[str, str]] = []  # (status, route) once the app answers

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer.append((status, route_of(environ)))  # the route is known only meanwhile
            headers.append(header)
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            if answer:
                status, route = answer[-1]
                elapsed = time.perf_counter() - started
                count_request(environ["REQUEST_METHOD"], route, int(status[:3]), elapsed)
