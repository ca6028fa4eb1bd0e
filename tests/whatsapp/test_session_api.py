"""Session endpoints: start, status, stop — shared state, permissions and events."""

from __future__ import annotations

import sqlalchemy as sa

from dxconnect.extensions import db
from dxconnect.models import WhatsAppSession
from tests.whatsapp.support import QR_PNG_B64

START = "/api/v1/whatsapp/session/start"
STATUS = "/api/v1/whatsapp/session/status"
SESSION = "/api/v1/whatsapp/session"


def session_events(events):
    return [e["status"] for e in events if e["type"] == "session_status"]


def test_status_of_a_fresh_install_is_disconnected(client, agent_headers, driver):
    response = client.get(STATUS, headers=agent_headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "disconnected"
    assert body["driver"] == "recording"
    assert body["updated_at"].endswith("Z")
    assert "qrcode" not in body


def test_start_answers_202_connecting_stores_it_and_publishes_it(
    app, client, manager_headers, driver, events
):
    response = client.post(START, headers=manager_headers)
    assert response.status_code == 202
    assert response.get_json() == {"status": "connecting"}
    with app.app_context():
        row = db.session.scalar(sa.select(WhatsAppSession))
        assert (row.desired, row.status) == ("running", "connecting")
    assert session_events(events) == ["connecting"]
    assert events[0]["version"] == "v1" and events[0]["id"]


def test_start_while_starting_or_ready_answers_the_current_status(
    client, manager_headers, driver, make_runner, events
):
    client.post(START, headers=manager_headers)
    again = client.post(START, headers=manager_headers)
    assert again.status_code == 202
    assert again.get_json() == {"status": "connecting"}
    make_runner(driver).tick()
    ready = client.post(START, headers=manager_headers)
    assert ready.get_json() == {"status": "ready"}
    assert session_events(events) == ["connecting", "qrcode", "authenticated", "ready"]


def test_status_shows_the_qrcode_only_while_status_is_qrcode(
    client, agent_headers, manager_headers, driver, make_runner
):
    slow = type("SlowScan", (driver,), {"ready_after": 30})
    client.post(START, headers=manager_headers)
    make_runner(slow).tick()
    body = client.get(STATUS, headers=agent_headers).get_json()
    assert body["status"] == "qrcode"
    assert body["qrcode"] == {"image_b64": QR_PNG_B64}
    client.delete(SESSION, headers=manager_headers)
    body = client.get(STATUS, headers=agent_headers).get_json()
    assert body["status"] == "disconnected"
    assert "qrcode" not in body


def test_stop_answers_204_and_reads_disconnected_at_once(
    client, agent_headers, manager_headers, driver, make_runner, events
):
    runner = make_runner(driver)
    client.post(START, headers=manager_headers)
    runner.tick()
    response = client.delete(SESSION, headers=manager_headers)
    assert response.status_code == 204
    assert response.data == b""
    assert client.get(STATUS, headers=agent_headers).get_json()["status"] == "disconnected"
    runner.tick()
    assert runner.driver is None
    # The stopping driver's own "disconnected" repeats the stored status: not published twice.
    assert session_events(events) == [
        "connecting", "qrcode", "authenticated", "ready", "disconnected",
    ]  # fmt: skip


def test_stop_of_a_stopped_session_is_harmless(client, manager_headers, driver, events):
    assert client.delete(SESSION, headers=manager_headers).status_code == 204
    assert client.delete(SESSION, headers=manager_headers).status_code == 204
    assert events == []


def test_start_and_stop_need_the_whatsapp_permission(client, agent_headers, driver):
    for method, path in (("post", START), ("delete", SESSION)):
        response = getattr(client, method)(path, headers=agent_headers)
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "FORBIDDEN"
    assert client.get(STATUS, headers=agent_headers).get_json()["status"] == "disconnected"


def test_session_endpoints_need_a_token(client, driver):
    for method, path in (("post", START), ("get", STATUS), ("delete", SESSION)):
        response = getattr(client, method)(path)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_status_reports_a_failed_session_with_its_reason(
    client, agent_headers, manager_headers, driver, make_runner
):
    class Broken(driver):
        def start_session(self):
            raise ConnectionError("phone unreachable")

    client.post(START, headers=manager_headers)
    make_runner(Broken, backoff=60).tick()
    body = client.get(STATUS, headers=agent_headers).get_json()
    assert body["status"] == "failed"
    assert body["reason"] == "ConnectionError: phone unreachable"
    assert client.post(START, headers=manager_headers).get_json() == {"status": "connecting"}
