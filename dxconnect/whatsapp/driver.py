"""The WhatsApp driver interface every driver plugin implements.

A driver knows nothing of Flask or the database. It receives a
:class:`DriverContext` through which it reads its (decrypted) settings and
emits events; the core turns those events into v1 envelopes, stores what must
be stored and publishes them to every sink.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

#: Session statuses, in the order a healthy session walks them (plus ``failed``).
SESSION_STATUSES = ("disconnected", "connecting", "qrcode", "authenticated", "ready", "failed")
#: Message statuses; they only move forward (``failed`` is terminal).
MESSAGE_STATUSES = ("queued", "sent", "delivered", "read", "failed")
#: Every message type of the contract.
MESSAGE_TYPES = ("text", "image", "video", "audio", "document")


@dataclass(frozen=True)
class DriverCapabilities:
    """What a driver can do; the API refuses what it does not declare."""

    message_types: frozenset[str] = frozenset({"text"})
    inbound_injection: bool = False


@dataclass(frozen=True)
class OutboundMessage:
    """A message the core asks a driver to send.

    ``message_id`` is the core's id: the driver reports statuses for it.
    ``content`` holds the type's fields: ``{"text": ...}`` or
    ``{"media_url": ..., "caption": ..., "filename": ...}``.
    """

    message_id: str
    to: str
    type: str
    content: Mapping[str, Any] = field(default_factory=dict)


class DriverContext(Protocol):
    """What the core gives a driver."""

    @property
    def settings(self) -> Mapping[str, Any]:
        """The WhatsApp configuration section, secrets decrypted."""

    def emit(self, event_type: str, fields: Mapping[str, Any]) -> None:
        """Report an event with the fields of its type (contract section 4), e.g.
        ``emit("session_status", {"status": "ready"})``,
        ``emit("message_status", {"message_id": m.message_id, "status": "sent"})`` or
        ``emit("message_received", {"message_id": ..., "from": ..., "chat_id": ..., "payload": ...})``.
        """


class WhatsAppDriver(ABC):
    """Base class of WhatsApp drivers: one instance drives one session."""

    #: Unique name, selected with ``WHATSAPP_DRIVER=<name>``.
    name: ClassVar[str]
    capabilities: ClassVar[DriverCapabilities] = DriverCapabilities()

    def __init__(self, context: DriverContext) -> None:
        self.context = context

    @abstractmethod
    def start_session(self) -> None:
        """Begin connecting; report progress with ``session_status`` (and ``qrcode``) events."""

    @abstractmethod
    def stop_session(self) -> None:
        """Disconnect and report ``disconnected``; calling it again is harmless."""

    @abstractmethod
    def status(self) -> str:
        """The current session status (one of :data:`SESSION_STATUSES`)."""

    @abstractmethod
    def send_message(self, message: OutboundMessage) -> None:
        """Send ``message`` (only called while ``ready``); report ``message_status`` events."""

    def inject_inbound(self, sender: str, payload: Mapping[str, Any]) -> None:
        """Development only: behave as if ``sender`` wrote ``payload`` to us."""
        raise NotImplementedError(f"driver {self.name!r} does not support inbound injection")
