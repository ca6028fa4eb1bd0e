"""The WebSocket endpoints: ``/ws/echo/`` and ``/ws/whatsapp/`` (contract section 3).

Both take the access token as ``?token=`` and close with 4001 when it is
missing, invalid, expired or revoked, again at the moment it expires, and
within a second of a logout revoking it or of its agent being deactivated
(:mod:`dxconnect.realtime.guard`).
Close codes: 4001 (token), 1009 (frame over 64 KiB), 1001 (server shutting
down), 1011 (unexpected error), 1013 (event stream unavailable).
Frames are JSON text; ``{"type": "ping"}`` is answered ``{"type": "pong"}``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, g, request
from simple_websocket import ConnectionClosed

from dxconnect.accounts.tokens import agent_from_access_token
from dxconnect.errors import ServiceUnavailable, Unauthorized
from dxconnect.events.bus import UnknownEventId, get_bus
from dxconnect.events.envelope import to_json
from dxconnect.extensions import db, sock
from dxconnect.realtime.close_codes import (
    CLOSE_INTERNAL_ERROR,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHORIZED,
)
from dxconnect.realtime.connection import Connection, SerializedSocket, text_frame
from dxconnect.realtime.guard import get_guard
from dxconnect.realtime.hub import get_hub

#: Largest frame (message) a client may send; larger ones close the socket with 1009.
MAX_MESSAGE_BYTES = 64 * 1024
#: Frames a client may fall behind beyond a full history replay before it is disconnected.
OUTBOX_SLACK = 1_000
PONG = {"type": "pong"}

Reply = dict[str, Any]
Answer = Callable[[dict[str, Any]], Reply]

log = logging.getLogger("dxconnect.realtime")
blp = Blueprint("realtime", __name__)


def error_frame(code: str, message: str) -> Reply:
    """An error the client may recover from; the socket stays open."""
    return {"type": "error", "code": code, "message": message}


@blp.before_request
def prepare_handshake() -> None:
    """Before simple-websocket accepts: check the token, turn compression off, whole frames only.

    The token is checked first so a client's handshake completes only once its
    token has been looked up: a reconnection storm (every agent after a deploy)
    waits on the database pool instead of piling up half-open sockets. A bad
    token is still reported the WebSocket way, as close code 4001 after the
    handshake, which browsers can read (an HTTP status they cannot).
    Compression would be negotiated whenever a browser offers it; for small
    JSON frames it costs memory per socket and multiplies fan-out latency.
    """
    environ = request.environ
    environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
    for key in ("gunicorn.socket", "werkzeug.socket"):
        if key in environ and not isinstance(environ[key], SerializedSocket):
            environ[key] = SerializedSocket(environ[key])
    g.websocket_access = check_access(request.args.get("token"))


@dataclass(frozen=True)
class Access:
    """An accepted token: when it expires (epoch seconds), its id and its agent."""

    expires_at: float
    token_id: str
    agent_id: int


def check_access(token: str | None) -> Access | Unauthorized:
    """What the access token grants, or why it is refused."""
    try:
        if not token:
            raise Unauthorized("Authentication is required")
        agent, payload = agent_from_access_token(token)
        g.agent_id = agent.id
        return Access(float(payload["exp"]), payload["jti"], agent.id)
    except Unauthorized as error:
        return error
    finally:
        db.session.remove()  # a socket lives long: never hold a pooled connection


def answer_echo(message: dict[str, Any]) -> Reply:
    """Ping -> pong; any other object comes back as ``{"echo": <it>}``."""
    return PONG if message.get("type") == "ping" else {"echo": message}


def answer_stream(message: dict[str, Any]) -> Reply:
    """The event stream only listens for pings."""
    if message.get("type") == "ping":
        return PONG
    return error_frame("INVALID_PAYLOAD", 'Only {"type": "ping"} is accepted on this socket')


@sock.route("/ws/echo/", bp=blp)
def echo(ws: Any) -> None:
    """Echo each JSON object; for checking connectivity and authentication."""
    serve(ws, answer_echo)


@sock.route("/ws/whatsapp/", bp=blp)
def whatsapp(ws: Any) -> None:
    """Stream every WhatsApp event (optionally resuming after ``?last_event_id=``)."""
    serve(ws, answer_stream, stream_events=True)


def serve(ws: Any, answer: Answer, stream_events: bool = False) -> None:
    """Refuse a bad token, optionally subscribe to the bus, answer frames until closed or expired.

    An unexpected error closes the socket with 1011 (and is logged): once the
    handshake is done, no HTTP error page may be written on the socket.
    """
    settings = current_app.config["DXCONNECT_SETTINGS"]
    connection = Connection(ws, outbox_limit=settings.event_history_size + OUTBOX_SLACK)
    hub = get_hub()
    hub.add(connection)
    unsubscribe: Callable[[], None] | None = None
    try:
        access = g.websocket_access
        if isinstance(access, Unauthorized):
            connection.close(CLOSE_UNAUTHORIZED, access.message)
            return
        connection.owner = (access.token_id, access.agent_id)
        get_guard().watch()
        if stream_events:
            unsubscribe = subscribe(connection, request.args.get("last_event_id") or None)
        receive_until_expiry(connection, answer, access.expires_at)
    except ConnectionClosed:
        raise
    except Exception:
        log.exception("WebSocket handler failed")
        connection.close(CLOSE_INTERNAL_ERROR, "Internal error")
    finally:
        if unsubscribe is not None:
            unsubscribe()
        hub.discard(connection)
        connection.finish()


def subscribe(connection: Connection, last_event_id: str | None) -> Callable[[], None] | None:
    """Stream the bus to ``connection``: the events after ``last_event_id`` first, if given.

    An unknown or expired ``last_event_id`` gets an error frame
    ``LAST_EVENT_ID_UNKNOWN`` (reload state over REST), then the live stream.
    """
    hub = get_hub()
    bus = get_bus()

    def forward(event: dict[str, Any]) -> None:
        connection.push(hub.frame(event))

    try:
        try:
            return bus.subscribe(forward, last_event_id=last_event_id)
        except UnknownEventId:
            send(
                connection,
                error_frame(
                    "LAST_EVENT_ID_UNKNOWN",
                    "The events after last_event_id are no longer (or were never) in the "
                    "history; reload the state over the REST API. Live events follow.",
                ),
            )
            return bus.subscribe(forward)
    except ServiceUnavailable:
        connection.close(CLOSE_TRY_AGAIN_LATER, "Event stream unavailable")
        return None


def receive_until_expiry(connection: Connection, answer: Answer, expires_at: float) -> None:
    """Answer each frame; close with 4001 when the token expires."""
    while connection.open:
        remaining = expires_at - time.time()
        if remaining <= 0:
            connection.close(CLOSE_UNAUTHORIZED, "Token has expired")
            return
        message = connection.ws.receive(timeout=remaining)
        if message is None:
            continue
        if _size(message) > MAX_MESSAGE_BYTES:  # simple-websocket counts characters, not bytes
            connection.close(CLOSE_MESSAGE_TOO_BIG, "Message is too big")
            return
        send(connection, reply_to(message, answer))


def send(connection: Connection, reply: Reply) -> None:
    """Queue one JSON frame to ``connection``."""
    connection.push(text_frame(to_json(reply)))


def reply_to(message: str | bytes, answer: Answer) -> Reply:
    """The answer to one frame: ``answer(object)`` for a JSON object, else an error frame."""
    if isinstance(message, bytes):
        return error_frame("INVALID_PAYLOAD", "Frames must be JSON text")
    try:
        parsed = json.loads(message)
    except ValueError:
        return error_frame("INVALID_PAYLOAD", "Frames must be JSON text")
    if not isinstance(parsed, dict):
        return error_frame("INVALID_PAYLOAD", "Frames must be JSON objects")
    return answer(parsed)


def _size(message: str | bytes) -> int:
    return len(message.encode("utf-8") if isinstance(message, str) else message)
