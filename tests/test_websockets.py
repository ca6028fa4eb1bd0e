"""The WebSocket endpoints against live servers (gunicorn + gevent), with real clients."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from flask import Flask
from flask_jwt_extended import create_access_token
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from werkzeug.serving import make_server

from dxconnect import create_app
from dxconnect.events.bus import get_bus
from dxconnect.events.envelope import make_event
from dxconnect.extensions import db
from dxconnect.models import Agent
from tests.conftest import PASSWORD, LiveServer, bearer, free_port, obtain_tokens

WAIT = 5.0
PING = json.dumps({"type": "ping"})
STREAM = "/ws/whatsapp/"
ECHO = "/ws/echo/"


def open_socket(
    base: str, path: str = STREAM, max_queue: int | None = 16, **params: str
) -> ClientConnection:
    """A client WebSocket to ``path`` of the server at ``base`` (``http://...``).

    ``max_queue`` frames wait unread in the client before it stops reading the
    socket (``None``: it always reads).
    """
    url = base.replace("http://", "ws://") + path + ("?" + urlencode(params) if params else "")
    return connect(
        url, proxy=None, open_timeout=WAIT, close_timeout=2, max_queue=max_queue, legacy=True
    )


def receive(ws: ClientConnection, wait: float = WAIT) -> dict[str, Any]:
    """The next frame, parsed."""
    return json.loads(ws.recv(timeout=wait))


def ready(ws: ClientConnection) -> ClientConnection:
    """Wait until the server answers a ping: past authentication and subscription."""
    ws.send(PING)
    assert receive(ws) == {"type": "pong"}
    return ws


def event_ids(ws: ClientConnection, count: int) -> list[str]:
    """The ids of the next ``count`` frames (events)."""
    return [receive(ws)["id"] for _ in range(count)]


def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """The server's close code and reason; fails if any frame comes first."""
    with pytest.raises(ConnectionClosed):
        frame = ws.recv(timeout=WAIT)
        pytest.fail(f"expected the socket to close, got {frame!r}")
    return ws.close_code, ws.close_reason


def status_event(status: str = "ready") -> dict[str, Any]:
    """A valid v1 event."""
    return make_event("session_status", {"status": status})


@pytest.fixture
def token(client, make_agent) -> str:
    """An access token of an active agent."""
    make_agent("ana")
    return obtain_tokens(client, "ana")["access"]


@pytest.fixture(scope="module")
def two_workers(start_server: Callable[..., LiveServer]) -> LiveServer:
    """A second server, of two worker processes."""
    return start_server(workers=2)


@pytest.mark.parametrize("path", [ECHO, "/ws/echo"])
def test_echo_answers_ping_with_pong_and_echoes_json_objects(live_server, token, path):
    with open_socket(live_server.url, path, token=token) as ws:
        ws.send(PING)
        assert receive(ws) == {"type": "pong"}
        message = {"type": "hello", "texto": "Olá, atendimento! ção", "n": [1, 2]}
        ws.send(json.dumps(message, ensure_ascii=False))
        assert receive(ws) == {"echo": message}


@pytest.mark.parametrize("path", [STREAM, "/ws/whatsapp"])
def test_stream_answers_ping_with_pong(live_server, token, path):
    with open_socket(live_server.url, path, token=token) as ws:
        ws.send(PING)
        assert receive(ws) == {"type": "pong"}


@pytest.mark.parametrize("path", [ECHO, STREAM])
@pytest.mark.parametrize("payload", ["not json", "[1, 2]", '"text"', b"\x00\x01binary"])
def test_frame_that_is_not_a_json_object_gets_an_error_frame_and_the_socket_stays_open(
    live_server, token, path, payload
):
    with open_socket(live_server.url, path, token=token) as ws:
        ws.send(payload)
        answer = receive(ws)
        assert answer["type"] == "error" and answer["code"] == "INVALID_PAYLOAD"
        assert answer["message"]
        ready(ws)


def test_stream_refuses_other_messages_with_an_error_frame(live_server, token):
    with open_socket(live_server.url, STREAM, token=token) as ws:
        ws.send(json.dumps({"type": "subscribe"}))
        assert receive(ws)["code"] == "INVALID_PAYLOAD"
        ready(ws)


@pytest.mark.parametrize("text", ["x" * (64 * 1024 + 1), "ç" * 40_000], ids=["ascii", "utf-8"])
def test_message_over_64_kib_closes_the_socket_with_1009(live_server, token, text):
    with open_socket(live_server.url, ECHO, token=token) as ws:
        ws.send(json.dumps({"text": text}))
        assert closed_with(ws) == (1009, "Message is too big")


def test_message_of_exactly_64_kib_is_answered(live_server, token):
    message = {"text": "x" * (64 * 1024 - len('{"text": ""}'))}
    with open_socket(live_server.url, ECHO, token=token) as ws:
        ws.send(json.dumps(message))
        assert len(json.dumps(message).encode()) == 64 * 1024
        assert receive(ws) == {"echo": message}


def test_compression_offered_by_the_client_is_not_negotiated(live_server, token):
    with open_socket(live_server.url, STREAM, token=token) as ws:
        assert "permessage-deflate" in ws.request.headers["Sec-WebSocket-Extensions"]
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        ready(ws)


def _expired(app: Flask, agent: Agent) -> str:
    with app.app_context():
        return create_access_token(identity=agent, expires_delta=timedelta(seconds=-1))


def _revoke(client, tokens: dict[str, str]) -> None:
    """Log out: the refresh token and the access token of the request are revoked."""
    response = client.post(
        "/api/v1/auth/logout/",
        json={"refresh": tokens["refresh"]},
        headers=bearer(tokens["access"]),
    )
    assert response.status_code == 204


def _deactivate(app: Flask, agent: Agent) -> None:
    with app.app_context():
        db.session.get(Agent, agent.id).is_active = False
        db.session.commit()


def _revoked(client, agent: Agent) -> str:
    tokens = obtain_tokens(client, agent.username)
    _revoke(client, tokens)
    return tokens["access"]


def _inactive(app: Flask, client, agent: Agent) -> str:
    access = obtain_tokens(client, agent.username)["access"]
    _deactivate(app, agent)
    return access


BAD_TOKENS: dict[str, tuple[Callable[..., dict[str, str]], str]] = {
    "missing": (lambda **_: {}, "Authentication is required"),
    "empty": (lambda **_: {"token": ""}, "Authentication is required"),
    "garbage": (lambda **_: {"token": "not-a-jwt"}, "Token is invalid"),
    "expired": (lambda app, agent, **_: {"token": _expired(app, agent)}, "Token has expired"),
    "refresh token": (
        lambda client, agent, **_: {"token": obtain_tokens(client, agent.username)["refresh"]},
        "A access token is required",
    ),
    "revoked by logout": (
        lambda client, agent, **_: {"token": _revoked(client, agent)},
        "Token has been revoked",
    ),
    "inactive agent": (
        lambda app, client, agent, **_: {"token": _inactive(app, client, agent)},
        "Agent not found or inactive",
    ),
}


@pytest.mark.parametrize("path", [ECHO, STREAM])
@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_socket_without_a_valid_access_token_closes_with_4001(
    app, client, make_agent, live_server, path, case
):
    agent = make_agent("ana")
    make_params, reason = BAD_TOKENS[case]
    with open_socket(
        live_server.url, path, **make_params(app=app, client=client, agent=agent)
    ) as ws:
        assert closed_with(ws) == (4001, reason)


def test_socket_closes_with_4001_when_its_token_expires(start_server, make_agent):
    server = start_server(JWT_ACCESS_TOKEN_SECONDS="2")
    make_agent("ana")
    access = requests.post(
        f"{server.url}/api/v1/auth/token/",
        json={"username": "ana", "password": PASSWORD}, timeout=WAIT,
    ).json()["access"]  # fmt: skip
    issued = time.time()
    with open_socket(server.url, STREAM, token=access) as ws:
        ready(ws)
        assert closed_with(ws) == (4001, "Token has expired")
    assert 1.0 < time.time() - issued < 3.5


@pytest.mark.parametrize("withdrawal", ["logout", "deactivation"])
def test_open_socket_closes_with_4001_within_seconds_when_its_access_is_withdrawn(
    app, client, make_agent, two_workers, withdrawal
):
    ana = make_agent("ana")
    make_agent("bia")
    tokens = obtain_tokens(client, "ana")
    others = obtain_tokens(client, "bia")["access"]
    # The withdrawal happens in this test process; the sockets live in a server's workers.
    with (
        open_socket(two_workers.url, token=tokens["access"]) as ws,
        open_socket(two_workers.url, token=others) as bystander,
    ):
        ready(ws)
        ready(bystander)
        started = time.monotonic()
        if withdrawal == "logout":
            _revoke(client, tokens)
        else:
            _deactivate(app, ana)
        assert closed_with(ws) == (4001, "Access was revoked")
        assert time.monotonic() - started < 3.0  # swept every second
        ready(bystander)  # another agent's socket stays open


def test_plain_http_request_to_a_websocket_route_answers_the_error_envelope(client):
    response = client.get(STREAM)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_PAYLOAD"


def test_events_reach_every_socket_of_every_server_process(app, live_server, two_workers, token):
    sockets = [ready(open_socket(live_server.url, token=token)) for _ in range(3)]
    sockets += [ready(open_socket(two_workers.url, token=token)) for _ in range(8)]
    events = [status_event(s) for s in ("connecting", "qrcode", "authenticated", "ready")]
    bus = get_bus(app)  # this test process: neither of the servers
    for event in events:
        bus.publish(event)
    try:
        for ws in sockets:
            assert [receive(ws) for _ in events] == events
    finally:
        for ws in sockets:
            ws.close()


def _publish_in_background(app: Flask, count: int, published: list[str]) -> threading.Thread:
    def publish() -> None:
        for _ in range(count):
            event = status_event()
            get_bus(app).publish(event)
            published.append(event["id"])
            time.sleep(0.005)

    thread = threading.Thread(target=publish)
    thread.start()
    return thread


def test_reconnecting_with_last_event_id_resumes_without_gap_or_duplicate(
    app, live_server, two_workers, token
):
    published: list[str] = []
    first = ready(open_socket(live_server.url, token=token))
    publisher = _publish_in_background(app, 150, published)
    received = event_ids(first, 40)
    first.close()
    # Reconnect to another server while events keep coming.
    with open_socket(two_workers.url, token=token, last_event_id=received[-1]) as second:
        publisher.join()
        received += event_ids(second, len(published) - len(received))
        assert received == published
        ready(second)  # nothing else was queued before the pong


def test_unknown_last_event_id_gets_an_error_frame_then_live_events(app, live_server, token):
    with open_socket(live_server.url, token=token, last_event_id="f" * 32) as ws:
        error = receive(ws)
        assert error["type"] == "error" and error["code"] == "LAST_EVENT_ID_UNKNOWN"
        ready(ws)
        event = status_event()
        get_bus(app).publish(event)
        assert receive(ws) == event


def test_slow_client_is_disconnected_without_holding_up_the_others(app, start_server, token):
    # The outbox bound is the history size plus 1,000 frames.
    server = start_server(EVENT_HISTORY_SIZE="10")
    # The slow client never reads again: its buffers fill, then its outbox.
    slow = ready(open_socket(server.url, token=token))
    fast = ready(open_socket(server.url, token=token, max_queue=None))
    bus = get_bus(app)
    events = [make_event("qrcode", {"image_b64": f"{n:08d}" + "A" * 8_000}) for n in range(2_000)]
    for event in events:
        bus.publish(event)
    assert event_ids(fast, len(events)) == [e["id"] for e in events]
    got = 0
    with pytest.raises(ConnectionClosed):
        while True:
            slow.recv(timeout=WAIT)
            got += 1
    assert got < len(events)
    fast.close()


def test_sigterm_closes_sockets_with_1001_going_away(start_server, token):
    server = start_server(workers=2)
    sockets = [ready(open_socket(server.url, path, token=token)) for path in (ECHO, STREAM) * 2]
    server.process.terminate()
    for ws in sockets:
        assert closed_with(ws) == (1001, "Server is shutting down")
    assert server.process.wait(timeout=WAIT) == 0


def test_server_without_redis_serves_both_endpoints(start_server, token):
    server = start_server(REDIS_URL="")
    with open_socket(server.url, ECHO, token=token) as ws:
        ws.send(json.dumps({"a": 1}))
        assert receive(ws) == {"echo": {"a": 1}}
    with open_socket(server.url, STREAM, token=token, last_event_id="unknown") as ws:
        assert receive(ws)["code"] == "LAST_EVENT_ID_UNKNOWN"
        ready(ws)


def test_without_redis_a_logout_on_the_server_closes_its_open_socket(start_server, make_agent):
    server = start_server(REDIS_URL="")  # one process: the change is made where the socket is
    make_agent("ana")
    tokens = requests.post(
        f"{server.url}/api/v1/auth/token/",
        json={"username": "ana", "password": PASSWORD}, timeout=WAIT,
    ).json()  # fmt: skip
    with open_socket(server.url, STREAM, token=tokens["access"]) as ws:
        ready(ws)
        logout = requests.post(
            f"{server.url}/api/v1/auth/logout/", json={"refresh": tokens["refresh"]},
            headers=bearer(tokens["access"]), timeout=WAIT,
        )  # fmt: skip
        assert logout.status_code == 204
        assert closed_with(ws) == (4001, "Access was revoked")


@pytest.fixture
def embedded(test_env: dict[str, str]) -> Iterator[tuple[Flask, str]]:
    """The app with the in-process bus, served by werkzeug's threaded server in this process."""
    app = create_app({**test_env, "REDIS_URL": ""})
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{port}"
    server.shutdown()


def test_in_process_bus_streams_and_replays_events_to_sockets(embedded, token):
    app, base = embedded
    bus = get_bus(app)
    with open_socket(base, token=token) as first, open_socket(base, token=token) as second:
        ready(first)
        ready(second)
        events = [status_event(s) for s in ("connecting", "qrcode", "ready")]
        for event in events:
            bus.publish(event)
        for ws in (first, second):
            assert [receive(ws) for _ in events] == events
    missed = status_event("disconnected")
    bus.publish(missed)
    with open_socket(base, token=token, last_event_id=events[-1]["id"]) as ws:
        assert receive(ws) == missed
        ready(ws)
