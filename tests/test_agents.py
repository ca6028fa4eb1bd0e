"""Agent management: list, search, create, edit, deactivate, and no lock-out."""

from __future__ import annotations

import sqlalchemy as sa

from dxconnect.accounts.passwords import verify_password
from dxconnect.extensions import db
from dxconnect.models import Agent
from tests.conftest import PASSWORD, bearer, obtain_tokens

MANAGE_AUTH = ["accounts.manage_auth"]


def stored(app, agent_id: int) -> Agent:
    with app.app_context():
        agent = db.session.get(Agent, agent_id)
        db.session.expunge(agent)
        return agent


def stored_id(app, username: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Agent.id).where(Agent.username == username))


def test_agent_endpoints_need_manage_auth(client, headers_for, make_agent):
    headers = headers_for("ana", ["core.manage_config_company"])
    other = make_agent("bia")
    assert client.get("/api/v1/agents/", headers=headers).status_code == 403
    denied = client.patch(f"/api/v1/agents/{other.id}/", json={"is_active": False}, headers=headers)
    assert denied.status_code == 403
    assert denied.get_json()["error"]["code"] == "FORBIDDEN"


def test_list_filters_by_active_state_and_searches_username_name_and_email(
    client, headers_for, make_agent
):
    headers = headers_for("boss", MANAGE_AUTH)
    make_agent("ana", display_name="Ana Conceição", email="ana@exemplo.com.br")
    bia = make_agent("bia", display_name="Beatriz", email="bia@example.com")
    make_agent("caio_100%", display_name="Caio", email="caio@exemplo.com.br")
    client.patch(f"/api/v1/agents/{bia.id}/", json={"is_active": False}, headers=headers)

    def usernames(query: str) -> list[str]:
        response = client.get(f"/api/v1/agents/?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [agent["username"] for agent in response.get_json()["results"]]

    assert usernames("") == ["boss", "ana", "bia", "caio_100%"]
    assert usernames("is_active=false") == ["bia"]
    assert usernames("is_active=true") == ["boss", "ana", "caio_100%"]
    assert usernames("search=CONCEI") == ["ana"]
    assert usernames("search=exemplo.com.br") == ["ana", "caio_100%"]
    assert usernames("search=bia&is_active=true") == []
    assert usernames("search=100%25") == ["caio_100%"]
    assert usernames("search=_1") == ["caio_100%"]
    assert client.get("/api/v1/agents/?is_active=maybe", headers=headers).status_code == 400


def test_create_agent_hides_the_password_and_can_log_in(client, headers_for, app):
    headers = headers_for("boss", MANAGE_AUTH)
    response = client.post(
        "/api/v1/agents/",
        json={
            "username": "maria",
            "password": "a-long-secret",
            "display_name": "Maria",
            "email": "m@example.com",
        },
        headers=headers,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert "password" not in body and "password_hash" not in body
    assert body["username"] == "maria" and body["is_active"] is True and body["groups"] == []
    assert client.get(f"/api/v1/agents/{body['id']}/", headers=headers).get_json() == body
    assert verify_password(stored(app, body["id"]).password_hash, "a-long-secret")
    assert obtain_tokens(client, "maria", "a-long-secret")["access"]


def test_create_agent_rejects_taken_username_and_bad_fields(client, headers_for, app):
    headers = headers_for("boss", MANAGE_AUTH)
    taken = client.post(
        "/api/v1/agents/", json={"username": "boss", "password": "a-long-secret"}, headers=headers
    )
    assert taken.status_code == 409
    assert taken.get_json()["error"]["code"] == "CONFLICT"
    bad = client.post(
        "/api/v1/agents/",
        json={"username": "no spaces", "password": "short", "email": "x", "is_superuser": True},
        headers=headers,
    )
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["details"]) == {
        "username",
        "password",
        "email",
        "is_superuser",
    }
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Agent)) == 1


def test_edit_agent_profile_username_and_password(client, headers_for, make_agent, app):
    headers = headers_for("boss", MANAGE_AUTH)
    ana = make_agent("ana")
    response = client.patch(
        f"/api/v1/agents/{ana.id}/",
        json={"username": "ana.souza", "display_name": "Ana Souza", "password": "another-long-one"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.get_json()["username"] == "ana.souza"
    agent = stored(app, ana.id)
    assert agent.display_name == "Ana Souza" and verify_password(
        agent.password_hash, "another-long-one"
    )
    taken = client.patch(f"/api/v1/agents/{ana.id}/", json={"username": "boss"}, headers=headers)
    assert taken.status_code == 409
    assert stored(app, ana.id).username == "ana.souza"
    assert (
        client.patch(
            "/api/v1/agents/9999/", json={"display_name": "x"}, headers=headers
        ).status_code
        == 404
    )
    assert client.get("/api/v1/agents/9999/", headers=headers).status_code == 404


def test_deactivated_agent_tokens_stop_working_at_once(client, headers_for, make_agent, app):
    headers = headers_for("boss", MANAGE_AUTH)
    make_agent("ana")
    tokens = obtain_tokens(client, "ana")
    assert client.get("/api/v1/me/", headers=bearer(tokens["access"])).status_code == 200
    ana_id = stored_id(app, "ana")
    assert (
        client.patch(
            f"/api/v1/agents/{ana_id}/", json={"is_active": False}, headers=headers
        ).status_code
        == 200
    )
    assert client.get("/api/v1/me/", headers=bearer(tokens["access"])).status_code == 401
    refreshed = client.post("/api/v1/auth/refresh/", json={"refresh": tokens["refresh"]})
    assert refreshed.status_code == 401
    login = client.post("/api/v1/auth/token/", json={"username": "ana", "password": PASSWORD})
    assert login.status_code == 401
    assert stored(app, ana_id).is_active is False


def test_last_access_manager_cannot_deactivate_itself(client, headers_for, app):
    headers = headers_for("boss", MANAGE_AUTH)
    boss_id = stored_id(app, "boss")
    response = client.patch(
        f"/api/v1/agents/{boss_id}/", json={"is_active": False}, headers=headers
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "CONFLICT" and "is_active" in error["details"]
    assert stored(app, boss_id).is_active is True
    assert client.get("/api/v1/me/", headers=headers).status_code == 200


def test_last_superuser_cannot_deactivate_itself(client, admin, admin_headers, app):
    response = client.patch(
        f"/api/v1/agents/{admin.id}/", json={"is_active": False}, headers=admin_headers
    )
    assert response.status_code == 409
    assert stored(app, admin.id).is_active is True


def test_a_manager_may_step_down_while_another_manager_remains(
    client, headers_for, make_agent, app
):
    headers = headers_for("boss", MANAGE_AUTH)
    make_agent("deputy", permissions=MANAGE_AUTH)
    boss_id = stored_id(app, "boss")
    response = client.patch(
        f"/api/v1/agents/{boss_id}/", json={"is_active": False}, headers=headers
    )
    assert response.status_code == 200
    assert stored(app, boss_id).is_active is False
    deputy = bearer(obtain_tokens(client, "deputy")["access"])
    last = client.patch(
        f"/api/v1/agents/{stored_id(app, 'deputy')}/", json={"is_active": False}, headers=deputy
    )
    assert last.status_code == 409
