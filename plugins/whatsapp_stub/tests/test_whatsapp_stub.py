"""The stub driver: installed as a plugin, conformant, and simulating what the frontend needs."""

from __future__ import annotations

import base64
import itertools
import time
from datetime import datetime

import png
from dxconnect_whatsapp_stub import (
    DEFAULT_STEP_MS,
    FAILING_RECIPIENT,
    StubDriver,
    step_seconds_from_environment,
)

from dxconnect.testing import FailingSendConformance, RecordingContext, assert_driver_installed
from dxconnect.whatsapp.driver import MESSAGE_TYPES, OutboundMessage


def test_plugin_is_installed(tmp_path):
    entry = assert_driver_installed(StubDriver, "dxconnect-whatsapp-stub", tmp_path)
    assert entry["name"] == "whatsapp_stub" and entry["hooks"] == ["dxconnect_whatsapp_drivers"]


class TestStubConformance(FailingSendConformance):
    driver_class = StubDriver
    failing_recipient = FAILING_RECIPIENT

    def make_driver(self, context):
        return StubDriver(context, step_seconds=0.01)


def _started(step_seconds: float | None) -> tuple[StubDriver, RecordingContext]:
    context = RecordingContext()
    driver = StubDriver(context, step_seconds=step_seconds)
    driver.start_session()
    context.wait_for(lambda: driver.status() == "ready", "ready")
    return driver, context


def test_session_walks_connecting_qrcode_authenticated_ready_a_step_apart():
    driver, context = _started(0.1)
    assert context.session_statuses() == ["connecting", "qrcode", "authenticated", "ready"]
    times = [datetime.fromisoformat(e["ts"]) for e in context.of_type("session_status")]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert all(0.08 <= gap < 1.0 for gap in gaps), gaps
    driver.stop_session()


def test_qrcode_event_carries_a_real_png_qr_image():
    driver, context = _started(0)
    (event,) = context.of_type("qrcode")
    width, height, rows, _ = png.Reader(bytes=base64.b64decode(event["image_b64"])).read()
    pixels = [value for row in rows for value in row]
    assert width == height and width >= 21 * 10  # a QR code is at least 21 modules wide
    assert 0 in pixels and max(pixels) > 0  # black modules on white
    driver.stop_session()


def test_fast_mode_and_step_delay_come_from_the_environment():
    assert step_seconds_from_environment({}) == DEFAULT_STEP_MS / 1000 == 0.1
    assert step_seconds_from_environment({"WHATSAPP_STUB_STEP_MS": "250"}) == 0.25
    assert (
        step_seconds_from_environment({"WHATSAPP_STUB_FAST": "1", "WHATSAPP_STUB_STEP_MS": "250"})
        == 0
    )


def test_fast_environment_makes_the_whole_session_immediate(monkeypatch):
    monkeypatch.setenv("WHATSAPP_STUB_FAST", "1")
    started = time.monotonic()
    driver, context = _started(step_seconds=None)
    # Not a speed test: without fast mode the three steps to "ready" wait 100 ms each (0.3 s).
    assert time.monotonic() - started < 0.25
    assert context.session_statuses()[-1] == "ready"
    driver.stop_session()


def test_every_message_type_walks_sent_delivered_read():
    driver, context = _started(0)
    for message_type in MESSAGE_TYPES:
        driver.send_message(OutboundMessage(f"m-{message_type}", "5511987654321", message_type, {}))
    for message_type in MESSAGE_TYPES:
        message_id = f"m-{message_type}"
        context.wait_for(
            lambda m=message_id: context.message_statuses(m)[-1:] == ["read"], message_id
        )
        assert context.message_statuses(message_id) == ["sent", "delivered", "read"]
    driver.stop_session()


def test_send_to_the_reserved_number_fails_with_an_error():
    driver, context = _started(0)
    driver.send_message(OutboundMessage("m-1", FAILING_RECIPIENT, "text", {"text": "oi"}))
    context.wait_for(lambda: context.message_statuses("m-1") == ["failed"], "failed")
    (failure,) = context.of_type("message_status")
    assert FAILING_RECIPIENT in failure["error"]
    driver.stop_session()


def test_send_before_ready_fails_instead_of_pretending():
    context = RecordingContext()
    driver = StubDriver(context, step_seconds=0)
    driver.send_message(OutboundMessage("m-1", "5511987654321", "text", {"text": "oi"}))
    context.wait_for(lambda: context.message_statuses("m-1") == ["failed"], "failed")
    assert context.of_type("message_status")[0]["error"] == "session is not ready"


def test_injected_inbound_message_is_reported_in_the_sender_chat():
    driver, context = _started(0)
    driver.inject_inbound(
        "5511912345678", {"type": "image", "media_url": "https://x.example/a.png"}
    )
    (received,) = context.of_type("message_received")
    assert received["from"] == "5511912345678" and received["chat_id"] == "5511912345678@c.us"
    assert received["payload"] == {"type": "image", "media_url": "https://x.example/a.png"}
    assert received["message_id"].startswith("stub-")
    driver.stop_session()
