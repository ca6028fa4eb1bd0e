"""Built-in ``log`` sink (a default plugin): one structured JSON log line per event."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from dxconnect.events.sink import EventSink
from dxconnect.hookspecs import hookimpl
from dxconnect.settings import Settings

log = logging.getLogger("dxconnect.events.log")


class LogSink(EventSink):
    """Writes each event as ``{"logger": "dxconnect.events.log", "message": "event", "event": {...}}``.

    Enabling the sink is the opt-in: its lines are written at INFO even when
    ``LOG_LEVEL`` is higher.
    """

    name = "log"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        log.setLevel(logging.INFO)

    def deliver(self, event: Mapping[str, Any]) -> None:
        """Log the event, whole, under the ``event`` key."""
        log.info("event", extra={"event": dict(event)})


@hookimpl(trylast=True)
def dxconnect_event_sinks() -> list[type[EventSink]]:
    """The built-in ``log`` sink."""
    return [LogSink]
