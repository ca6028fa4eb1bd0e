"""Every configuration change is recorded: who, when, which section and fields."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

COMPANY = ["core.manage_config_company"]


def test_a_patch_records_who_changed_which_fields(client, headers_for, make_agent):
    headers = headers_for("ana", COMPANY)
    before = datetime.now(UTC)
    body = {"cnpj": "11222333000181", "endereco": {"cep": "01310100"}, "razao_social": ""}
    client.patch("/api/v1/config/company/", json=body, headers=headers)
    response = client.get("/api/v1/config/audit/", headers=headers)
    assert response.status_code == 200
    page = response.get_json()
    assert page["count"] == 1
    entry = page["results"][0]
    assert entry["agent_username"] == "ana" and entry["agent_id"] == 1
    assert entry["section"] == "company_data" and entry["action"] == "update"
    assert entry["fields"] == ["cnpj", "endereco.cep"]  # razao_social was already ""
    created = datetime.fromisoformat(entry["created_at"])
    assert created.utcoffset() == timedelta(0) and before - timedelta(seconds=1) <= created


def test_a_change_that_changes_nothing_is_not_recorded(client, headers_for):
    headers = headers_for("ana", COMPANY)
    client.patch("/api/v1/config/company/", json={"nome_fantasia": "DX"}, headers=headers)
    client.patch("/api/v1/config/company/", json={"nome_fantasia": "DX"}, headers=headers)
    client.patch("/api/v1/config/company/", json={"cnpj": "123"}, headers=headers)  # refused
    assert client.get("/api/v1/config/audit/", headers=headers).get_json()["count"] == 1


def test_put_records_one_entry_per_changed_section_newest_first(client, headers_for):
    headers = headers_for(
        "ana",
        [f"core.manage_config_{s}" for s in ("company", "chat", "email", "appearance", "whatsapp")],
    )
    client.patch("/api/v1/config/chat/", json={"limite_chats_simultaneos": 2}, headers=headers)
    client.put(
        "/api/v1/config/",
        json={"email_settings": {"smtp_host": "smtp.example.com"}},
        headers=headers,
    )
    results = client.get("/api/v1/config/audit/", headers=headers).get_json()["results"]
    assert [(e["section"], e["action"], e["fields"]) for e in results] == [
        ("email_settings", "replace", ["smtp_host"]),
        ("chat_settings", "replace", ["limite_chats_simultaneos"]),
        ("chat_settings", "update", ["limite_chats_simultaneos"]),
    ]
    only_email = client.get(
        "/api/v1/config/audit/?section=email_settings", headers=headers
    ).get_json()
    assert [e["section"] for e in only_email["results"]] == ["email_settings"]


@pytest.mark.parametrize(
    ("permissions", "status"),
    [
        (["accounts.manage_auth"], 200),
        (["core.manage_config_whatsapp"], 200),
        ([], 403),
    ],
)
def test_audit_is_readable_with_manage_auth_or_any_config_permission(
    client, headers_for, permissions, status
):
    response = client.get("/api/v1/config/audit/", headers=headers_for("ana", permissions))
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["error"]["code"] == "FORBIDDEN"


def test_audit_is_paginated(client, headers_for):
    headers = headers_for("ana", COMPANY)
    for number in range(3):
        client.patch(
            "/api/v1/config/company/", json={"razao_social": f"R{number}"}, headers=headers
        )
    page = client.get("/api/v1/config/audit/?page_size=2", headers=headers).get_json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"].endswith("page=2")
    assert (
        client.get("/api/v1/config/audit/?page=3&page_size=2", headers=headers).status_code == 404
    )
