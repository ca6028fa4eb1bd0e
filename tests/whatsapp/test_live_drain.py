"""SIGTERM on a live server drains: the request in flight completes, WebSockets close with
1001, the process exits 0 within the graceful timeout, and every message accepted before
the signal is sent exactly once, by this server or the next one."""

from __future__ import annotations

import threading
import time

import requests
import sqlalchemy as sa
from flask import Flask

from dxconnect.extensions import db
from dxconnect.models.whatsapp import WhatsAppMessage
from tests.test_websockets import ECHO, closed_with, open_socket, ready
from tests.whatsapp.conftest import LiveApi, wait_for
from tests.whatsapp.support import recorded_sends

GRACEFUL_SECONDS = 10
SLOW_SECONDS = 2.0
MESSAGES = 15


def _running(api: LiveApi) -> LiveApi:
    assert api.request("POST", "/session/start").status_code == 202
    wait_for(lambda: api.status() == "ready")
    return api


def _stored(app: Flask) -> dict[str, tuple[str, bool]]:
    """message id -> (status, claimed) of every stored message."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(
                WhatsAppMessage.message_id,
                WhatsAppMessage.status,
                WhatsAppMessage.claimed_at.is_not(None),
            )
        ).all()
        db.session.remove()
    return {message_id: (status, claimed) for message_id, status, claimed in rows}


def test_sigterm_drains_requests_sockets_and_the_outbox(app, servers, record_file, live_token):
    first = _running(
        servers(
            DXCONNECT_PLUGINS="tests.ops_plugin",
            RECORDING_DRIVER_SEND_DELAY="0.3",
            GUNICORN_GRACEFUL_TIMEOUT=str(GRACEFUL_SECONDS),
        )
    )
    ids = [first.send(f"mensagem {n}") for n in range(MESSAGES)]
    ws = ready(open_socket(first.server.url, ECHO, token=live_token))
    slow: dict[str, requests.Response] = {}
    in_flight = threading.Thread(
        target=lambda: slow.update(
            response=requests.get(
                f"{first.server.url}/ops-plugin/slow", params={"seconds": SLOW_SECONDS}, timeout=30
            )
        )
    )
    in_flight.start()
    time.sleep(0.5)

    signalled = time.monotonic()
    first.server.process.terminate()
    assert closed_with(ws)[0] == 1001
    assert first.server.process.wait(timeout=GRACEFUL_SECONDS) == 0
    assert time.monotonic() - signalled >= SLOW_SECONDS - 0.5  # it waited for the request
    in_flight.join()
    assert slow["response"].status_code == 200
    assert slow["response"].json() == {"slept": SLOW_SECONDS}

    handed_back = _stored(app)
    sent_before = recorded_sends(record_file)
    assert 0 < len(sent_before) < MESSAGES  # the test stopped the server mid-outbox
    assert {handed_back[i] for i in ids if i not in sent_before} == {("queued", False)}

    second = servers()
    wait_for(
        lambda: all(second.message(i)["status"] in ("sent", "delivered", "read") for i in ids),
        timeout=20,
    )
    assert sorted(recorded_sends(record_file)) == sorted(ids)
