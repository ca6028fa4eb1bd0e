"""The session's shared state: what agents asked for and what the driver reports.

The one session row holds the desired state (``running`` after a start request,
``stopped`` after a stop request) and the last status the driver reported.
Every process reads it from the database, so a status read anywhere agrees
with a start done anywhere; only the process holding the lease drives the
session (see :mod:`dxconnect.whatsapp.runner`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from dxconnect.events.envelope import InvalidEvent
from dxconnect.extensions import db
from dxconnect.models.agents import utcnow
from dxconnect.models.whatsapp import SESSION_ROW_ID, WhatsAppSession
from dxconnect.whatsapp.driver import SESSION_STATUSES
from dxconnect.whatsapp.notify import Pending, commit_and_publish

RUNNING = "running"
STOPPED = "stopped"
#: Statuses of a session that is (getting) connected: a start request changes nothing.
ACTIVE = ("connecting", "qrcode", "authenticated", "ready")
#: What a driver may still report after a stop request.
AFTER_STOP = ("disconnected", "failed")
REASON_MAX = 500


def load_session(*, lock: bool = False) -> WhatsAppSession:
    """The session row, created on first use; ``lock`` holds it until the transaction ends."""
    query = sa.select(WhatsAppSession).where(WhatsAppSession.id == SESSION_ROW_ID)
    if lock:
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is not None:
        return row
    try:
        with db.session.begin_nested():
            db.session.add(WhatsAppSession(id=SESSION_ROW_ID, updated_at=utcnow()))
    except IntegrityError:  # another process created it first
        pass
    return db.session.scalar(query)  # type: ignore[return-value]


def session_view() -> dict[str, Any]:
    """``status``, ``updated_at`` and, while the status is ``qrcode``, the QR code."""
    row = load_session()
    view: dict[str, Any] = {"status": row.status, "updated_at": row.updated_at}
    if row.status == "qrcode" and row.qrcode:
        view["qrcode"] = {"image_b64": row.qrcode}
    if row.status == "failed" and row.reason:
        view["reason"] = row.reason
    db.session.commit()
    return view


def _set_status(row: WhatsAppSession, status: str, reason: str | None = None) -> Pending:
    row.status = status
    row.reason = reason[:REASON_MAX] if reason and status == "failed" else None
    if status != "qrcode":
        row.qrcode = None
    row.updated_at = utcnow()
    fields: dict[str, Any] = {"status": status}
    if row.reason:
        fields["reason"] = row.reason
    return ("session_status", fields)


def request_start() -> str:
    """Ask for the session to run; answers the status (``connecting`` when it was down)."""
    row = load_session(lock=True)
    row.desired = RUNNING
    status = row.status
    if status in ACTIVE:
        db.session.commit()
        return status
    commit_and_publish(_set_status(row, "connecting"))
    return "connecting"


def request_stop() -> None:
    """Ask for the session to stop; it reads ``disconnected`` at once, everywhere."""
    row = load_session(lock=True)
    row.desired = STOPPED
    if row.status == "disconnected":
        db.session.commit()
        return
    commit_and_publish(_set_status(row, "disconnected"))


def desired_state() -> str:
    """``running`` or ``stopped``: what agents last asked for."""
    desired = load_session().desired
    db.session.commit()
    return desired


def take_over(holder: str) -> bool:
    """Record the new lease holder; True when it must reconnect a session another process drove.

    The previous holder's driver is gone with its process, so whatever status
    it last reported is no longer true: a session that should run reads
    ``connecting`` again.
    """
    row = load_session(lock=True)
    previous, row.holder = row.holder, holder
    reconnect = row.desired == RUNNING and previous not in (None, holder)
    if row.desired == RUNNING and row.status != "connecting":
        commit_and_publish(_set_status(row, "connecting"))
    else:
        db.session.commit()
    return reconnect


def apply_driver_status(status: Any, reason: Any = None) -> bool:
    """Store a ``session_status`` the driver reported and publish it; False when ignored.

    A repeated status is ignored, and so is anything but ``disconnected`` or
    ``failed`` once a stop was requested (a late report of a stopping driver).
    """
    if status not in SESSION_STATUSES:
        raise InvalidEvent(f"session_status {status!r} is not one of {', '.join(SESSION_STATUSES)}")
    row = load_session(lock=True)
    reason_text = str(reason) if reason else None
    unchanged = row.status == status and (status != "failed" or row.reason == reason_text)
    if unchanged or (row.desired == STOPPED and status not in AFTER_STOP):
        db.session.commit()
        return False
    commit_and_publish(_set_status(row, status, reason_text))
    return True


def apply_qrcode(image_b64: Any) -> bool:
    """Store the QR code the driver reported and publish it; False once a stop was requested."""
    if not isinstance(image_b64, str) or not image_b64:
        raise InvalidEvent("qrcode image_b64 must be a non-empty string")
    row = load_session(lock=True)
    if row.desired == STOPPED:
        db.session.commit()
        return False
    row.qrcode = image_b64
    row.updated_at = utcnow()
    commit_and_publish(("qrcode", {"image_b64": image_b64}))
    return True
