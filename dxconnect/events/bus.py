"""The event bus: every event published in any process reaches every subscriber.

Without ``REDIS_URL`` the bus is in-process (one server process). With Redis,
the Redis bus carries events across processes and hosts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from flask import Flask, current_app

log = logging.getLogger("dxconnect.events")

EXTENSION = "dxconnect.bus"
Subscriber = Callable[[dict[str, Any]], None]


class EventBus(Protocol):
    """What the rest of the service needs from a bus."""

    def publish(self, event: dict[str, Any]) -> None:
        """Deliver ``event`` (a v1 envelope) to every subscriber, in every process."""

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event; returns a function that unsubscribes."""


class InProcessBus:
    """A bus for a single process: subscribers are called synchronously, in order."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def publish(self, event: dict[str, Any]) -> None:
        """Call every subscriber; one failing subscriber does not stop the others."""
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a sink's failure must not break the publisher
                log.exception("event subscriber failed", extra={"event_id": event.get("id")})

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Register ``callback``; the returned function removes it."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe


def init_app(app: Flask) -> None:
    """Give the app its bus."""
    app.extensions[EXTENSION] = InProcessBus()


def get_bus(app: Flask | None = None) -> EventBus:
    """The bus of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
