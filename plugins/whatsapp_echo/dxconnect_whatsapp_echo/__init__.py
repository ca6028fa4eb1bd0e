"""``echo``: a session that is ready at once, where every message sent comes back.

A sent message walks ``sent → delivered``; then the recipient "answers" with
the same payload (a ``message_received`` from the recipient, in the
recipient's chat) and the message turns ``read``. Every step is immediate
(``EchoDriver(context, step_seconds=...)`` slows them down).
"""

from __future__ import annotations

import functools

from dxconnect.hookspecs import hookimpl
from dxconnect.whatsapp.driver import (
    MESSAGE_TYPES,
    DriverCapabilities,
    OutboundMessage,
    WhatsAppDriver,
)
from dxconnect.whatsapp.simulation import SimulatedDriver


class EchoDriver(SimulatedDriver):
    """Ready right after start; every message (text or media) is echoed back by its recipient."""

    name = "echo"
    capabilities = DriverCapabilities(
        message_types=frozenset(MESSAGE_TYPES), inbound_injection=False
    )

    def start_session(self) -> None:
        """Report ``ready`` at once (no QR code, nothing to authenticate)."""
        with self.scheduler.lock:
            if self._status != "ready":
                self.set_status("ready")

    def send_message(self, message: OutboundMessage) -> None:
        """Walk ``sent → delivered``, echo the payload back from the recipient, then ``read``."""
        if self.refused(message):
            return
        payload = {"type": message.type, **message.content}
        echo = functools.partial(self.receive, message.to, payload, "echo")
        self.walk(
            [*self.steps(message.message_id, "sent", "delivered"), echo,
             *self.steps(message.message_id, "read")]
        )  # fmt: skip


@hookimpl
def dxconnect_whatsapp_drivers() -> list[type[WhatsAppDriver]]:
    """The ``echo`` driver."""
    return [EchoDriver]
