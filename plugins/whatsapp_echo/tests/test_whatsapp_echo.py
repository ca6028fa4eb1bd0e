"""The echo driver: installed as a plugin, conformant, and echoing every message back."""

from __future__ import annotations

from dxconnect_whatsapp_echo import EchoDriver

from dxconnect.testing import DriverConformance, RecordingContext, assert_driver_installed
from dxconnect.whatsapp.driver import OutboundMessage


def test_plugin_is_installed(tmp_path):
    entry = assert_driver_installed(EchoDriver, "dxconnect-whatsapp-echo", tmp_path)
    assert entry["name"] == "whatsapp_echo" and entry["hooks"] == ["dxconnect_whatsapp_drivers"]


class TestEchoConformance(DriverConformance):
    driver_class = EchoDriver


def _ready() -> tuple[EchoDriver, RecordingContext]:
    context = RecordingContext()
    driver = EchoDriver(context)
    driver.start_session()
    return driver, context


def test_session_is_ready_right_after_start():
    driver, context = _ready()
    assert driver.status() == "ready"
    assert context.session_statuses() == ["ready"]
    assert context.of_type("qrcode") == []


def test_text_comes_back_from_the_recipient_after_delivered():
    driver, context = _ready()
    driver.send_message(OutboundMessage("m-1", "5511987654321", "text", {"text": "Olá, ação!"}))
    context.wait_for(lambda: context.message_statuses("m-1")[-1:] == ["read"], "read")
    kinds = [(e["type"], e.get("status")) for e in context.events[1:]]
    assert kinds == [("message_status", "sent"), ("message_status", "delivered"),
                     ("message_received", None), ("message_status", "read")]  # fmt: skip
    (echo,) = context.of_type("message_received")
    assert echo["from"] == "5511987654321" and echo["chat_id"] == "5511987654321@c.us"
    assert echo["payload"] == {"type": "text", "text": "Olá, ação!"}
    assert echo["message_id"] != "m-1"


def test_media_comes_back_with_its_fields():
    driver, context = _ready()
    content = {"media_url": "https://x.example/doc.pdf", "filename": "doc.pdf", "caption": "ok"}
    driver.send_message(OutboundMessage("m-2", "5511987654321", "document", content))
    context.wait_for(lambda: context.of_type("message_received"), "the echo")
    assert context.of_type("message_received")[0]["payload"] == {"type": "document", **content}
