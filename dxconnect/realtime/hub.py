"""The open WebSockets of this process, and the one encoding of each event they share."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app

from dxconnect.events.envelope import to_json
from dxconnect.metrics.instruments import WEBSOCKETS_OPEN
from dxconnect.realtime.connection import Connection, text_frame

EXTENSION = "dxconnect.realtime"


class Hub:
    """Registry of this process's connections (for shutdown) and the per-event frame cache."""

    def __init__(self) -> None:
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._last_frame: tuple[Any, bytes] = (None, b"")

    def add(self, connection: Connection) -> None:
        """Track ``connection`` until :meth:`discard`."""
        with self._lock:
            self._connections.add(connection)
        WEBSOCKETS_OPEN.inc()

    def discard(self, connection: Connection) -> None:
        """Stop tracking ``connection``."""
        with self._lock:
            if connection not in self._connections:
                return
            self._connections.remove(connection)
        WEBSOCKETS_OPEN.dec()

    def frame(self, event: dict[str, Any]) -> bytes:
        """The WebSocket frame of ``event``, encoded once however many sockets receive it.

        The bus hands one event to every subscription in a row, so remembering
        the last one is enough.
        """
        event_id, frame = self._last_frame
        if event_id != event["id"]:
            frame = text_frame(to_json(event))
            self._last_frame = (event["id"], frame)
        return frame

    def owned(self) -> list[tuple[Connection, tuple[str, int]]]:
        """Every open connection whose token was accepted, with its owner."""
        with self._lock:
            connections = list(self._connections)
        return [(c, c.owner) for c in connections if c.owner is not None and c.open]

    def close_all(self, code: int, reason: str) -> None:
        """Close every open connection (after what is already queued to it)."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close(code, reason)


def get_hub(app: Flask | None = None) -> Hub:
    """The hub of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
