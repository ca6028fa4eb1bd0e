"""End to end on ``/ws/whatsapp/``: real drivers on live servers, real WebSocket clients.

Each test asserts on the events the sockets receive, in order, whichever process
emitted them; every wait is bounded.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from websockets.sync.client import ClientConnection

from tests.test_websockets import WAIT, open_socket, ready, receive
from tests.whatsapp.conftest import TO, LiveApi, wait_for

PRODUCTION_APP = "wsgi:app"
SESSION = ["connecting", "qrcode", "authenticated", "ready"]
DELIVERY = ["queued", "sent", "delivered", "read"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
Events = list[dict[str, Any]]


def stream(api: LiveApi, token: str, **params: str) -> ClientConnection:
    """A subscribed ``/ws/whatsapp/`` socket on ``api``'s server."""
    return ready(open_socket(api.server.url, token=token, **params))


def events_until(
    ws: ClientConnection, done: Callable[[Events], bool], timeout: float = 3 * WAIT
) -> Events:
    """Events received on ``ws`` until ``done(received)``; fails after ``timeout`` seconds."""
    received: Events = []
    deadline = time.monotonic() + timeout
    while not done(received):
        remaining = deadline - time.monotonic()
        try:
            assert remaining > 0
            received.append(receive(ws, remaining))
        except (AssertionError, TimeoutError):
            raise AssertionError(f"stream incomplete after {timeout} s: {received}") from None
    return received


def session_statuses(events: Events) -> list[str]:
    """The ``status`` of each ``session_status`` event."""
    return [e["status"] for e in events if e["type"] == "session_status"]


def message_statuses(events: Events, message_id: str) -> list[str]:
    """The ``status`` of each ``message_status`` event of ``message_id``."""
    return [
        e["status"]
        for e in events
        if e["type"] == "message_status" and e["message_id"] == message_id
    ]


def until_session(status: str) -> Callable[[Events], bool]:
    """Done when a ``session_status`` of ``status`` arrived."""
    return lambda events: status in session_statuses(events)


def until_message(message_id: str, status: str) -> Callable[[Events], bool]:
    """Done when ``message_id`` reached ``status``."""
    return lambda events: status in message_statuses(events, message_id)


def assert_envelopes(events: Events) -> None:
    """Every event is a v1 envelope with its own ``id`` and a UTC ``ts``."""
    for event in events:
        assert event["version"] == "v1", event
        assert re.fullmatch(r"[0-9a-f]{32}", event["id"]), event
        assert event["type"] in {"session_status", "qrcode", "message_status", "message_received"}
        assert event["ts"].endswith("Z") and datetime.fromisoformat(event["ts"]), event
    ids = [event["id"] for event in events]
    assert len(set(ids)) == len(ids), "an event arrived twice"


def assert_png_qrcode(events: Events) -> None:
    """A ``qrcode`` event came, and its ``image_b64`` is a PNG."""
    qrcodes = [e["image_b64"] for e in events if e["type"] == "qrcode"]
    assert qrcodes, events
    assert base64.b64decode(qrcodes[0], validate=True).startswith(PNG_SIGNATURE)


def start_session(api: LiveApi) -> None:
    """Ask ``api``'s server to start the session."""
    response = api.request("POST", "/session/start")
    assert response.status_code == 202, response.text


def stub(servers: Callable[..., LiveApi], **env: str) -> LiveApi:
    """A live server driving the shipped stub driver."""
    return servers(wsgi=PRODUCTION_APP, WHATSAPP_DRIVER="stub", **env)


def session_and_message(
    api: LiveApi, ws: ClientConnection, text: str = "Olá!"
) -> tuple[str, Events]:
    """Start the session on ``api`` and send ``text`` once ready; the message id and the
    events ``ws`` received up to the message's ``read``, checked on the way."""
    start_session(api)
    events = events_until(ws, until_session("ready"))
    assert session_statuses(events) == SESSION
    assert_png_qrcode(events)
    message_id = api.send(text)
    events += events_until(ws, until_message(message_id, "read"))
    assert message_statuses(events, message_id) == DELIVERY
    assert_envelopes(events)
    return message_id, events


def test_stub_session_and_text_message_stream_their_statuses_in_order(servers, live_token):
    api = stub(servers, WHATSAPP_STUB_FAST="1")
    with stream(api, live_token) as ws:
        message_id, _ = session_and_message(api, ws)
    assert api.status() == "ready"
    assert api.message(message_id)["status"] == "read"


def test_echo_driver_text_comes_back_as_message_received_after_delivered(servers, live_token):
    api = servers(wsgi=PRODUCTION_APP, WHATSAPP_DRIVER="echo")
    with stream(api, live_token) as ws:
        start_session(api)
        events_until(ws, until_session("ready"))
        message_id = api.send("eco, eco?")
        events = events_until(ws, lambda got: any(e["type"] == "message_received" for e in got))
    assert_envelopes(events)
    [received] = [e for e in events if e["type"] == "message_received"]
    assert received["from"] == TO
    assert received["payload"] == {"type": "text", "text": "eco, eco?"}
    assert received["message_id"] != message_id
    delivered = next(
        i for i, e in enumerate(events)
        if e["type"] == "message_status" and e["message_id"] == message_id
        and e["status"] == "delivered"
    )  # fmt: skip
    assert delivered < events.index(received)


def test_events_emitted_on_one_server_reach_a_socket_held_by_another(
    servers, start_server, live_token
):
    emitter = stub(servers, WHATSAPP_STUB_FAST="1")
    # The other server shares PostgreSQL and Redis but does not drive the session.
    holder = LiveApi(start_server(wsgi=PRODUCTION_APP, WHATSAPP_DRIVER="stub"), live_token)
    try:
        assert holder.status() == "disconnected"
        with stream(holder, live_token) as ws:
            message_id, _ = session_and_message(emitter, ws, "Do servidor A para o B")
        assert holder.status() == emitter.status() == "ready"
        assert holder.message(message_id)["status"] == "read"
    finally:
        holder.server.stop()


def test_reconnecting_mid_stream_with_last_event_id_misses_and_repeats_nothing(servers, live_token):
    api = stub(servers, WHATSAPP_STUB_STEP_MS="150")
    with stream(api, live_token) as witness:  # stays connected: the full stream
        first = stream(api, live_token)
        start_session(api)
        before = events_until(first, lambda got: len(got) == 2)
        first.close()
        # While no socket of this client is open, the session gets ready and a message is
        # queued; the client reconnects while that message's statuses are still coming.
        wait_for(lambda: api.status() == "ready")
        message_id = api.send("Você perdeu isto?")
        # No ping first: the missed events come before any answer.
        resumed = open_socket(api.server.url, token=live_token, last_event_id=before[-1]["id"])
        with resumed:
            after = events_until(resumed, until_message(message_id, "read"))
            ready(resumed)  # and nothing else was queued
        everything = events_until(witness, until_message(message_id, "read"))
    assert before + after == everything
    assert session_statuses(everything) == SESSION
    assert message_statuses(everything, message_id) == DELIVERY
    assert_envelopes(everything)
