"""Commit a change, then tell every sink: events leave only once their change is stored."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from dxconnect.events.bus import get_bus
from dxconnect.events.envelope import make_event
from dxconnect.extensions import db

log = logging.getLogger("dxconnect.whatsapp")

#: An event to publish: ``(type, fields)``.
Pending = tuple[str, Mapping[str, Any]]


def commit_and_publish(*pending: Pending) -> list[dict[str, Any]]:
    """Commit the current transaction, then publish ``pending`` as v1 events (in order).

    The events are built (and so checked) before the commit, so a malformed
    event never leaves a change stored without its event. Once committed, the
    change stands: an event the bus refuses is logged, not raised (a client
    told "failed" would retry a change that was made).
    """
    events = [make_event(event_type, dict(fields)) for event_type, fields in pending]
    db.session.commit()
    bus = get_bus()
    for event in events:
        try:
            bus.publish(event)
        except Exception:
            log.exception("event stored but not published", extra={"event_id": event["id"]})
    return events
