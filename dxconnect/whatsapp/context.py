"""The core's :class:`~dxconnect.whatsapp.driver.DriverContext`: driver reports become events.

Drivers call :meth:`CoreDriverContext.emit` from whatever thread or greenlet
they run (timers included), so each call pushes its own app context, and so
gets its own database session, stores what must be stored, and publishes the
v1 event to the bus once it is committed. A context is closed when its driver
is discarded (stop, lost lease): a closed context ignores everything, so a
late timer of an old driver cannot change the shared state.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from dxconnect.events.envelope import InvalidEvent
from dxconnect.whatsapp import inbox, outbox, session

log = logging.getLogger("dxconnect.whatsapp")


def _session_status(fields: Mapping[str, Any]) -> bool:
    return session.apply_driver_status(fields.get("status"), fields.get("reason"))


def _qrcode(fields: Mapping[str, Any]) -> bool:
    return session.apply_qrcode(fields.get("image_b64"))


def _message_status(fields: Mapping[str, Any]) -> bool:
    message_id = fields.get("message_id")
    if not isinstance(message_id, str):
        raise InvalidEvent("message_status message_id must be a string")
    error = fields.get("error")
    return outbox.apply_status(message_id, str(fields.get("status")), str(error) if error else None)


def _message_received(fields: Mapping[str, Any]) -> bool:
    return inbox.store_inbound(fields) is not None


#: Event type -> the handler that stores and publishes it (True when it changed something).
HANDLERS: dict[str, Callable[[Mapping[str, Any]], bool]] = {
    "session_status": _session_status,
    "qrcode": _qrcode,
    "message_status": _message_status,
    "message_received": _message_received,
}


class CoreDriverContext:
    """What one driver instance is given: its settings and an ``emit`` into the core."""

    def __init__(self, app: Flask, settings: Mapping[str, Any]) -> None:
        self._app = app
        self._settings = dict(settings)
        self._closed = threading.Event()

    @property
    def settings(self) -> Mapping[str, Any]:
        """The WhatsApp configuration section, secrets decrypted."""
        return self._settings

    @property
    def closed(self) -> bool:
        """True once the driver was discarded: its reports are ignored."""
        return self._closed.is_set()

    def close(self) -> None:
        """Ignore every later report of this context's driver."""
        self._closed.set()

    def emit(self, event_type: str, fields: Mapping[str, Any]) -> None:
        """Store and publish a driver report (contract section 4 fields).

        Raises :class:`~dxconnect.events.envelope.InvalidEvent` for an unknown
        type or malformed fields; late or duplicate reports are ignored.
        """
        handler = HANDLERS.get(event_type)
        if handler is None:
            raise InvalidEvent(f"unknown event type {event_type!r}")
        if self.closed:
            log.info("report of a discarded driver ignored", extra={"event_type": event_type})
            return
        with self._app.app_context():
            if not handler(fields):
                log.debug("driver report ignored", extra={"event_type": event_type})
