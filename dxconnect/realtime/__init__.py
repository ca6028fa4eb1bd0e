"""Realtime: the WebSocket endpoints (flask-sock) and the open sockets of this process."""

from __future__ import annotations

from flask import Flask

from dxconnect.realtime import guard
from dxconnect.realtime.close_codes import CLOSE_GOING_AWAY
from dxconnect.realtime.endpoints import MAX_MESSAGE_BYTES, blp
from dxconnect.realtime.hub import EXTENSION, Hub, get_hub

__all__ = ["close_all", "get_hub", "init_app"]


def init_app(app: Flask) -> None:
    """Register the WebSocket routes, the process's hub of open sockets and its access guard."""
    app.config.setdefault("SOCK_SERVER_OPTIONS", {"max_message_size": MAX_MESSAGE_BYTES})
    hub = app.extensions[EXTENSION] = Hub()
    app.extensions[guard.EXTENSION] = guard.AccessGuard(app, hub)
    app.register_blueprint(blp)


def close_all(
    app: Flask, code: int = CLOSE_GOING_AWAY, reason: str = "Server is shutting down"
) -> None:
    """Close every WebSocket of this process (gunicorn calls this on SIGTERM)."""
    get_hub(app).close_all(code, reason)
