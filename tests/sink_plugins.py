"""A test plugin providing sinks that record, stall and fail (enabled with ``DXCONNECT_PLUGINS``)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from dxconnect.events.sink import EventSink
from dxconnect.hookspecs import hookimpl

#: How long the ``slow`` sink stalls on each event.
SLOW_SECONDS = 2.0


class RecordingSink(EventSink):
    """Keeps every event it receives."""

    name = "recording"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.events: list[Mapping[str, Any]] = []
        self.received = threading.Event()

    def deliver(self, event: Mapping[str, Any]) -> None:
        self.events.append(event)
        self.received.set()


class SlowSink(RecordingSink):
    """Takes :data:`SLOW_SECONDS` per event."""

    name = "slow"

    def deliver(self, event: Mapping[str, Any]) -> None:
        threading.Event().wait(SLOW_SECONDS)
        super().deliver(event)


class FailingSink(EventSink):
    """Refuses every event, without retrying."""

    name = "failing"

    def deliver(self, event: Mapping[str, Any]) -> None:
        raise RuntimeError("the failing sink refuses every event")


@hookimpl
def dxconnect_event_sinks() -> list[type[EventSink]]:
    return [RecordingSink, SlowSink, FailingSink]
