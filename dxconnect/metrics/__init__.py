"""``GET /metrics``: Prometheus text format, guarded by ``METRICS_TOKEN``.

Request counts and latencies are recorded once per request at the WSGI edge
(:mod:`dxconnect.metrics.requests`); the other process-side counters live in
:mod:`dxconnect.metrics.instruments`; the database-backed ones are read at
scrape time (:mod:`dxconnect.metrics.database`).
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator

from flask import Flask, Response, current_app, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from dxconnect.errors import NotFound, Unauthorized
from dxconnect.metrics.database import DatabaseCollector


class _Scrape:
    """What one scrape exposes: this process's (or every worker's) metrics, then the database's."""

    def __init__(self) -> None:
        self._process = _process_registry()
        self._database = DatabaseCollector()

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family of the scrape."""
        yield from self._process.collect()
        yield from self._database.collect()


def _process_registry() -> CollectorRegistry:
    """Every worker's values in multiprocess mode, else this process's default registry."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


def _authorize(token: str | None, production: bool) -> None:
    if token is None:
        if production:
            raise NotFound("Not found")
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        presented.strip().encode(), token.encode()
    ):
        raise Unauthorized("A valid metrics token is required")


def metrics() -> Response:
    """The metrics in Prometheus text format (not part of the OpenAPI contract)."""
    settings = current_app.config["DXCONNECT_SETTINGS"]
    _authorize(settings.metrics_token, settings.is_production)
    return Response(generate_latest(_Scrape()), content_type=CONTENT_TYPE_LATEST)  # type: ignore[arg-type]


def init_app(app: Flask) -> None:
    """Serve ``GET /metrics`` (requests are counted by :mod:`dxconnect.web.request_edge`)."""
    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
