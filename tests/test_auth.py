"""Authentication: token pair, refresh rotation, logout, every bad token, login throttling."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt as pyjwt
from flask_jwt_extended import create_access_token

from dxconnect import create_app
from dxconnect.extensions import db
from dxconnect.models import Agent
from tests.conftest import PASSWORD, bearer, eventually, obtain_tokens


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert body["error"]["code"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


def test_token_pair_for_valid_credentials_opens_me(client, make_agent):
    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    assert set(tokens) == {"access", "refresh"}
    response = client.get("/api/v1/me/", headers=bearer(tokens["access"]))
    assert response.status_code == 200
    assert response.get_json()["username"] == "ana"


def test_wrong_password_and_unknown_user_get_the_same_answer(client, make_agent):
    make_agent("ana")
    wrong = client.post("/api/v1/auth/token/", json={"username": "ana", "password": "nope-nope"})
    unknown = client.post("/api/v1/auth/token/", json={"username": "zzz", "password": "nope-nope"})
    assert _error(wrong, 401, "UNAUTHORIZED")["message"] == _error(
        unknown, 401, "UNAUTHORIZED"
    )["message"]


def test_inactive_agent_cannot_log_in(client, make_agent, app):
    agent = make_agent("ana")
    with app.app_context():
        db.session.get(Agent, agent.id).is_active = False
        db.session.commit()
    response = client.post("/api/v1/auth/token/", json={"username": "ana", "password": PASSWORD})
    _error(response, 401, "UNAUTHORIZED")


def test_login_records_last_login(client, make_agent, app):
    agent = make_agent("ana")
    obtain_tokens(client, "ana")
    with app.app_context():
        assert db.session.get(Agent, agent.id).last_login is not None


def test_refresh_rotates_and_old_refresh_stops_working(client, make_agent):
    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    response = client.post("/api/v1/auth/refresh/", json={"refresh": tokens["refresh"]})
    assert response.status_code == 200
    fresh = response.get_json()
    assert client.get("/api/v1/me/", headers=bearer(fresh["access"])).status_code == 200
    again = client.post("/api/v1/auth/refresh", json={"refresh": tokens["refresh"]})
    _error(again, 401, "UNAUTHORIZED")
    assert client.post("/api/v1/auth/refresh/", json={"refresh": fresh["refresh"]}).status_code == 200


def test_access_token_cannot_be_used_to_refresh(client, make_agent):
    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    response = client.post("/api/v1/auth/refresh/", json={"refresh": tokens["access"]})
    _error(response, 401, "UNAUTHORIZED")


def test_refresh_token_cannot_be_used_as_access(client, make_agent):
    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    _error(client.get("/api/v1/me/", headers=bearer(tokens["refresh"])), 401, "UNAUTHORIZED")


def test_expired_access_token_is_rejected(client, make_agent, app):
    agent = make_agent("ana")
    with app.app_context():
        token = create_access_token(
            identity=db.session.get(Agent, agent.id), expires_delta=timedelta(seconds=-10)
        )
    error = _error(client.get("/api/v1/me/", headers=bearer(token)), 401, "UNAUTHORIZED")
    assert "expired" in error["message"].lower()


def test_tampered_token_is_rejected(client, make_agent):
    make_agent("ana")
    make_agent("bob", superuser=True)
    header, payload, signature = obtain_tokens(client, "ana")["access"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = "2"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    token = f"{header}.{forged}.{signature}"
    _error(client.get("/api/v1/me/", headers=bearer(token)), 401, "UNAUTHORIZED")


def test_alg_none_token_is_rejected(client, make_agent):
    agent = make_agent("ana")
    token = pyjwt.encode(
        {"sub": str(agent.id), "type": "access", "jti": "x", "fresh": True}, None, algorithm="none"
    )
    _error(client.get("/api/v1/me/", headers=bearer(token)), 401, "UNAUTHORIZED")


def test_token_signed_with_another_key_is_rejected(client, make_agent):
    agent = make_agent("ana")
    token = pyjwt.encode(
        {"sub": str(agent.id), "type": "access", "jti": "x", "exp": 9999999999},
        "not-the-server-key-not-the-server-key",
        algorithm="HS256",
    )
    _error(client.get("/api/v1/me/", headers=bearer(token)), 401, "UNAUTHORIZED")


def test_garbage_and_missing_tokens_are_rejected(client):
    _error(client.get("/api/v1/me/"), 401, "UNAUTHORIZED")
    _error(client.get("/api/v1/me/", headers=bearer("garbage")), 401, "UNAUTHORIZED")
    _error(client.get("/api/v1/me/", headers={"Authorization": "Basic abc"}), 401, "UNAUTHORIZED")


def test_tokens_of_deactivated_or_deleted_agent_stop_working(client, make_agent, app):
    ana, bob = make_agent("ana"), make_agent("bob")
    ana_access = obtain_tokens(client, "ana")["access"]
    bob_tokens = obtain_tokens(client, "bob")
    with app.app_context():
        db.session.get(Agent, ana.id).is_active = False
        db.session.delete(db.session.get(Agent, bob.id))
        db.session.commit()
    _error(client.get("/api/v1/me/", headers=bearer(ana_access)), 401, "UNAUTHORIZED")
    _error(client.get("/api/v1/me/", headers=bearer(bob_tokens["access"])), 401, "UNAUTHORIZED")
    refresh = client.post("/api/v1/auth/refresh/", json={"refresh": bob_tokens["refresh"]})
    _error(refresh, 401, "UNAUTHORIZED")


def test_logout_revokes_refresh_and_access_even_after_restart(client, make_agent, test_env):
    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    response = client.post(
        "/api/v1/auth/logout/", json={"refresh": tokens["refresh"]}, headers=bearer(tokens["access"])
    )
    assert response.status_code == 204
    _error(client.get("/api/v1/me/", headers=bearer(tokens["access"])), 401, "UNAUTHORIZED")
    restarted = create_app(test_env).test_client()
    _error(restarted.get("/api/v1/me/", headers=bearer(tokens["access"])), 401, "UNAUTHORIZED")
    refresh = restarted.post("/api/v1/auth/refresh/", json={"refresh": tokens["refresh"]})
    _error(refresh, 401, "UNAUTHORIZED")


def test_logout_with_someone_elses_refresh_token_is_refused(client, make_agent):
    make_agent("ana"), make_agent("bob")
    ana, bob = obtain_tokens(client, "ana"), obtain_tokens(client, "bob")
    response = client.post(
        "/api/v1/auth/logout/", json={"refresh": bob["refresh"]}, headers=bearer(ana["access"])
    )
    _error(response, 401, "UNAUTHORIZED")
    assert client.post("/api/v1/auth/refresh/", json={"refresh": bob["refresh"]}).status_code == 200


def test_repeated_failures_for_one_username_are_rate_limited(client, make_agent):
    make_agent("ana")
    for _ in range(5):
        bad = client.post("/api/v1/auth/token/", json={"username": "ana", "password": "bad-pass"})
        assert bad.status_code == 401
    response = client.post("/api/v1/auth/token/", json={"username": "ana", "password": PASSWORD})
    _error(response, 429, "RATE_LIMITED")
    assert int(response.headers["Retry-After"]) >= 1


def test_repeated_failures_from_one_address_are_rate_limited(client):
    for index in range(5):
        body = {"username": f"user{index}", "password": "bad-pass"}
        assert client.post("/api/v1/auth/token/", json=body).status_code == 401
    response = client.post("/api/v1/auth/token/", json={"username": "other", "password": "x"})
    _error(response, 429, "RATE_LIMITED")
    assert "Retry-After" in response.headers


def test_rate_limit_holds_across_processes_through_redis(client, make_agent, test_env):
    make_agent("ana")
    other_process = create_app(test_env).test_client()
    for attempt in range(5):
        target = client if attempt % 2 else other_process
        body = {"username": "ana", "password": "bad-pass"}
        assert target.post("/api/v1/auth/token/", json=body).status_code == 401
    response = client.post("/api/v1/auth/token/", json={"username": "ana", "password": PASSWORD})
    _error(response, 429, "RATE_LIMITED")


def test_successful_logins_are_not_limited(client, make_agent):
    make_agent("ana")
    for _ in range(8):
        obtain_tokens(client, "ana")


def test_cached_agent_state_follows_changes_made_in_another_process(client, make_agent, test_env, app):
    agent = make_agent("ana")
    access = obtain_tokens(client, "ana")["access"]
    other_process = create_app(test_env).test_client()
    assert other_process.get("/api/v1/me/", headers=bearer(access)).get_json()["permissions"] == []
    with app.app_context():
        stored = db.session.get(Agent, agent.id)
        stored.is_superuser = True
        db.session.commit()
    assert eventually(
        lambda: other_process.get("/api/v1/me/", headers=bearer(access)).get_json()["is_superuser"]
    ) < 1.0
    with app.app_context():
        db.session.get(Agent, agent.id).is_active = False
        db.session.commit()
    eventually(lambda: other_process.get("/api/v1/me/", headers=bearer(access)).status_code == 401)
    _error(other_process.get("/api/v1/me/", headers=bearer(access)), 401, "UNAUTHORIZED")


def test_revocations_survive_redis_losing_its_data(client, make_agent, test_env):
    import redis

    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    client.post(
        "/api/v1/auth/logout/", json={"refresh": tokens["refresh"]}, headers=bearer(tokens["access"])
    )
    redis.Redis.from_url(test_env["REDIS_URL"]).flushdb()
    _error(client.get("/api/v1/me/", headers=bearer(tokens["access"])), 401, "UNAUTHORIZED")
    _error(client.get("/api/v1/me/", headers=bearer(tokens["access"])), 401, "UNAUTHORIZED")
