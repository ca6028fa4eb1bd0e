"""The current agent: profile, effective permissions and password change."""

from __future__ import annotations

import sqlalchemy as sa

from dxconnect.extensions import db
from dxconnect.models import Agent, Group, Permission
from tests.conftest import PASSWORD, bearer, obtain_tokens


def test_me_lists_direct_and_group_permissions(client, make_agent, app):
    agent = make_agent("ana", permissions=["core.manage_config_chat"], email="ana@example.com")
    with app.app_context():
        group = Group(name="Supervisores")
        group.permissions.append(
            db.session.scalar(sa.select(Permission).filter_by(codename="manage_config_whatsapp"))
        )
        stored = db.session.get(Agent, agent.id)
        stored.groups.append(group)
        db.session.commit()
        group_id = group.id
    response = client.get("/api/v1/me", headers=bearer(obtain_tokens(client, "ana")["access"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "id": agent.id,
        "username": "ana",
        "email": "ana@example.com",
        "display_name": "ana",
        "phone_number": "",
        "is_superuser": False,
        "permissions": ["core.manage_config_chat", "core.manage_config_whatsapp"],
        "groups": [{"id": group_id, "name": "Supervisores"}],
    }


def test_superuser_holds_every_permission(client, admin, admin_headers, app):
    body = client.get("/api/v1/me/", headers=admin_headers).get_json()
    assert body["is_superuser"] is True
    assert set(body["permissions"]) >= {
        "core.manage_config_company",
        "core.manage_config_chat",
        "core.manage_config_email",
        "core.manage_config_appearance",
        "core.manage_config_whatsapp",
        "accounts.manage_auth",
    }
    with app.app_context():
        assert db.session.get(Agent, admin.id).has_perm("anything.at_all")


def test_patch_me_changes_own_profile_and_keeps_utf8(client, make_agent):
    make_agent("ana")
    headers = bearer(obtain_tokens(client, "ana")["access"])
    changes = {"display_name": "Ana Conceição", "email": "ana@exemplo.com.br", "phone_number": "+55 11 98765-4321"}
    response = client.patch("/api/v1/me/", json=changes, headers=headers)
    assert response.status_code == 200
    assert {k: response.get_json()[k] for k in changes} == changes
    assert "Conceição".encode() in client.get("/api/v1/me/", headers=headers).data


def test_patch_me_rejects_bad_email_and_readonly_fields(client, make_agent, app):
    agent = make_agent("ana")
    headers = bearer(obtain_tokens(client, "ana")["access"])
    bad = client.patch("/api/v1/me/", json={"email": "not-an-email"}, headers=headers)
    assert bad.status_code == 400
    assert bad.get_json()["error"]["details"] == {"email": ["Not a valid email address."]}
    assert client.patch("/api/v1/me/", json={"email": ""}, headers=headers).status_code == 200
    escalate = client.patch("/api/v1/me/", json={"is_superuser": True}, headers=headers)
    assert escalate.status_code == 400
    assert "is_superuser" in escalate.get_json()["error"]["details"]
    with app.app_context():
        stored = db.session.get(Agent, agent.id)
        assert stored.email == "" and stored.is_superuser is False


def test_password_change_requires_current_password(client, make_agent):
    make_agent("ana")
    headers = bearer(obtain_tokens(client, "ana")["access"])
    wrong = client.post(
        "/api/v1/me/password", json={"current_password": "nope", "new_password": "brand-new-pass"},
        headers=headers,
    )
    assert wrong.status_code == 400
    assert wrong.get_json()["error"]["details"] == {"current_password": ["Incorrect password."]}
    short = client.post(
        "/api/v1/me/password/", json={"current_password": PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert short.status_code == 400 and "new_password" in short.get_json()["error"]["details"]
    ok = client.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
        headers=headers,
    )
    assert ok.status_code == 204
    assert obtain_tokens(client, "ana", "brand-new-pass")["access"]
    old = client.post("/api/v1/auth/token/", json={"username": "ana", "password": PASSWORD})
    assert old.status_code == 401


def test_password_is_stored_as_argon2_hash(make_agent, app):
    agent = make_agent("ana")
    with app.app_context():
        stored = db.session.get(Agent, agent.id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
