"""Inbound messages: stored once per driver message id, and development-only injections.

An injection request may reach any process, but only the lease holder has a
driver: the request is stored, and the holder hands it to its driver, which
reports the message as if a customer wrote it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dxconnect.errors import Conflict, NotFound
from dxconnect.events.envelope import InvalidEvent
from dxconnect.extensions import db
from dxconnect.models.agents import utcnow
from dxconnect.models.whatsapp import INBOUND, RECEIVED, WhatsAppInjection, WhatsAppMessage
from dxconnect.whatsapp.driver import WhatsAppDriver
from dxconnect.whatsapp.notify import commit_and_publish
from dxconnect.whatsapp.session import load_session

#: ``message_received`` field -> the longest value stored.
FIELD_LIMITS = {"message_id": 128, "from": 64, "chat_id": 128}


def _checked(fields: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    values = {}
    for name, limit in FIELD_LIMITS.items():
        value = fields.get(name)
        if not isinstance(value, str) or not 0 < len(value) <= limit:
            raise InvalidEvent(f"message_received {name} must be a string of 1-{limit} characters")
        values[name] = value
    payload = fields.get("payload")
    if not isinstance(payload, Mapping) or not isinstance(payload.get("type"), str):
        raise InvalidEvent("message_received payload must be an object with a 'type'")
    return values, dict(payload)


def store_inbound(fields: Mapping[str, Any]) -> str | None:
    """Store a ``message_received`` report and publish it; None for a duplicate (ignored).

    The stored message gets its own ``message_id`` (the one published and
    served by the API); the driver's id only deduplicates.
    """
    values, payload = _checked(fields)
    message_id = uuid.uuid4().hex
    now = utcnow()
    row = WhatsAppMessage(
        message_id=message_id,
        direction=INBOUND,
        driver_message_id=values["message_id"],
        sender=values["from"],
        chat_id=values["chat_id"],
        type=payload["type"][:16],
        content={key: value for key, value in payload.items() if key != "type"},
        status=RECEIVED,
        created_at=now,
        received_at=now,
    )
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        db.session.commit()
        return None
    event = {"message_id": message_id, "from": values["from"], "chat_id": values["chat_id"]}
    commit_and_publish(("message_received", {**event, "payload": payload}))
    return message_id


def request_injection(
    sender: str, text: str, *, production: bool, driver: type[WhatsAppDriver]
) -> None:
    """Store a text from ``sender`` for the lease holder's driver to inject.

    Not found in production or with a driver that cannot inject; a conflict
    while the session is not ready.
    """
    if production or not driver.capabilities.inbound_injection:
        raise NotFound(
            "Inbound injection is available only in development, with a driver that supports it"
        )
    if load_session().status != "ready":
        db.session.commit()
        raise Conflict("The WhatsApp session is not ready")
    payload = {"type": "text", "text": text}
    db.session.add(WhatsAppInjection(sender=sender, payload=payload, created_at=utcnow()))
    db.session.commit()


def take_injections(limit: int = 50) -> list[tuple[str, dict[str, Any]]]:
    """Remove and return the oldest pending injections as ``(sender, payload)``."""
    rows = db.session.scalars(
        sa.select(WhatsAppInjection)
        .order_by(WhatsAppInjection.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    taken = [(row.sender, dict(row.payload)) for row in rows]
    for row in rows:
        db.session.delete(row)
    db.session.commit()
    return taken
