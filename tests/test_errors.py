"""The error envelope on every non-2xx answer, request ids, slashes, body rules and CORS."""

from __future__ import annotations

import logging

import pytest

from dxconnect import create_app
from tests.conftest import bearer, obtain_tokens

ENVELOPE_KEYS = {"code", "message", "details", "request_id", "timestamp"}


def assert_envelope(response, status: int, code: str) -> dict:
    """The answer has ``status`` and the contract's envelope with ``code``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert set(error) == ENVELOPE_KEYS
    assert error["code"] == code
    assert error["request_id"] == response.headers["X-Request-Id"]
    assert error["timestamp"].endswith("Z")
    return error


def test_unknown_route_is_404_envelope(client):
    assert_envelope(client.get("/api/v1/does-not-exist"), 404, "NOT_FOUND")


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/api/v1/health/")
    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client):
    response = client.post("/api/v1/auth/token/", data="{nope", content_type="application/json")
    assert_envelope(response, 400, "INVALID_PAYLOAD")


def test_json_that_is_not_an_object_is_400(client):
    response = client.post("/api/v1/auth/token/", json=["a", "b"])
    assert_envelope(response, 400, "INVALID_PAYLOAD")


def test_validation_errors_are_400_with_field_details(client):
    response = client.post("/api/v1/auth/token/", json={"username": 12})
    error = assert_envelope(response, 400, "INVALID_PAYLOAD")
    assert error["details"] == {
        "username": ["Not a valid string."],
        "password": ["Missing data for required field."],
    }


def test_unknown_fields_are_rejected(client):
    body = {"username": "a", "password": "b", "admin": True}
    error = assert_envelope(client.post("/api/v1/auth/token/", json=body), 400, "INVALID_PAYLOAD")
    assert error["details"] == {"admin": ["Unknown field."]}


def test_non_json_body_is_415(client):
    response = client.post("/api/v1/auth/token/", data="username=a", content_type="text/plain")
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_body_over_the_limit_is_413(client):
    huge = '{"username": "' + "a" * (4 * 1024 * 1024) + '", "password": "x"}'
    response = client.post("/api/v1/auth/token/", data=huge, content_type="application/json")
    assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")


def test_unexpected_exception_is_500_without_internals(test_env, caplog):
    app = create_app(test_env)

    @app.get("/boom")
    def boom():
        raise RuntimeError("SELECT secret_column FROM agents -- password=hunter2")

    with caplog.at_level(logging.ERROR, logger="dxconnect"):
        response = app.test_client().get("/boom")
    error = assert_envelope(response, 500, "INTERNAL_ERROR")
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "SELECT" not in text
    assert error["message"] == "An unexpected error occurred"


def test_valid_incoming_request_id_is_reused(client):
    response = client.get("/api/v1/health/", headers={"X-Request-Id": "abc.DEF-123_x"})
    assert response.headers["X-Request-Id"] == "abc.DEF-123_x"


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "semi;colon", "ção"])
def test_invalid_incoming_request_id_is_replaced(client, bad):
    response = client.get("/api/v1/nope", headers={"X-Request-Id": bad})
    fresh = response.headers["X-Request-Id"]
    assert fresh != bad and len(fresh) == 32
    assert response.get_json()["error"]["request_id"] == fresh


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/", "/api/v1/health/ready/"])
def test_paths_work_with_and_without_trailing_slash(client, path):
    assert client.get(path).status_code == 200


def test_post_without_trailing_slash_is_not_redirected(client, make_agent):
    make_agent("ana")
    body = {"username": "ana", "password": "correct-horse-battery"}
    assert client.post("/api/v1/auth/token", json=body).status_code == 200


def test_responses_are_utf8_json(client, make_agent):
    make_agent("joão", display_name="João Ação")
    headers = bearer(obtain_tokens(client, "joão")["access"])
    response = client.get("/api/v1/me/", headers=headers)
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json()["display_name"] == "João Ação"


def test_cors_allows_configured_origin_only(client):
    allowed = client.get("/api/v1/health/", headers={"Origin": "http://localhost:5173"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    other = client.get("/api/v1/health/", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_access_log_line_has_no_secrets(client, make_agent, capfd):
    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    client.get("/api/v1/me/?token=" + tokens["access"], headers=bearer(tokens["access"]))
    captured = capfd.readouterr().err
    assert tokens["access"] not in captured
    assert "correct-horse-battery" not in captured


def test_text_no_database_can_store_is_400_not_a_server_error(client, admin_headers):
    login = client.post("/api/v1/auth/token/", json={"username": "a\x00b", "password": "x"})
    assert login.status_code == 400
    assert login.get_json()["error"]["details"] == {
        "username": ["Must not contain NUL characters or invalid Unicode."]
    }
    nested = client.patch(
        "/api/v1/config/company/", json={"endereco": {"cidade": "S\x00o"}}, headers=admin_headers
    )
    assert nested.status_code == 400
    assert "endereco.cidade" in nested.get_json()["error"]["details"]
    surrogate = client.patch(
        "/api/v1/me/",
        data='{"display_name": "\\ud800"}',
        content_type="application/json",
        headers=admin_headers,
    )
    assert surrogate.status_code == 400
    search = client.get("/api/v1/agents/?search=%00", headers=admin_headers)
    assert search.status_code == 400


def test_a_database_connection_lost_under_the_pool_is_503_once_then_recovers(
    client, make_agent, test_env
):
    import psycopg

    make_agent("ana", superuser=True)
    headers = bearer(obtain_tokens(client, "ana")["access"])
    assert client.get("/api/v1/whatsapp/messages", headers=headers).status_code == 200
    # What a database restart does to the connections waiting in the pool.
    url = test_env["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    response = client.get("/api/v1/whatsapp/messages", headers=headers)
    assert response.status_code == 503, response.get_json()
    body = response.get_json()["error"]
    assert body["code"] == "SERVICE_UNAVAILABLE" and "Traceback" not in str(body)
    assert response.headers["Retry-After"] == "1"
    assert client.get("/api/v1/whatsapp/messages", headers=headers).status_code == 200


def test_cors_headers_are_added_only_when_an_origin_is_sent(client):
    plain = client.get("/api/v1/health/")
    assert not [h for h in plain.headers if h[0].lower().startswith("access-control")]
    assert "Origin" not in plain.headers.get("Vary", "")
    cross = client.get("/api/v1/health/", headers={"Origin": "http://localhost:5173"})
    assert cross.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
