"""Listing messages (pagination, filters, order) and development-only inbound injection."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from dxconnect import create_app
from dxconnect.extensions import db
from dxconnect.models import WhatsAppInjection, WhatsAppMessage
from dxconnect.whatsapp import inbox, outbox
from dxconnect.whatsapp.messages import NewMessage, accept_message
from dxconnect.whatsapp.runtime import use_driver_class

MESSAGES = "/api/v1/whatsapp/messages"
INBOUND = "/api/v1/whatsapp/inbound"
START = "/api/v1/whatsapp/session/start"
CUSTOMER = "5511988887777"


@pytest.fixture
def mailbox(app, make_agent):
    """Three sent messages (to two numbers, one delivered) and two received ones, in that order."""
    agent = make_agent("sender")
    with app.app_context():
        sent = [
            accept_message(agent.id, NewMessage(to, "text", {"text": f"m{i}"}), None)
            for i, to in enumerate(["5511111111111", "5522222222222", "5511111111111"])
        ]
        outbox.apply_status(sent[1], "delivered")
        received = [
            inbox.store_inbound(
                {"message_id": f"wamid.{i}", "from": CUSTOMER, "chat_id": f"{CUSTOMER}@c.us",
                 "payload": {"type": "text", "text": f"r{i}"}}
            )
            for i in range(2)
        ]  # fmt: skip
    return sent, received


def ids(response) -> list[str]:
    return [m["message_id"] for m in response.get_json()["results"]]


def test_list_is_newest_first_with_count(client, agent_headers, mailbox):
    sent, received = mailbox
    response = client.get(MESSAGES, headers=agent_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["count"] == 5
    assert (body["next"], body["previous"]) == (None, None)
    assert ids(response) == [*reversed(received), *reversed(sent)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("direction=outbound", lambda s, r: [s[2], s[1], s[0]]),
        ("direction=inbound", lambda s, r: [r[1], r[0]]),
        ("status=delivered", lambda s, r: [s[1]]),
        ("status=received", lambda s, r: [r[1], r[0]]),
        ("to=5511111111111", lambda s, r: [s[2], s[0]]),
        (f"from={CUSTOMER}", lambda s, r: [r[1], r[0]]),
        ("direction=outbound&status=queued&to=5511111111111", lambda s, r: [s[2], s[0]]),
        ("to=5599999999999", lambda s, r: []),
    ],
)
def test_list_filters(client, agent_headers, mailbox, query, expected):
    response = client.get(f"{MESSAGES}?{query}", headers=agent_headers)
    assert response.status_code == 200
    assert ids(response) == expected(*mailbox)


def test_received_messages_read_back_with_sender_chat_and_payload(client, agent_headers, mailbox):
    _, received = mailbox
    body = client.get(f"{MESSAGES}/{received[0]}", headers=agent_headers).get_json()
    assert (body["direction"], body["from"], body["to"], body["chat_id"]) == (
        "inbound", CUSTOMER, None, f"{CUSTOMER}@c.us",
    )  # fmt: skip
    assert body["payload"] == {"type": "text", "text": "r0"}
    assert body["status"] == "received"
    assert list(body["status_times"]) == ["received"]


def test_pages_link_to_each_other_and_past_the_end_is_404(client, agent_headers, mailbox):
    first = client.get(f"{MESSAGES}?page_size=2&direction=outbound", headers=agent_headers)
    body = first.get_json()
    assert (body["count"], len(body["results"]), body["previous"]) == (3, 2, None)
    assert body["next"].startswith("http://localhost/api/v1/whatsapp/messages?")
    assert "direction=outbound" in body["next"] and "page=2" in body["next"]
    second = client.get(body["next"], headers=agent_headers)
    assert second.status_code == 200
    assert second.get_json()["next"] is None
    assert "page=1" in second.get_json()["previous"]
    assert ids(first) + ids(second) == list(reversed(mailbox[0]))
    past = client.get(f"{MESSAGES}?page_size=2&page=3&direction=outbound", headers=agent_headers)
    assert past.status_code == 404
    assert past.get_json()["error"]["code"] == "NOT_FOUND"


def test_an_empty_list_is_an_empty_first_page(client, agent_headers, driver):
    body = client.get(MESSAGES, headers=agent_headers).get_json()
    assert body == {"count": 0, "next": None, "previous": None, "results": []}


def test_page_size_is_clamped_to_100(app, client, agent_headers, make_agent):
    agent = make_agent("bulk")
    with app.app_context():
        for i in range(101):
            db.session.add(
                WhatsAppMessage(
                    message_id=f"{i:032d}", direction="outbound", agent_id=agent.id,
                    recipient="5511111111111", type="text", content={"text": "x"}, status="queued",
                )
            )  # fmt: skip
        db.session.commit()
    body = client.get(f"{MESSAGES}?page_size=500", headers=agent_headers).get_json()
    assert (body["count"], len(body["results"])) == (101, 100)
    rest = client.get(body["next"], headers=agent_headers).get_json()
    assert [m["message_id"] for m in rest["results"]] == [f"{0:032d}"]


@pytest.mark.parametrize(
    "query", ["page=0", "page_size=0", "page=-1", "page=abc", "direction=sideways", "status=lost"]
)
def test_bad_list_arguments_are_400(client, agent_headers, query):
    response = client.get(f"{MESSAGES}?{query}", headers=agent_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_PAYLOAD"


def test_listing_needs_a_token(client):
    assert client.get(MESSAGES).status_code == 401


# -- inbound injection (development only) ------------------------------------------------------


def test_injected_text_is_received_stored_once_and_published(
    app, client, manager_headers, agent_headers, driver, make_runner, events
):
    runner = make_runner(driver)
    client.post(START, headers=manager_headers)
    runner.tick()
    response = client.post(
        INBOUND, headers=manager_headers, json={"from": CUSTOMER, "text": "Oi, tudo bem?"}
    )
    assert response.status_code == 202
    assert response.get_json() == {"status": "accepted"}
    runner.tick()
    [received] = [e for e in events if e["type"] == "message_received"]
    assert received["from"] == CUSTOMER
    assert received["payload"] == {"type": "text", "text": "Oi, tudo bem?"}
    stored = client.get(f"{MESSAGES}/{received['message_id']}", headers=agent_headers).get_json()
    assert stored["payload"] == received["payload"]
    assert stored["chat_id"] == received["chat_id"]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WhatsAppInjection)) == 0


def test_a_duplicate_inbound_report_is_stored_and_published_once(app, events, driver):
    report = {
        "message_id": "wamid.same", "from": CUSTOMER, "chat_id": f"{CUSTOMER}@c.us",
        "payload": {"type": "text", "text": "oi"},
    }  # fmt: skip
    with app.app_context():
        first = inbox.store_inbound(report)
        assert inbox.store_inbound(report) is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WhatsAppMessage)) == 1
    assert [e["message_id"] for e in events] == [first]


def test_inbound_while_the_session_is_not_ready_is_409(app, client, manager_headers, driver):
    response = client.post(INBOUND, headers=manager_headers, json={"from": CUSTOMER, "text": "oi"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "CONFLICT"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WhatsAppInjection)) == 0


def test_inbound_is_404_with_a_driver_that_cannot_inject(app, client, manager_headers, driver):
    no_injection = type("NoInjection", (driver,), {"capabilities": driver.capabilities.__class__()})
    use_driver_class(app, no_injection)
    response = client.post(INBOUND, headers=manager_headers, json={"from": CUSTOMER, "text": "oi"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


def test_inbound_is_404_in_production(test_env, admin, driver):
    production = create_app(
        {**test_env, "DXCONNECT_ENV": "production", "SECRET_KEY": "p" * 40,
         "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "CORS_ALLOWED_ORIGINS": ""}
    )  # fmt: skip
    production.config["TESTING"] = True
    use_driver_class(production, driver)
    client = production.test_client()
    token = client.post(
        "/api/v1/auth/token/", json={"username": "admin", "password": "correct-horse-battery"}
    ).get_json()["access"]
    response = client.post(
        INBOUND, headers={"Authorization": f"Bearer {token}"}, json={"from": CUSTOMER, "text": "oi"}
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "body",
    [
        {"text": "oi"},
        {"from": "12", "text": "oi"},
        {"from": CUSTOMER},
        {"from": CUSTOMER, "text": ""},
    ],
)
def test_bad_inbound_bodies_are_400(client, manager_headers, driver, body):
    response = client.post(INBOUND, headers=manager_headers, json=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "INVALID_PAYLOAD"


def test_inbound_needs_the_whatsapp_permission(client, agent_headers, driver):
    response = client.post(INBOUND, headers=agent_headers, json={"from": CUSTOMER, "text": "oi"})
    assert response.status_code == 403
