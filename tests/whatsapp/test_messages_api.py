"""Message endpoints: validation, the outbox row, idempotency, reading and listing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dxconnect.events.bus import EXTENSION as BUS_EXTENSION
from dxconnect.events.bus import InProcessBus
from dxconnect.extensions import db
from dxconnect.models import WhatsAppMessage
from dxconnect.whatsapp import messages
from tests.conftest import bearer
from tests.whatsapp.conftest import access_token

MESSAGES = "/api/v1/whatsapp/messages"
TO = "5511999999999"
TEXT = {"to": TO, "type": "text", "text": "Olá! Seu pedido saiu para entrega."}


def stored_messages(app) -> list[WhatsAppMessage]:
    with app.app_context():
        rows = db.session.scalars(sa.select(WhatsAppMessage).order_by(WhatsAppMessage.id)).all()
        db.session.expunge_all()
        return list(rows)


def test_send_stores_a_queued_outbox_row_and_publishes_queued(
    app, client, manager_headers, driver, events
):
    response = client.post(MESSAGES, headers=manager_headers, json=TEXT)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued"
    [row] = stored_messages(app)
    assert (row.message_id, row.status, row.direction) == (body["message_id"], "queued", "outbound")
    assert (row.recipient, row.type, row.content) == (TO, "text", {"text": TEXT["text"]})
    assert row.queued_at is not None and row.claimed_at is None
    assert [(e["type"], e["message_id"], e["status"]) for e in events] == [
        ("message_status", body["message_id"], "queued")
    ]


@pytest.mark.parametrize(
    "extra",
    [
        {"media_url": "https://example.com/foto.jpg"},
        {"image_url": "https://example.com/foto.jpg"},
        {"media_url": "https://example.com/foto.jpg", "image_url": "https://example.com/foto.jpg"},
    ],
)
def test_image_accepts_media_url_or_image_url(app, client, manager_headers, driver, extra):
    body = {"to": TO, "type": "image", "caption": "Cardápio", "filename": "foto.jpg", **extra}
    assert client.post(MESSAGES, headers=manager_headers, json=body).status_code == 202
    [row] = stored_messages(app)
    assert row.content == {
        "media_url": "https://example.com/foto.jpg", "caption": "Cardápio", "filename": "foto.jpg",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "text", "text": "oi"}, "to"),
        ({"to": "1234567", "type": "text", "text": "oi"}, "to"),
        ({"to": "1234567890123456", "type": "text", "text": "oi"}, "to"),
        ({"to": "+5511999999999", "type": "text", "text": "oi"}, "to"),
        ({"to": 5511999999999, "type": "text", "text": "oi"}, "to"),
        ({"to": TO, "text": "oi"}, "type"),
        ({"to": TO, "type": "sticker", "text": "oi"}, "type"),
        ({"to": TO, "type": "text"}, "text"),
        ({"to": TO, "type": "text", "text": ""}, "text"),
        ({"to": TO, "type": "text", "text": "oi", "media_url": "https://e.com/a.png"}, "media_url"),
        ({"to": TO, "type": "text", "text": "oi", "caption": "x"}, "caption"),
        ({"to": TO, "type": "image"}, "media_url"),
        ({"to": TO, "type": "image", "media_url": "ftp://example.com/a.png"}, "media_url"),
        ({"to": TO, "type": "image", "media_url": "not a url"}, "media_url"),
        ({"to": TO, "type": "image", "video_url": "https://e.com/a.mp4"}, "video_url"),
        ({"to": TO, "type": "image", "text": "oi", "media_url": "https://e.com/a.png"}, "text"),
        (
            {"to": TO, "type": "image", "media_url": "https://e.com/a.png",
             "image_url": "https://e.com/b.png"},
            "media_url",
        ),
        ({**TEXT, "client_message_id": ""}, "client_message_id"),
        ({**TEXT, "priority": "high"}, "priority"),
    ],
)  # fmt: skip
def test_invalid_messages_are_400_naming_the_field_and_store_nothing(
    app, client, manager_headers, driver, events, body, field
):
    response = client.post(MESSAGES, headers=manager_headers, json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert field in error["details"]
    assert stored_messages(app) == []
    assert events == []


def test_type_the_driver_does_not_support_is_400_naming_the_supported_types(
    app, client, manager_headers, driver
):
    body = {"to": TO, "type": "video", "video_url": "https://example.com/v.mp4"}
    response = client.post(MESSAGES, headers=manager_headers, json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert "supported types: image, text" in error["message"]
    assert "recording" in error["details"]["type"][0]
    assert stored_messages(app) == []


def test_malformed_json_is_400_and_wrong_media_type_is_415(app, client, manager_headers, driver):
    bad_json = client.post(
        MESSAGES, headers=manager_headers, data="{", content_type="application/json"
    )
    assert bad_json.status_code == 400
    assert bad_json.get_json()["error"]["code"] == "INVALID_PAYLOAD"
    form = client.post(MESSAGES, headers=manager_headers, data="to=1", content_type="text/plain")
    assert form.status_code == 415
    assert stored_messages(app) == []


def test_sending_needs_the_whatsapp_permission(app, client, agent_headers, driver):
    response = client.post(MESSAGES, headers=agent_headers, json=TEXT)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"
    assert stored_messages(app) == []


@pytest.mark.parametrize("where", ["body", "header"])
def test_a_retried_send_with_the_same_key_returns_the_same_message(
    app, client, manager_headers, driver, events, where
):
    if where == "body":
        headers, body = manager_headers, {**TEXT, "client_message_id": "pedido-42"}
    else:
        headers, body = {**manager_headers, "Idempotency-Key": "pedido-42"}, TEXT
    first, second = (client.post(MESSAGES, headers=headers, json=body) for _ in range(2))
    assert first.status_code == second.status_code == 202
    assert first.get_json() == second.get_json()
    [row] = stored_messages(app)
    assert row.client_message_id == "pedido-42"
    assert [e["status"] for e in events] == ["queued"]


def test_body_key_and_header_key_are_the_same_key(app, client, manager_headers, driver):
    by_body = client.post(
        MESSAGES, headers=manager_headers, json={**TEXT, "client_message_id": "k"}
    )
    by_header = client.post(
        MESSAGES, headers={**manager_headers, "Idempotency-Key": "k"}, json=TEXT
    )
    assert by_body.get_json() == by_header.get_json()
    assert len(stored_messages(app)) == 1


def test_differing_body_key_and_header_key_are_400(app, client, manager_headers, driver):
    response = client.post(
        MESSAGES,
        headers={**manager_headers, "Idempotency-Key": "a"},
        json={**TEXT, "client_message_id": "b"},
    )
    assert response.status_code == 400
    assert "client_message_id" in response.get_json()["error"]["details"]
    assert stored_messages(app) == []


def test_a_key_reused_for_a_different_message_is_409(app, client, manager_headers, driver):
    client.post(MESSAGES, headers=manager_headers, json={**TEXT, "client_message_id": "k"})
    other = {**TEXT, "text": "Outra mensagem", "client_message_id": "k"}
    response = client.post(MESSAGES, headers=manager_headers, json=other)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "CONFLICT"
    assert len(stored_messages(app)) == 1


def test_keys_are_per_agent(app, client, manager_headers, make_agent, driver):
    other = make_agent("other-manager", permissions=["core.manage_config_whatsapp"])
    other_headers = bearer(access_token(app, other))
    body = {**TEXT, "client_message_id": "k"}
    mine = client.post(MESSAGES, headers=manager_headers, json=body).get_json()
    theirs = client.post(MESSAGES, headers=other_headers, json=body).get_json()
    assert mine["message_id"] != theirs["message_id"]
    assert len(stored_messages(app)) == 2


def test_a_message_reads_back_with_its_status_times(client, manager_headers, agent_headers, driver):
    message_id = client.post(MESSAGES, headers=manager_headers, json=TEXT).get_json()["message_id"]
    response = client.get(f"{MESSAGES}/{message_id}", headers=agent_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["message_id"] == message_id
    assert (body["direction"], body["to"], body["from"], body["status"]) == (
        "outbound", TO, None, "queued",
    )  # fmt: skip
    assert body["payload"] == {"type": "text", "text": TEXT["text"]}
    assert list(body["status_times"]) == ["queued"]
    assert body["status_times"]["queued"].endswith("Z")


def test_an_unknown_message_is_404(client, agent_headers, driver):
    response = client.get(f"{MESSAGES}/does-not-exist", headers=agent_headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


def test_control_characters_in_keys_and_filters_are_400_not_a_server_error(
    app, client, manager_headers, driver
):
    body = {**TEXT, "client_message_id": "k\x00"}
    assert client.post(MESSAGES, headers=manager_headers, json=body).status_code == 400
    for query in ("to=%00", "from=a%00b"):
        response = client.get(f"{MESSAGES}?{query}", headers=manager_headers)
        assert response.status_code == 400
    assert client.get(f"{MESSAGES}/a%00b", headers=manager_headers).status_code == 404
    assert stored_messages(app) == []


def test_text_round_trips_byte_for_byte(client, manager_headers, driver):
    text = "Olá, João! Ação às 10h — café ☕ fim"
    message_id = client.post(
        MESSAGES, headers=manager_headers, json={**TEXT, "text": text}
    ).get_json()["message_id"]
    stored = client.get(f"{MESSAGES}/{message_id}", headers=manager_headers).get_json()
    assert stored["payload"]["text"] == text


def test_text_with_a_nul_character_is_refused_and_nothing_is_stored(
    client, manager_headers, driver
):
    response = client.post(
        MESSAGES, headers=manager_headers, json={**TEXT, "text": "antes \x00 depois"}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_PAYLOAD"
    assert "text" in response.get_json()["error"]["details"]
    assert client.get(MESSAGES, headers=manager_headers).get_json()["count"] == 0


def test_a_duplicate_that_loses_the_insert_race_answers_the_winners_message(
    app, client, manager_headers, driver, events, monkeypatch
):
    body = {**TEXT, "client_message_id": "corrida"}
    winner = client.post(MESSAGES, headers=manager_headers, json=body).get_json()
    looked_up = messages._by_client_key
    lookups = []

    def not_committed_yet(agent_id, key):
        """The first look-up happens before the other request committed: it finds nothing."""
        lookups.append(key)
        return None if len(lookups) == 1 else looked_up(agent_id, key)

    monkeypatch.setattr(messages, "_by_client_key", not_committed_yet)
    loser = client.post(MESSAGES, headers=manager_headers, json=body)
    assert (loser.status_code, loser.get_json()) == (202, winner)
    assert len(lookups) == 2  # the insert failed on the unique key, then the winner was read
    assert len(stored_messages(app)) == 1
    assert [e["status"] for e in events] == ["queued"]


def test_a_stored_message_is_202_even_when_the_bus_refuses_its_event(
    app, client, manager_headers, driver, monkeypatch
):
    class UnreachableBus(InProcessBus):
        def publish(self, event):
            raise ConnectionError("event store unreachable")

    monkeypatch.setitem(app.extensions, BUS_EXTENSION, UnreachableBus())
    response = client.post(MESSAGES, headers=manager_headers, json=TEXT)
    assert response.status_code == 202
    [row] = stored_messages(app)
    assert (row.message_id, row.status) == (response.get_json()["message_id"], "queued")
