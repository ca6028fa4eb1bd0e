"""End to end with the shipped drivers (``stub``, ``echo``) on a real server process."""

from __future__ import annotations

import base64
from typing import Any

from tests.whatsapp.conftest import TO, LiveApi, wait_for

PRODUCTION_APP = "wsgi:app"
RESERVED = "5500000000000"


def stub(servers, **env: str) -> LiveApi:
    return servers(wsgi=PRODUCTION_APP, WHATSAPP_DRIVER="stub", **env)


def ready(api: LiveApi) -> LiveApi:
    assert api.request("POST", "/session/start").status_code == 202
    wait_for(lambda: api.status() == "ready")
    return api


def final(api: LiveApi, message_id: str, status: str) -> dict[str, Any]:
    return wait_for(lambda: (m := api.message(message_id))["status"] == status and m)


def test_stub_session_walks_to_ready_showing_a_png_qrcode(servers):
    api = stub(servers, WHATSAPP_STUB_STEP_MS="300")
    assert api.request("POST", "/session/start").json() == {"status": "connecting"}
    seen: list[str] = []
    qrcodes: list[str] = []

    def observe() -> bool:
        body = api.request("GET", "/session/status").json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if "qrcode" in body:
            qrcodes.append(body["qrcode"]["image_b64"])
        return body["status"] == "ready"

    wait_for(observe, interval=0.03)
    assert seen == ["connecting", "qrcode", "authenticated", "ready"]
    assert qrcodes and base64.b64decode(qrcodes[0]).startswith(b"\x89PNG\r\n\x1a\n")
    assert api.request("GET", "/session/status").json()["driver"] == "stub"


def test_stub_messages_walk_to_read_and_the_reserved_number_fails(servers):
    api = ready(stub(servers, WHATSAPP_STUB_FAST="1"))
    text = final(api, api.send("Olá, João!"), "read")
    assert list(text["status_times"]) == ["queued", "sent", "delivered", "read"]
    assert sorted(text["status_times"].values()) == list(text["status_times"].values())
    image = api.request(
        "POST", "/messages",
        json={"to": TO, "type": "document", "document_url": "https://example.com/nota.pdf",
              "filename": "nota.pdf"},
    ).json()  # fmt: skip
    assert final(api, image["message_id"], "read")["payload"] == {
        "type": "document", "media_url": "https://example.com/nota.pdf", "filename": "nota.pdf",
    }  # fmt: skip
    refused = api.request("POST", "/messages", json={"to": RESERVED, "type": "text", "text": "x"})
    failed = final(api, refused.json()["message_id"], "failed")
    assert "reserved to fail" in failed["error"]


def test_stub_injected_inbound_text_is_stored_as_received(servers):
    api = ready(stub(servers, WHATSAPP_STUB_FAST="1"))
    response = api.request("POST", "/inbound", json={"from": "5511988887777", "text": "Oi!"})
    assert response.status_code == 202
    listed = wait_for(
        lambda: api.request("GET", "/messages", params={"direction": "inbound"}).json()["results"]
    )
    [received] = listed
    assert (received["from"], received["status"]) == ("5511988887777", "received")
    assert received["payload"] == {"type": "text", "text": "Oi!"}


def test_echo_driver_text_comes_back_as_a_received_message(servers):
    api = ready(servers(wsgi=PRODUCTION_APP, WHATSAPP_DRIVER="echo"))
    sent = final(api, api.send("eco?"), "read")
    received = wait_for(
        lambda: api.request("GET", "/messages", params={"from": TO}).json()["results"]
    )
    assert received[0]["payload"] == sent["payload"] == {"type": "text", "text": "eco?"}
    assert received[0]["direction"] == "inbound"
    inbound = api.request("POST", "/inbound", json={"from": "5511988887777", "text": "oi"})
    assert inbound.status_code == 404
