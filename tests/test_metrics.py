"""``GET /metrics``: what it counts (in this process and across gunicorn workers) and who may read it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from dxconnect.app import create_app
from dxconnect.events.bus import get_bus
from dxconnect.events.dead_letters import recorder
from dxconnect.events.envelope import make_event
from dxconnect.events.worker import SinkWorker
from dxconnect.whatsapp import outbox, session
from tests.conftest import LiveServer, obtain_tokens
from tests.metrics_support import sample
from tests.sink_plugins import FailingSink
from tests.test_settings import FERNET_KEY, STRONG
from tests.test_websockets import ECHO, open_socket, ready

TOKEN = "a-metrics-token-for-the-scraper"
REQUESTS = "dxconnect_http_requests_total"


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    return response.get_data(as_text=True)


def test_requests_are_counted_by_url_rule_method_and_status(client, admin, admin_headers):
    agent_rule = {"method": "GET", "route": "/api/v1/agents/<int(max=2147483647):agent_id>/"}
    before = scrape(client)
    for agent_id in (admin.id, admin.id, 999_999):
        client.get(f"/api/v1/agents/{agent_id}/", headers=admin_headers)
    client.get("/no/such/path/42")
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta(REQUESTS, **agent_rule, status="200") == 2
    assert delta(REQUESTS, **agent_rule, status="404") == 1
    assert delta(REQUESTS, method="GET", route="<unmatched>", status="404") == 1
    assert delta("dxconnect_http_request_duration_seconds_count", **agent_rule) == 3
    assert delta("dxconnect_http_request_duration_seconds_sum", **agent_rule) > 0
    assert "/api/v1/agents/999999" not in after


def test_events_are_counted_once_per_publish_by_type(app: Flask, client):
    before = sample(scrape(client), "dxconnect_events_published_total", type="qrcode")
    with app.app_context():
        for _ in range(2):
            get_bus().publish(make_event("qrcode", {"image_b64": "aGk="}))
    after = sample(scrape(client), "dxconnect_events_published_total", type="qrcode")
    assert after - before == 2


def test_messages_by_status_and_the_session_status_come_from_the_database(
    app: Flask, client, admin_headers
):
    body = {"to": "5511999999999", "type": "text", "text": "Olá"}
    ids = [
        client.post("/api/v1/whatsapp/messages", json=body, headers=admin_headers).get_json()[
            "message_id"
        ]
        for _ in range(3)
    ]
    assert client.post("/api/v1/whatsapp/session/start", headers=admin_headers).status_code == 202
    with app.app_context():
        assert outbox.apply_status(ids[0], "sent")
        assert session.apply_driver_status("qrcode")
    text = scrape(client)
    assert sample(text, "dxconnect_whatsapp_messages", status="queued") == 2
    assert sample(text, "dxconnect_whatsapp_messages", status="sent") == 1
    statuses = {
        status: sample(text, "dxconnect_whatsapp_session_status", status=status)
        for status in ("disconnected", "connecting", "qrcode", "ready", "failed")
    }
    assert statuses == {
        "disconnected": 0, "connecting": 0, "qrcode": 1, "ready": 0, "failed": 0,
    }  # fmt: skip


def test_sink_failures_and_stored_dead_letters_are_exposed_per_sink(app: Flask, client):
    labels = {"sink": FailingSink.name, "outcome": "failed"}
    before = sample(scrape(client), "dxconnect_sink_events_total", **labels)
    worker = SinkWorker(FailingSink(app.config["DXCONNECT_SETTINGS"]), dead_letter=recorder(app))
    worker.submit(make_event("qrcode", {"image_b64": "aGk="}))
    worker.close()
    text = scrape(client)
    assert sample(text, "dxconnect_sink_events_total", **labels) - before == 1
    assert sample(text, "dxconnect_sink_dead_letters", sink=FailingSink.name) == 1


@pytest.fixture
def guarded(test_env: dict[str, str]) -> Callable[..., FlaskClient]:
    def make(**env: str) -> FlaskClient:
        return create_app({**test_env, **env}).test_client()

    return make


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_with_a_metrics_token_other_credentials_are_refused_with_401(guarded, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = guarded(METRICS_TOKEN=TOKEN).get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


def test_with_a_metrics_token_the_bearer_reads_the_metrics(guarded):
    response = guarded(METRICS_TOKEN=TOKEN).get(
        "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200 and REQUESTS in response.get_data(as_text=True)


PRODUCTION = {
    "DXCONNECT_ENV": "production", "SECRET_KEY": STRONG, "FIELD_ENCRYPTION_KEYS": FERNET_KEY,
}  # fmt: skip


def test_production_without_a_metrics_token_has_no_metrics(guarded):
    response = guarded(**PRODUCTION).get("/metrics")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "NOT_FOUND"


def test_production_with_a_metrics_token_serves_the_bearer(guarded):
    client = guarded(**PRODUCTION, METRICS_TOKEN=TOKEN)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_metrics_route_is_not_in_the_openapi_schema(client):
    assert "/metrics" not in client.get("/api/schema/").get_json()["paths"]


@pytest.fixture(scope="module")
def two_workers(start_server: Callable[..., LiveServer]) -> LiveServer:
    return start_server(workers=2)


def live_scrape(server: LiveServer) -> str:
    # A new connection each time: gunicorn hands it to either worker.
    response = requests.get(f"{server.url}/metrics", headers={"Connection": "close"}, timeout=5)
    assert response.status_code == 200
    return response.text


def test_every_worker_scrape_shows_the_requests_of_all_workers(two_workers):
    health = {"method": "GET", "route": "/api/v1/health/", "status": "200"}
    before = sample(live_scrape(two_workers), REQUESTS, **health)
    for _ in range(30):
        requests.get(
            f"{two_workers.url}/api/v1/health/", headers={"Connection": "close"}, timeout=5
        )
    totals = {sample(live_scrape(two_workers), REQUESTS, **health) for _ in range(6)}
    assert totals == {before + 30}


def test_open_websockets_are_summed_over_workers_and_drop_when_closed(
    two_workers, client, make_agent
):
    make_agent("ana")
    token = obtain_tokens(client, "ana")["access"]
    sockets = [ready(open_socket(two_workers.url, ECHO, token=token)) for _ in range(4)]
    opened = {sample(live_scrape(two_workers), "dxconnect_websockets_open") for _ in range(4)}
    for ws in sockets:
        ws.close()
    assert opened == {4}
    assert _eventually_zero(two_workers)


def _eventually_zero(server: LiveServer) -> bool:
    for _ in range(50):
        if sample(live_scrape(server), "dxconnect_websockets_open") == 0:
            return True
        requests.get(f"{server.url}/api/v1/health/", timeout=5)
    return False
