"""The one event envelope (contract section 4), built in one place.

Every event is a flat JSON object: ``version`` (``"v1"``), a unique ``id``,
``type``, ``ts`` (ISO 8601 UTC) and the fields of its type.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

VERSION = "v1"

#: Event type -> the fields it must carry (optional fields may be added).
EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "session_status": ("status",),
    "qrcode": ("image_b64",),
    "message_status": ("message_id", "status"),
    "message_received": ("message_id", "from", "chat_id", "payload"),
}

RESERVED = ("version", "id", "type", "ts")


class InvalidEvent(ValueError):
    """An event of an unknown type, missing a required field, or overriding a reserved key."""


def make_event(event_type: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Build a v1 event of ``event_type`` from ``fields`` (checked against :data:`EVENT_FIELDS`)."""
    required = EVENT_FIELDS.get(event_type)
    if required is None:
        raise InvalidEvent(f"unknown event type {event_type!r}")
    missing = [name for name in required if name not in fields]
    if missing:
        raise InvalidEvent(f"{event_type} event is missing {', '.join(missing)}")
    clash = [name for name in RESERVED if name in fields]
    if clash:
        raise InvalidEvent(f"{event_type} event may not set {', '.join(clash)}")
    return {
        "version": VERSION,
        "id": uuid.uuid4().hex,
        "type": event_type,
        "ts": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        **fields,
    }


def to_json(value: Any) -> str:
    """Compact UTF-8 JSON text: how events are stored and sent (Portuguese text byte for byte)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
