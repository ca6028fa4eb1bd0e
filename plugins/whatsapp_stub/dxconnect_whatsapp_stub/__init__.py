"""``stub``: a simulated WhatsApp session for development and frontend tests.

The session walks ``connecting → qrcode → authenticated → ready``, one step
every ``WHATSAPP_STUB_STEP_MS`` milliseconds (default 100; ``WHATSAPP_STUB_FAST=1``
makes every step immediate); the ``qrcode`` event carries a real PNG QR code.
Sent messages walk ``sent → delivered → read`` the same way, except those to
:data:`FAILING_RECIPIENT`, which end ``failed``. Inbound messages can be injected.
"""

from __future__ import annotations

import base64
import functools
import io
import os
import secrets
from collections.abc import Mapping
from typing import Any

import qrcode
from qrcode.image.pure import PyPNGImage

from dxconnect.hookspecs import hookimpl
from dxconnect.whatsapp.driver import (
    MESSAGE_TYPES,
    DriverCapabilities,
    DriverContext,
    OutboundMessage,
    WhatsAppDriver,
)
from dxconnect.whatsapp.simulation import SimulatedDriver

#: Sending to this number always ends ``failed`` (to exercise the frontend's failure path).
FAILING_RECIPIENT = "5500000000000"
FAILING_ERROR = f"stub: recipient {FAILING_RECIPIENT} is reserved to fail"
DEFAULT_STEP_MS = 100
_TRUE = ("1", "true", "yes", "on")


def step_seconds_from_environment(environ: Mapping[str, str] = os.environ) -> float:
    """The step delay: 0 with ``WHATSAPP_STUB_FAST=1``, else ``WHATSAPP_STUB_STEP_MS`` (default 100 ms)."""
    if environ.get("WHATSAPP_STUB_FAST", "").strip().lower() in _TRUE:
        return 0.0
    raw = environ.get("WHATSAPP_STUB_STEP_MS", "").strip()
    return (int(raw) if raw.isdigit() else DEFAULT_STEP_MS) / 1000


def qrcode_png_b64(data: str) -> str:
    """A PNG QR code of ``data``, base64-encoded."""
    buffer = io.BytesIO()
    qrcode.make(data, image_factory=PyPNGImage).save(buffer)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class StubDriver(SimulatedDriver):
    """Simulated session and message statuses for every message type of the contract."""

    name = "stub"
    capabilities = DriverCapabilities(
        message_types=frozenset(MESSAGE_TYPES), inbound_injection=True
    )

    def __init__(self, context: DriverContext, step_seconds: float | None = None) -> None:
        super().__init__(
            context, step_seconds_from_environment() if step_seconds is None else step_seconds
        )

    def start_session(self) -> None:
        """Report ``connecting`` now, then a QR code, ``authenticated`` and ``ready``."""
        with self.scheduler.lock:
            if self._status not in ("disconnected", "failed"):
                return
            self.set_status("connecting")
            self.walk(
                [
                    self._show_qrcode,
                    functools.partial(self.set_status, "authenticated"),
                    functools.partial(self.set_status, "ready"),
                ]
            )

    def send_message(self, message: OutboundMessage) -> None:
        """Walk ``sent → delivered → read``; a send to :data:`FAILING_RECIPIENT` ends ``failed``."""
        if self.refused(message):
            return
        if message.to == FAILING_RECIPIENT:
            self.walk([functools.partial(self.report, message.message_id, "failed", FAILING_ERROR)])
        else:
            self.walk(self.steps(message.message_id, "sent", "delivered", "read"))

    def inject_inbound(self, sender: str, payload: Mapping[str, Any]) -> None:
        """Report ``payload`` (``{"type": "text", "text": ...}`` or media fields) as sent by ``sender``."""
        if payload.get("type") not in self.capabilities.message_types:
            raise ValueError(f"payload type must be one of {', '.join(MESSAGE_TYPES)}")
        self.receive(sender, payload, prefix="stub")

    def _show_qrcode(self) -> None:
        code = qrcode_png_b64(f"dxconnect-stub:{secrets.token_urlsafe(16)}")
        self.context.emit("qrcode", {"image_b64": code})
        self.set_status("qrcode")


@hookimpl
def dxconnect_whatsapp_drivers() -> list[type[WhatsAppDriver]]:
    """The ``stub`` driver."""
    return [StubDriver]
