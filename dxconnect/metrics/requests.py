"""HTTP request counts and latencies, recorded once per request by the WSGI edge."""

from __future__ import annotations

from typing import Any

from dxconnect.metrics.instruments import HTTP_LATENCY, HTTP_REQUESTS

#: The route label of requests that matched no URL rule (keeps the label set bounded).
UNMATCHED = "<unmatched>"

#: (method, route, status) -> (request counter, latency histogram) children: ``labels()``
#: costs several µs per call, a dict lookup far less; the key set is bounded by the routes.
_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def _instruments(method: str, route: str, status: int) -> tuple[Any, Any]:
    key = (method, route, status)
    children = _children.get(key)
    if children is None:
        children = (
            HTTP_REQUESTS.labels(method, route, str(status)),
            HTTP_LATENCY.labels(method, route),
        )
        _children[key] = children
    return children


def route_of(environ: dict[str, Any]) -> str:
    """The URL rule Flask matched for the request of ``environ`` (``<unmatched>`` for none).

    Read from the request object Flask keeps in the environ while it serves the
    request (it clears it when the request ends).
    """
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    return rule.rule if rule is not None else UNMATCHED


def count_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one ``method`` request to ``route``, answered ``status`` in ``seconds``."""
    counter, latency = _instruments(method, route, status)
    counter.inc()
    latency.observe(seconds)
