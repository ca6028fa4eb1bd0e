"""The process-side Prometheus instruments: what this process counts as it runs.

Under gunicorn, ``PROMETHEUS_MULTIPROC_DIR`` (set by ``gunicorn.conf.py`` before
any worker imports ``prometheus_client``) makes every worker write its values
to files there, and a scrape of any worker sums them. This module imports
nothing of the service, so any module may count without an import cycle.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "dxconnect_http_requests",
    "HTTP requests answered, by method, route (URL rule) and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "dxconnect_http_request_duration_seconds",
    "Time from the first to the last request hook, by method and route (URL rule).",
    ["method", "route"],
)
WEBSOCKETS_OPEN = Gauge(
    "dxconnect_websockets_open",
    "WebSockets open now (summed over the live server processes).",
    multiprocess_mode="livesum",
)
EVENTS_PUBLISHED = Counter(
    "dxconnect_events_published",
    "Events published on the bus, by event type (once per publish).",
    ["type"],
)
OUTBOX_GROUP = Histogram(
    "dxconnect_outbox_group_size",
    "Messages accepted together in one outbox write (group commit), per write.",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
SINK_EVENTS = Counter(
    "dxconnect_sink_events",
    "Sink outcomes per event: delivered, retried, failed (dead-lettered), dropped, skipped.",
    ["sink", "outcome"],
)


def count_published(event_type: str) -> None:
    """Count one event of ``event_type`` published on the bus."""
    EVENTS_PUBLISHED.labels(type=event_type).inc()


def observe_outbox_group(size: int) -> None:
    """Record one outbox write that stored ``size`` accepted messages together."""
    OUTBOX_GROUP.observe(size)
