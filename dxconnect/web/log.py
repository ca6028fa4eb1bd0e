"""JSON logs: one object per line, and one access line per request.

Access lines carry method, path (never the query string, which may hold a
WebSocket token), status, duration, request id and agent id — never bodies,
passwords or tokens.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

from dxconnect.web.request_id import current_request_id
from dxconnect.web.request_timing import elapsed_seconds

access_log = logging.getLogger("dxconnect.access")


class _RequestContextFilter(logging.Filter):
    """Stamp every record with the current request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


def configure_logging(level: str) -> None:
    """Send the ``dxconnect`` loggers to stderr as JSON lines (idempotent)."""
    logger = logging.getLogger("dxconnect")
    logger.setLevel(level)
    if any(getattr(h, "_dxconnect", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestContextFilter())
    handler._dxconnect = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.propagate = False


def _log_request(response: Response) -> Response:
    if not access_log.isEnabledFor(logging.INFO):
        return response
    elapsed = elapsed_seconds() or 0.0
    access_log.info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
            "agent_id": g.get("agent_id"),
        },
    )
    return response


def init_app(app: Flask) -> None:
    """Configure JSON logging and the per-request access line."""
    configure_logging(app.config["DXCONNECT_SETTINGS"].log_level)
    app.after_request(_log_request)
