"""Messages agents send and read: accept into the outbox (idempotently), look up, list.

A message is accepted by storing its outbox row, status ``queued``, and
committing before the answer; the dispatcher (:mod:`dxconnect.whatsapp.outbox`)
hands it to the driver later. A ``client_message_id`` (or ``Idempotency-Key``)
makes a retry return the first message instead of queueing another, even when
the two requests race on two processes (a unique constraint decides).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dxconnect.errors import Conflict, InvalidPayload, NotFound
from dxconnect.events.envelope import make_event
from dxconnect.extensions import db
from dxconnect.models.agents import utcnow
from dxconnect.models.whatsapp import OUTBOUND, WhatsAppMessage
from dxconnect.whatsapp.driver import WhatsAppDriver
from dxconnect.whatsapp.runtime import outbox_writer

QUEUED = "queued"
#: The shape of every message id (``uuid4().hex``).
MESSAGE_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class NewMessage:
    """A validated outbound message: recipient, type and the type's fields."""

    to: str
    type: str
    content: Mapping[str, Any]


def check_supported(message_type: str, driver: type[WhatsAppDriver]) -> None:
    """Refuse a type the active driver does not declare, naming the ones it does."""
    supported = sorted(driver.capabilities.message_types)
    if message_type not in supported:
        problem = (
            f"Type '{message_type}' is not supported by the active driver '{driver.name}'; "
            f"supported types: {', '.join(supported)}"
        )
        raise InvalidPayload(problem, {"type": [problem]})


def client_key(client_message_id: str | None, idempotency_key: str | None) -> str | None:
    """The idempotency key from the body or the header (they must agree when both are sent)."""
    if client_message_id and idempotency_key and client_message_id != idempotency_key:
        raise InvalidPayload(
            "client_message_id and the Idempotency-Key header differ",
            {"client_message_id": ["Differs from the Idempotency-Key header."]},
        )
    return client_message_id or idempotency_key


def send_message(
    agent_id: int,
    message: NewMessage,
    keys: tuple[str | None, str | None],
    driver: type[WhatsAppDriver],
) -> str:
    """Queue ``message`` from agent ``agent_id`` for ``driver``; ``keys``: body key, header key."""
    check_supported(message.type, driver)
    return accept_message(agent_id, message, client_key(*keys))


def _by_client_key(agent_id: int, key: str) -> WhatsAppMessage | None:
    return db.session.scalar(
        sa.select(WhatsAppMessage).where(
            WhatsAppMessage.agent_id == agent_id, WhatsAppMessage.client_message_id == key
        )
    )


def _same_message(row: WhatsAppMessage, message: NewMessage) -> str:
    if (row.recipient, row.type, row.content) != (message.to, message.type, dict(message.content)):
        raise Conflict(
            "This client_message_id was already used for a different message",
            {"client_message_id": ["Already used for a different message."]},
        )
    return row.message_id


def _commit_each_statement() -> None:
    """Let the session's next statements commit one by one (PostgreSQL autocommit).

    Looking up an idempotency key then needs no ``BEGIN`` and no ``ROLLBACK``
    round trip. Only possible before the session's transaction has begun.
    """
    if db.engine.dialect.name == "postgresql" and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def accept_message(agent_id: int, message: NewMessage, client_key: str | None) -> str:
    """Store ``message`` as ``queued`` (committed), publish its status; return its ``message_id``.

    The same ``client_key`` from the same agent returns the first message's id
    and stores nothing; reused for a different message it is a :class:`Conflict`.
    The row is written by the process's :class:`~.outbox_writer.OutboxWriter`,
    together with the messages other requests accept at the same moment.
    """
    if client_key is not None:
        _commit_each_statement()
        existing = _by_client_key(agent_id, client_key)
        if existing is not None:
            return _same_message(existing, message)
    now = utcnow()
    message_id = uuid.uuid4().hex
    row = {
        "message_id": message_id,
        "direction": OUTBOUND,
        "agent_id": agent_id,
        "client_message_id": client_key,
        "recipient": message.to,
        "type": message.type,
        "content": dict(message.content),
        "status": QUEUED,
        "created_at": now,
        "queued_at": now,
    }
    try:
        outbox_writer().write(
            row, make_event("message_status", {"message_id": message_id, "status": QUEUED})
        )
    except IntegrityError:
        if client_key is None:
            raise
        winner = _by_client_key(agent_id, client_key)
        if winner is None:
            raise
        return _same_message(winner, message)
    return message_id


def get_message(message_id: str) -> WhatsAppMessage:
    """The stored message with this id, or :class:`NotFound`."""
    row = None
    if MESSAGE_ID.fullmatch(message_id):
        query = sa.select(WhatsAppMessage).where(WhatsAppMessage.message_id == message_id)
        row = db.session.scalar(query)
    if row is None:
        raise NotFound(f"Message '{message_id}' was not found")
    return row


def message_query(filters: Mapping[str, str]) -> sa.Select[tuple[WhatsAppMessage]]:
    """Messages matching ``direction``, ``status``, ``to`` and ``from`` (if given), newest first."""
    columns = {
        "direction": WhatsAppMessage.direction,
        "status": WhatsAppMessage.status,
        "to": WhatsAppMessage.recipient,
        "from": WhatsAppMessage.sender,
    }
    query = sa.select(WhatsAppMessage)
    for name, column in columns.items():
        if filters.get(name) is not None:
            query = query.where(column == filters[name])
    return query.order_by(WhatsAppMessage.id.desc())
