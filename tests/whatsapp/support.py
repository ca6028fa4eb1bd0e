"""A WhatsApp driver for tests, and helpers shared by the WhatsApp tests.

:class:`RecordingDriver` stands in for the remote WhatsApp network (the one
thing that cannot exist here). It walks ``connecting → qrcode →
authenticated → ready`` (``ready_after`` seconds after the start), takes
``send_delay`` seconds per send, appends the
id of every message it is asked to send to ``record_file`` (one line each,
written through ``O_APPEND`` and fsynced, so the record survives a killed
process and tells how many times each message really went out), reports
``sent`` and ``delivered`` for each, refuses :data:`REFUSED_NUMBER`, and turns an injected
inbound text into ``message_received``.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dxconnect.whatsapp.driver import (
    DriverCapabilities,
    DriverContext,
    OutboundMessage,
    WhatsAppDriver,
)

QR_PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
    "hgGAWjR9awAAAABJRU5ErkJggg=="
)
REFUSED_NUMBER = "5500000000000"


class RecordingDriver(WhatsAppDriver):
    """A driver that records every send in a file (see the module docstring)."""

    name = "recording"
    capabilities = DriverCapabilities(frozenset({"text", "image"}), inbound_injection=True)
    record_file: str | None = os.environ.get("RECORDING_DRIVER_FILE")
    ready_after: float = float(os.environ.get("RECORDING_DRIVER_READY_AFTER", "0"))
    #: Seconds each send takes (a slow network), before it is recorded.
    send_delay: float = float(os.environ.get("RECORDING_DRIVER_SEND_DELAY", "0"))

    def __init__(self, context: DriverContext) -> None:
        super().__init__(context)
        self._status = "disconnected"
        self._timer: threading.Timer | None = None

    def _report(self, status: str) -> None:
        self._status = status
        self.context.emit("session_status", {"status": status})

    def start_session(self) -> None:
        """Connect and show a QR code; "scanned" after ``ready_after`` seconds."""
        self._report("connecting")
        self._report("qrcode")
        self.context.emit("qrcode", {"image_b64": QR_PNG_B64})
        if self.ready_after:
            self._timer = threading.Timer(self.ready_after, self._scanned)
            self._timer.daemon = True
            self._timer.start()
        else:
            self._scanned()

    def _scanned(self) -> None:
        if self._status == "qrcode":
            self._report("authenticated")
            self._report("ready")

    def stop_session(self) -> None:
        """Disconnect (cancelling a pending scan)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._status != "disconnected":
            self._report("disconnected")

    def status(self) -> str:
        """The current status."""
        return self._status

    def send_message(self, message: OutboundMessage) -> None:
        """Record the send, then report ``sent`` and ``delivered``; the refused number raises."""
        if message.to == REFUSED_NUMBER:
            raise RuntimeError(f"recipient {message.to} refused the message")
        if self.send_delay:
            time.sleep(self.send_delay)
        if self.record_file:
            record_send(self.record_file, message.message_id)
        for status in ("sent", "delivered"):
            self.context.emit(
                "message_status", {"message_id": message.message_id, "status": status}
            )

    def inject_inbound(self, sender: str, payload: Mapping[str, Any]) -> None:
        """Report ``payload`` as received from ``sender``."""
        self.context.emit(
            "message_received",
            {
                "message_id": f"wamid.{uuid.uuid4().hex}",
                "from": sender,
                "chat_id": f"{sender}@c.us",
                "payload": dict(payload),
            },
        )


def record_send(path: str, message_id: str) -> None:
    """Append ``message_id`` to the send record, durably."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{message_id}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def recorded_sends(path: str | Path) -> list[str]:
    """Every message id the driver sent, once per send."""
    path = Path(path)
    return path.read_text().split() if path.exists() else []


def driver_class(**attributes: Any) -> type[RecordingDriver]:
    """A :class:`RecordingDriver` subclass with ``attributes`` (record_file, ready_after...)."""
    return type("TestDriver", (RecordingDriver,), attributes)
