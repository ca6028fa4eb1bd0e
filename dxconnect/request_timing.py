"""When the current request started: one clock read, shared by the access log and the metrics."""

from __future__ import annotations

import time

from flask import Flask, g


def _start() -> None:
    g.request_started = time.perf_counter()


def elapsed_seconds() -> float | None:
    """Seconds since the current request started (None if it was refused before timing began)."""
    started = g.get("request_started")
    return None if started is None else time.perf_counter() - started


def init_app(app: Flask) -> None:
    """Start the clock before any other request hook runs (call this first)."""
    app.before_request(_start)
