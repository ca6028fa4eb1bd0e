"""Event sinks: identical events everywhere, signed webhooks with retries, dead letters, isolation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from dxconnect import create_app
from dxconnect.events.bus import get_bus
from dxconnect.events.dispatch import active_sinks, stop_sinks
from dxconnect.events.envelope import make_event
from dxconnect.extensions import db
from dxconnect.models import DeadLetter
from tests.conftest import ROOT, live_access_token
from tests.http_receiver import Receiver

SECRET = "a-webhook-secret-shared-with-the-receiver"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def make_sink_app(app: Flask, test_env: dict[str, str]) -> Iterator[Callable[..., Flask]]:
    """``make_sink_app(EVENT_SINKS="webhook", ...)``: an app with the test sinks installed."""
    apps: list[Flask] = []

    def factory(**overrides: str) -> Flask:
        application = create_app(
            {**test_env, "DXCONNECT_PLUGINS": "tests.sink_plugins", "WEBHOOK_SECRET": SECRET,
             "WEBHOOK_BACKOFF_MS": "50", **overrides}
        )  # fmt: skip
        apps.append(application)
        return application

    yield factory
    for application in apps:
        stop_sinks(application)
        with application.app_context():
            db.engine.dispose()


def _event(text: str = "Olá, atendimento ção") -> dict:
    return make_event("message_received", {"message_id": "in-1", "from": "5511912345678",
                                           "chat_id": "5511912345678@c.us",
                                           "payload": {"type": "text", "text": text}})  # fmt: skip


def _dead_letters(app: Flask, count: int, timeout: float = 10.0) -> list[DeadLetter]:
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context():
            letters = list(db.session.scalars(sa.select(DeadLetter).order_by(DeadLetter.id)))
            db.session.expunge_all()
        if len(letters) >= count or time.monotonic() > deadline:
            assert len(letters) == count, [letter.error for letter in letters]
            return letters
        time.sleep(0.05)


def _signature(secret_key: bytes, headers: dict[str, str], body: bytes) -> str:
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_key, signed, hashlib.sha256).digest()).decode()


def test_every_sink_receives_the_identical_event(make_sink_app, receiver):
    app = make_sink_app(EVENT_SINKS="recording,webhook", WEBHOOK_URL=receiver.url)
    event = _event()
    get_bus(app).publish(event)
    (request,) = receiver.wait_for(1)
    recording = active_sinks(app)["recording"].sink
    assert recording.received.wait(5)
    assert recording.events == [event]
    assert json.loads(request.body) == event


def test_webhook_posts_utf8_json_signed_in_standard_webhooks_style(make_sink_app, receiver):
    app = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url)
    event = _event()
    get_bus(app).publish(event)
    (request,) = receiver.wait_for(1)
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert "ção".encode() in request.body
    assert request.headers["webhook-id"] == event["id"]
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 10
    assert request.headers["webhook-signature"] == _signature(
        SECRET.encode(), request.headers, request.body
    )


def test_whsec_secret_is_base64_decoded_into_the_signing_key(make_sink_app, receiver):
    key = b"\x00\x01binary-key\xff"
    secret = "whsec_" + base64.b64encode(key).decode()
    app = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=secret)
    get_bus(app).publish(_event())
    (request,) = receiver.wait_for(1)
    assert request.headers["webhook-signature"] == _signature(key, request.headers, request.body)


def test_webhook_retries_5xx_with_growing_backoff_then_delivers(make_sink_app, receiver):
    receiver.script = [500, 503]
    app = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url, WEBHOOK_BACKOFF_MS="100")
    event = _event()
    get_bus(app).publish(event)
    requests_seen = receiver.wait_for(3)
    assert {r.headers["webhook-id"] for r in requests_seen} == {event["id"]}
    first_gap = requests_seen[1].at - requests_seen[0].at
    second_gap = requests_seen[2].at - requests_seen[1].at
    assert 0.05 <= first_gap < 1.0 and 0.1 <= second_gap < 2.0, (first_gap, second_gap)
    time.sleep(0.2)
    assert active_sinks(app)["webhook"].stats == {
        "delivered": 1, "retried": 2, "failed": 0, "dropped": 0, "skipped": 0,
    }  # fmt: skip
    assert _dead_letters(app, 0, timeout=0) == []


def test_webhook_retries_after_a_timeout(make_sink_app, receiver):
    receiver.script = [("sleep", 2.5)]
    app = make_sink_app(
        EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url, WEBHOOK_TIMEOUT_SECONDS="1"
    )
    get_bus(app).publish(_event())
    first, second = receiver.wait_for(2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert second.at - first.at >= 1.0


def test_webhook_refused_with_4xx_is_dead_lettered_without_retry(make_sink_app, receiver):
    receiver.script = [400]
    app = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url)
    event = _event()
    get_bus(app).publish(event)
    (letter,) = _dead_letters(app, 1)
    assert (letter.sink, letter.event_id, letter.attempts) == ("webhook", event["id"], 1)
    assert "answered 400" in letter.error and letter.event == event
    assert len(receiver.requests) == 1


def test_unreachable_webhook_never_breaks_the_publisher(make_sink_app):
    from tests.conftest import free_port

    app = make_sink_app(
        EVENT_SINKS="webhook",
        WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/x",
        WEBHOOK_MAX_ATTEMPTS="2",
    )
    get_bus(app).publish(_event())
    (letter,) = _dead_letters(app, 1)
    assert letter.attempts == 2 and "refused" in letter.error.lower()


def test_exhausted_webhook_is_dead_lettered_then_listed_and_replayed(make_sink_app, receiver):
    receiver.default = 500
    app = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url, WEBHOOK_MAX_ATTEMPTS="3")
    event = _event()
    get_bus(app).publish(event)
    receiver.wait_for(3)
    (letter,) = _dead_letters(app, 1)
    assert letter.attempts == 3 and "answered 500" in letter.error
    runner = app.test_cli_runner()
    listed = json.loads(runner.invoke(args=["dead-letters", "list", "--json"]).output)
    assert [(d["id"], d["sink"], d["event_id"], d["attempts"]) for d in listed] == [
        (letter.id, "webhook", event["id"], 3)
    ]
    assert listed[0]["event"] == event

    again = runner.invoke(args=["dead-letters", "replay", str(letter.id)])
    assert again.exit_code == 1 and "failed: WebhookFailed" in again.output
    assert _dead_letters(app, 1)[0].attempts == 4

    receiver.default = 200
    replayed = runner.invoke(args=["dead-letters", "replay", "--all"])
    assert replayed.exit_code == 0, replayed.output
    assert f"{letter.id} webhook {event['id']}: delivered" in replayed.output
    assert receiver.wait_for(5)[-1].headers["webhook-id"] == event["id"]
    assert _dead_letters(app, 0, timeout=0) == []


def test_replay_of_an_unknown_id_is_an_error(make_sink_app):
    app = make_sink_app()
    result = app.test_cli_runner().invoke(args=["dead-letters", "replay", "999"])
    assert result.exit_code == 1 and "no dead letter with id 999" in result.output


def test_stopping_with_retries_pending_keeps_them_as_dead_letters(make_sink_app, receiver):
    receiver.default = 503
    app = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url, WEBHOOK_BACKOFF_MS="60000")
    get_bus(app).publish(_event())
    receiver.wait_for(1)
    time.sleep(0.1)
    stop_sinks(app)
    (letter,) = _dead_letters(app, 1)
    assert letter.attempts == 1 and letter.error.startswith("shut down before retry")


def test_slow_or_failing_sink_never_delays_the_publisher_or_the_others(make_sink_app):
    app = make_sink_app(EVENT_SINKS="slow,failing,recording")
    sinks = active_sinks(app)
    started = time.monotonic()
    get_bus(app).publish(_event())
    assert time.monotonic() - started < 0.2
    assert sinks["recording"].sink.received.wait(1.0)
    assert sinks["slow"].sink.events == []
    (letter,) = _dead_letters(app, 1)
    assert letter.sink == "failing" and "refuses" in letter.error
    assert sinks["failing"].stats["failed"] == 1
    assert sinks["slow"].sink.received.wait(5.0)


def test_each_event_reaches_each_sink_once_across_processes_sharing_redis(make_sink_app, receiver):
    first = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url)
    second = make_sink_app(EVENT_SINKS="webhook", WEBHOOK_URL=receiver.url)
    # The Redis bus hands every event to both processes; the claim lets one deliver it.
    get_bus(first).publish(_event())
    receiver.wait_for(1)
    time.sleep(0.5)
    assert len(receiver.requests) == 1
    stats = [active_sinks(a)["webhook"].stats for a in (first, second)]
    assert sorted((s["delivered"], s["skipped"]) for s in stats) == [(0, 1), (1, 0)]


def test_live_server_logs_and_posts_an_event_published_by_a_plugin_route(
    start_server, make_agent, receiver
):
    server = start_server(
        EVENT_SINKS="log,webhook", WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET,
        DXCONNECT_PLUGINS="tests.route_plugin", PYTHONPATH=str(ROOT),
    )  # fmt: skip
    try:
        make_agent("ops")
        token = live_access_token(server.url, "ops")
        response = requests.post(
            f"{server.url}/api/v1/route-plugin/events",
            headers={"Authorization": f"Bearer {token}"},
            timeout=5,
        )
        assert response.status_code == 202
        (request,) = receiver.wait_for(1)
        event = json.loads(request.body)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with open(server.log.name, encoding="utf-8") as log:
                lines = [json.loads(line) for line in log if '"dxconnect.events.log"' in line]
            if lines:
                break
            time.sleep(0.1)
        assert [line["event"] for line in lines] == [event]
        assert lines[0]["message"] == "event"
    finally:
        server.stop()  # its sinks must not take later tests' events
