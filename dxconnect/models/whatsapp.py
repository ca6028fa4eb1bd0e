"""WhatsApp: the one session's shared state, the message outbox/inbox and inbound injections.

Everything here lives in the database (never in process memory), so every
server process reads the same session status and the same messages, and no
accepted message is lost when a process dies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from dxconnect.extensions import db
from dxconnect.models.agents import utcnow

#: The primary key of the single session row.
SESSION_ROW_ID = 1
OUTBOUND = "outbound"
INBOUND = "inbound"
#: The status of every stored inbound message.
RECEIVED = "received"
#: Message statuses that have their own ``<status>_at`` column.
TIMED_STATUSES = ("queued", "sent", "delivered", "read", "failed", RECEIVED)


class WhatsAppSession(db.Model):
    """The deployment's one WhatsApp session: what is wanted and what the driver reports."""

    __tablename__ = "whatsapp_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``running`` after a start request, ``stopped`` after a stop request.
    desired: Mapped[str] = mapped_column(sa.String(16), default="stopped")
    status: Mapped[str] = mapped_column(sa.String(16), default="disconnected")
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    qrcode: Mapped[str | None] = mapped_column(sa.Text)
    #: ``host:pid`` of the process holding the driver lease (informational).
    holder: Mapped[str | None] = mapped_column(sa.String(255))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)


class WhatsAppMessage(db.Model):
    """A message sent (outbox row) or received, with the time of each status it reached."""

    __tablename__ = "whatsapp_messages"
    __table_args__ = (
        sa.UniqueConstraint(
            "agent_id", "client_message_id", name="uq_whatsapp_messages_client_key"
        ),
        sa.UniqueConstraint(
            "direction", "driver_message_id", name="uq_whatsapp_messages_driver_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(sa.String(32), unique=True)
    direction: Mapped[str] = mapped_column(sa.String(8))
    agent_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("agents.id", ondelete="SET NULL"), index=True
    )
    client_message_id: Mapped[str | None] = mapped_column(sa.String(255))
    recipient: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    sender: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    chat_id: Mapped[str | None] = mapped_column(sa.String(128))
    driver_message_id: Mapped[str | None] = mapped_column(sa.String(128))
    type: Mapped[str] = mapped_column(sa.String(16))
    content: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, index=True
    )
    #: Set when the dispatcher takes the row to hand it to the driver.
    claimed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    queued_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    failed_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))

    def status_times(self) -> dict[str, datetime]:
        """The time each status was reached, for the statuses reached so far."""
        times = {status: getattr(self, f"{status}_at") for status in TIMED_STATUSES}
        return {status: at for status, at in times.items() if at is not None}


class WhatsAppInjection(db.Model):
    """Development only: an inbound message waiting for the session holder to inject it."""

    __tablename__ = "whatsapp_injections"

    id: Mapped[int] = mapped_column(primary_key=True)
    sender: Mapped[str] = mapped_column(sa.String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
