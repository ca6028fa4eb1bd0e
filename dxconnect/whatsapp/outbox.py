"""The dispatcher's side of the outbox, and what drivers report about messages.

Only the lease holder dispatches. It *claims* queued rows (``SELECT ... FOR
UPDATE SKIP LOCKED``, then ``claimed_at`` is set and committed) before handing
them to the driver, so no row is handed out twice, even by two processes.
A row claimed by a process that died before the driver took it is in an
unknown state: it ends ``failed`` with a reason rather than risk a second send.

Statuses only move forward (``queued → sent → delivered → read``, or
``failed`` from ``queued``/``sent``): each change is one conditional
``UPDATE``, so a late or duplicate report changes nothing and publishes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import sqlalchemy as sa

from dxconnect.events.envelope import InvalidEvent
from dxconnect.extensions import db
from dxconnect.models.agents import utcnow
from dxconnect.models.whatsapp import OUTBOUND, WhatsAppMessage
from dxconnect.whatsapp.driver import OutboundMessage
from dxconnect.whatsapp.notify import Pending, commit_and_publish

#: Status -> the statuses it may follow.
FORWARD: dict[str, tuple[str, ...]] = {
    "sent": ("queued",),
    "delivered": ("queued", "sent"),
    "read": ("queued", "sent", "delivered"),
    "failed": ("queued", "sent"),
}
ERROR_MAX = 500
INTERRUPTED = (
    "Interrupted: the process handing this message to the driver stopped; "
    "not retried, so it cannot be sent twice"
)


def _outbound() -> sa.ColumnElement[bool]:
    return WhatsAppMessage.direction == OUTBOUND


def _failed_event(message_id: str, error: str) -> Pending:
    return ("message_status", {"message_id": message_id, "status": "failed", "error": error})


def apply_status(message_id: str, status: str, error: str | None = None) -> bool:
    """Move an outbound message to ``status`` if that is forward; publish it. False when ignored."""
    if status not in FORWARD:
        raise InvalidEvent(f"message_status {status!r} is not one of {', '.join(FORWARD)}")
    values: dict[str, object] = {"status": status, f"{status}_at": utcnow()}
    fields: dict[str, object] = {"message_id": message_id, "status": status}
    if status == "failed":
        values["error"] = fields["error"] = (error or "The driver reported a failure")[:ERROR_MAX]
    changed = db.session.execute(
        sa.update(WhatsAppMessage)
        .where(
            _outbound(),
            WhatsAppMessage.message_id == message_id,
            WhatsAppMessage.status.in_(FORWARD[status]),
        )
        .values(**values)
    ).rowcount
    if not changed:
        db.session.commit()
        return False
    commit_and_publish(("message_status", fields))
    return True


def _fail_where(condition: sa.ColumnElement[bool], error: str) -> list[str]:
    """Fail every queued outbound row matching ``condition`` with ``error``; publish each."""
    now = utcnow()
    failed = (
        db.session.execute(
            sa.update(WhatsAppMessage)
            .where(_outbound(), WhatsAppMessage.status == "queued", condition)
            .values(status="failed", failed_at=now, error=error)
            .returning(WhatsAppMessage.message_id)
        )
        .scalars()
        .all()
    )
    commit_and_publish(*(_failed_event(message_id, error) for message_id in failed))
    return list(failed)


def expire_stale(ttl_seconds: int) -> list[str]:
    """Fail unclaimed queued messages older than ``ttl_seconds``; return their ids."""
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    return _fail_where(
        sa.and_(WhatsAppMessage.claimed_at.is_(None), WhatsAppMessage.created_at < cutoff),
        f"Expired: not sent within {ttl_seconds} seconds",
    )


def fail_interrupted() -> list[str]:
    """At lease take-over: fail rows a dead holder claimed but never handed over."""
    return _fail_where(WhatsAppMessage.claimed_at.is_not(None), INTERRUPTED)


def claim_batch(limit: int, ttl_seconds: int) -> list[OutboundMessage]:
    """Claim up to ``limit`` queued, unexpired messages, oldest first (committed)."""
    cutoff = utcnow() - timedelta(seconds=ttl_seconds)
    rows = db.session.scalars(
        sa.select(WhatsAppMessage)
        .where(
            _outbound(),
            WhatsAppMessage.status == "queued",
            WhatsAppMessage.claimed_at.is_(None),
            WhatsAppMessage.created_at >= cutoff,
        )
        .order_by(WhatsAppMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    now = utcnow()
    claimed = []
    for row in rows:
        row.claimed_at = now
        claimed.append(OutboundMessage(row.message_id, row.recipient or "", row.type, row.content))
    db.session.commit()
    return claimed


def release_claims(messages: Iterable[OutboundMessage]) -> None:
    """Give claimed, not yet handed-over messages back to the queue (the session dropped)."""
    ids = [message.message_id for message in messages]
    if ids:
        db.session.execute(
            sa.update(WhatsAppMessage)
            .where(WhatsAppMessage.message_id.in_(ids), WhatsAppMessage.status == "queued")
            .values(claimed_at=None)
        )
    db.session.commit()
