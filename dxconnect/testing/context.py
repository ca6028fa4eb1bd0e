"""A :class:`~dxconnect.whatsapp.driver.DriverContext` that records every event a driver emits."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from dxconnect.events.envelope import InvalidEvent, make_event


class RecordingContext:
    """Builds each emitted event with :func:`make_event` (as the core does) and keeps it.

    An event that :func:`make_event` refuses, or that is not JSON, is kept in
    :attr:`errors` and re-raised to the driver.
    """

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self._settings = MappingProxyType(dict(settings or {}))
        self.events: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()

    @property
    def settings(self) -> Mapping[str, Any]:
        """The settings given to the constructor (read-only)."""
        return self._settings

    def emit(self, event_type: str, fields: Mapping[str, Any]) -> None:
        """Record the v1 event of ``event_type`` with ``fields``."""
        try:
            event = make_event(event_type, dict(fields))
            json.dumps(event)
        except (InvalidEvent, TypeError, ValueError) as error:
            with self._changed:
                self.errors.append(f"{event_type}: {error}")
            raise
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        """The events of one type, in order."""
        with self._changed:
            return [event for event in self.events if event["type"] == event_type]

    def session_statuses(self) -> list[str]:
        """Every reported session status, in order."""
        return [event["status"] for event in self.of_type("session_status")]

    def message_statuses(self, message_id: str) -> list[str]:
        """Every reported status of one message, in order."""
        return [
            event["status"]
            for event in self.of_type("message_status")
            if event["message_id"] == message_id
        ]

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
        """Block until ``condition()`` holds; fail naming ``what`` and the events seen.

        ``condition`` runs without this context's lock held, so it may call the
        driver (whose timers may be emitting at that moment).
        """
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [(event["type"], event.get("status")) for event in list(self.events)]
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; events: {seen}"
                )
            with self._changed:
                self._changed.wait(min(remaining, 0.05))
