"""Permissions, groups and the groups of an agent."""

from __future__ import annotations

import sqlalchemy as sa

from dxconnect.extensions import db
from dxconnect.models import Agent, Group, Permission
from tests.conftest import bearer, obtain_tokens

MANAGE_AUTH = ["accounts.manage_auth"]


def permission_ids(app, *names: str) -> list[int]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Permission).order_by(Permission.id))
        return [p.id for p in rows if p.full_name in names]


def stored_group_names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(sa.select(Group.name).order_by(Group.id)))


def test_any_agent_lists_permissions_and_may_cache_them(client, headers_for, app):
    response = client.get("/api/v1/authz/permissions/", headers=headers_for("ana"))
    assert response.status_code == 200
    body = response.get_json()
    assert {f"{p['app_label']}.{p['codename']}" for p in body} >= {
        "core.manage_config_company",
        "accounts.manage_auth",
    }
    assert set(body[0]) == {"id", "app_label", "model", "codename", "name"}
    assert response.headers["Cache-Control"] == "private, max-age=30"


def test_group_endpoints_need_manage_auth(client, headers_for):
    headers = headers_for("ana", ["core.manage_config_chat"])
    response = client.post("/api/v1/authz/groups/", json={"name": "X"}, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "FORBIDDEN"
    assert client.get("/api/v1/authz/groups/", headers=headers).status_code == 403


def test_create_read_update_and_delete_a_group(client, headers_for, app):
    headers = headers_for("boss", MANAGE_AUTH)
    chat, whatsapp = permission_ids(app, "core.manage_config_chat", "core.manage_config_whatsapp")
    created = client.post(
        "/api/v1/authz/groups/",
        json={"name": "Supervisão", "permissions": [whatsapp, chat]},
        headers=headers,
    )
    assert created.status_code == 201
    group = created.get_json()
    assert group == {"id": group["id"], "name": "Supervisão", "permissions": [chat, whatsapp]}
    url = f"/api/v1/authz/groups/{group['id']}/"
    assert client.get(url, headers=headers).get_json() == group
    patched = client.patch(url, json={"permissions": [chat]}, headers=headers)
    assert patched.status_code == 200
    assert (
        patched.get_json()["permissions"] == [chat] and patched.get_json()["name"] == "Supervisão"
    )
    listed = client.get("/api/v1/authz/groups/", headers=headers).get_json()
    assert listed["count"] == 1 and listed["results"][0]["permissions"] == [chat]
    assert client.delete(url, headers=headers).status_code == 204
    assert client.get(url, headers=headers).status_code == 404
    assert stored_group_names(app) == []


def test_group_name_taken_is_409_and_nothing_changes(client, headers_for, app):
    headers = headers_for("boss", MANAGE_AUTH)
    client.post("/api/v1/authz/groups/", json={"name": "Vendas"}, headers=headers)
    other = client.post(
        "/api/v1/authz/groups/", json={"name": "Suporte"}, headers=headers
    ).get_json()
    again = client.post("/api/v1/authz/groups/", json={"name": "Vendas"}, headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "CONFLICT"
    rename = client.patch(
        f"/api/v1/authz/groups/{other['id']}/", json={"name": "Vendas"}, headers=headers
    )
    assert rename.status_code == 409
    assert stored_group_names(app) == ["Vendas", "Suporte"]


def test_unknown_permission_ids_are_named_not_dropped(client, headers_for, app):
    headers = headers_for("boss", MANAGE_AUTH)
    (chat,) = permission_ids(app, "core.manage_config_chat")
    response = client.post(
        "/api/v1/authz/groups/",
        json={"name": "X", "permissions": [chat, 9999, 8888]},
        headers=headers,
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    assert error["details"] == {"permissions": ["Unknown permission ids: 8888, 9999."]}
    assert stored_group_names(app) == []


def test_unknown_group_is_404(client, headers_for):
    headers = headers_for("boss", MANAGE_AUTH)
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)("/api/v1/authz/groups/4242/", json={}, headers=headers)
        assert response.status_code == 404, method
        assert response.get_json()["error"]["code"] == "NOT_FOUND"


def test_agent_groups_are_read_and_replaced(client, headers_for, make_agent, app):
    headers = headers_for("boss", MANAGE_AUTH)
    ana = make_agent("ana")
    first = client.post("/api/v1/authz/groups/", json={"name": "A"}, headers=headers).get_json()
    second = client.post("/api/v1/authz/groups/", json={"name": "B"}, headers=headers).get_json()
    url = f"/api/v1/authz/agents/{ana.id}/groups/"
    assert client.get(url, headers=headers).get_json() == {"group_ids": [], "groups": []}
    response = client.patch(url, json={"group_ids": [second["id"], first["id"]]}, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["group_ids"] == [first["id"], second["id"]]
    assert [g["name"] for g in response.get_json()["groups"]] == ["A", "B"]
    with app.app_context():
        assert [g.name for g in db.session.get(Agent, ana.id).groups] == ["A", "B"]


def test_agent_groups_reject_unknown_groups_and_agents(client, headers_for, make_agent, app):
    headers = headers_for("boss", MANAGE_AUTH)
    ana = make_agent("ana")
    group = client.post("/api/v1/authz/groups/", json={"name": "A"}, headers=headers).get_json()
    bad = client.patch(
        f"/api/v1/authz/agents/{ana.id}/groups/",
        json={"group_ids": [group["id"], 777]},
        headers=headers,
    )
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"] == {"group_ids": ["Unknown group ids: 777."]}
    with app.app_context():
        assert db.session.get(Agent, ana.id).groups == []
    missing = client.patch(
        "/api/v1/authz/agents/9999/groups/", json={"group_ids": []}, headers=headers
    )
    assert missing.status_code == 404


def test_permissions_given_by_a_group_take_effect(client, headers_for, make_agent, app):
    headers = headers_for("boss", MANAGE_AUTH)
    ana = make_agent("ana")
    (chat,) = permission_ids(app, "core.manage_config_chat")
    group = client.post(
        "/api/v1/authz/groups/", json={"name": "Chat", "permissions": [chat]}, headers=headers
    )
    client.patch(
        f"/api/v1/authz/agents/{ana.id}/groups/",
        json={"group_ids": [group.get_json()["id"]]},
        headers=headers,
    )
    ana_headers = bearer(obtain_tokens(client, "ana")["access"])
    change = client.patch(
        "/api/v1/config/chat/", json={"limite_chats_simultaneos": 3}, headers=ana_headers
    )
    assert change.status_code == 200
    client.delete(f"/api/v1/authz/groups/{group.get_json()['id']}/", headers=headers)
    denied = client.patch(
        "/api/v1/config/chat/", json={"limite_chats_simultaneos": 4}, headers=ana_headers
    )
    assert denied.status_code == 403


def test_a_group_change_that_would_lock_everyone_out_is_refused(
    client, headers_for, make_agent, app
):
    make_agent("boss")
    (manage,) = permission_ids(app, "accounts.manage_auth")
    with app.app_context():
        group = Group(name="Admins", permissions=[db.session.get(Permission, manage)])
        boss = db.session.get(Agent, 1)
        boss.groups.append(group)
        db.session.commit()
        group_id = group.id
    headers = bearer(obtain_tokens(client, "boss")["access"])
    stripped = client.patch(
        f"/api/v1/authz/groups/{group_id}/", json={"permissions": []}, headers=headers
    )
    assert stripped.status_code == 409
    assert stripped.get_json()["error"]["code"] == "CONFLICT"
    assert client.delete(f"/api/v1/authz/groups/{group_id}/", headers=headers).status_code == 409
    leave = client.patch("/api/v1/authz/agents/1/groups/", json={"group_ids": []}, headers=headers)
    assert leave.status_code == 409
    with app.app_context():
        stored = db.session.get(Group, group_id)
        assert [p.id for p in stored.permissions] == [manage]
        assert [g.id for g in db.session.get(Agent, 1).groups] == [group_id]
