"""The configuration API: defaults, per-section permissions, merging PATCH, PUT and validation."""

from __future__ import annotations

import pytest

from dxconnect.configuration.sections import SECTIONS
from dxconnect.configuration.service import configuration
from dxconnect.extensions import db
from dxconnect.models import Configuration

ALL_CONFIG = [
    "core.manage_config_company",
    "core.manage_config_chat",
    "core.manage_config_email",
    "core.manage_config_appearance",
    "core.manage_config_whatsapp",
]
PATHS = {
    "company_data": "company",
    "chat_settings": "chat",
    "email_settings": "email",
    "appearance_settings": "appearance",
    "whatsapp_settings": "whatsapp",
}
WEEKDAY = {"inicio": "08:00", "fim": "18:00"}
CLOSED = {"inicio": None, "fim": None}
DEFAULTS = {
    "company_data": {
        "razao_social": "",
        "nome_fantasia": "",
        "cnpj": "",
        "inscricao_estadual": "",
        "inscricao_municipal": "",
        "regime_tributario": "1",
        "cnae_principal": "",
        "telefone": "",
        "email": "",
        "site": "",
        "endereco": {
            "cep": "01234567",
            "logradouro": "",
            "numero": "",
            "complemento": "",
            "bairro": "",
            "cidade": "",
            "uf": "SP",
        },
    },
    "chat_settings": {
        "mensagem_saudacao": "Olá! Como podemos ajudar?",
        "mensagem_fora_expediente": "Estamos fora do horário de atendimento.",
        "mensagem_encerramento": "Obrigado pelo contato!",
        "mensagem_inatividade": "Estamos encerrando por inatividade.",
        "timeout_inatividade_minutos": 15,
        "limite_chats_simultaneos": 5,
        "horario_funcionamento": {
            **dict.fromkeys(("segunda", "terca", "quarta", "quinta", "sexta"), WEEKDAY),
            "sabado": CLOSED,
            "domingo": CLOSED,
        },
    },
    "email_settings": {
        "smtp_host": "",
        "smtp_port": 587,
        "smtp_usuario": "",
        "smtp_senha": "",
        "smtp_ssl": True,
        "email_from": "",
    },
    "appearance_settings": {
        "login_logo_url": "",
        "favicon_url": "",
        "primary_color": "#0ea5e9",
        "secondary_color": "#111827",
        "custom_css": "",
    },
    "whatsapp_settings": {
        "enabled": False,
        "device_name": "DXConnect",
        "stealth_mode": True,
        "human_delays": True,
        "reconnect_backoff_seconds": 5,
        "session_data": "",
        "proxy_url": "",
    },
}


@pytest.fixture
def config_row(app) -> None:
    """The configuration row exists (as after the first read), so refusals can be checked on it."""
    with app.app_context():
        configuration()


def stored(app, key: str) -> dict:
    with app.app_context():
        row = db.session.get(Configuration, 1)
        return getattr(row, key)


def error_of(response) -> dict:
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "INVALID_PAYLOAD"
    return error


def test_first_read_creates_the_configuration_with_the_contract_defaults(client, headers_for, app):
    with app.app_context():
        assert db.session.get(Configuration, 1) is None
    response = client.get("/api/v1/config/", headers=headers_for("ana"))
    assert response.status_code == 200
    assert response.get_json() == DEFAULTS
    assert stored(app, "chat_settings")["timeout_inatividade_minutos"] == 15


@pytest.mark.parametrize(("key", "path"), PATHS.items())
def test_any_agent_reads_each_section(client, headers_for, key, path):
    response = client.get(f"/api/v1/config/{path}/", headers=headers_for("ana"))
    assert response.status_code == 200
    assert response.get_json() == DEFAULTS[key]


def test_reading_needs_a_token(client):
    response = client.get("/api/v1/config/")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    ("path", "change"),
    [
        ("company", {"razao_social": "DX"}),
        ("chat", {"limite_chats_simultaneos": 2}),
        ("email", {"smtp_port": 25}),
        ("appearance", {"primary_color": "#fff"}),
        ("whatsapp", {"enabled": True}),
    ],
)
def test_each_section_is_changed_only_with_its_own_permission(
    client, config_row, headers_for, app, path, change
):
    permission = f"core.manage_config_{path}"
    others = headers_for(
        "ana", [p for p in ALL_CONFIG if p != permission] + ["accounts.manage_auth"]
    )
    denied = client.patch(f"/api/v1/config/{path}/", json=change, headers=others)
    assert denied.status_code == 403
    assert denied.get_json()["error"]["code"] == "FORBIDDEN"
    assert denied.get_json()["error"]["details"] == {"permissions": [permission]}
    key = next(k for k, p in PATHS.items() if p == path)
    assert stored(app, key) == DEFAULTS[key]
    allowed = client.patch(
        f"/api/v1/config/{path}/", json=change, headers=headers_for("bia", [permission])
    )
    assert allowed.status_code == 200
    assert allowed.get_json() == {**DEFAULTS[key], **change}
    assert stored(app, key) == {**DEFAULTS[key], **change}


def test_patch_merges_into_the_stored_section_and_answers_it_as_stored(client, headers_for, app):
    headers = headers_for("ana", ["core.manage_config_company", "core.manage_config_chat"])
    first = {
        "razao_social": "DX Tecnologia Ltda",
        "endereco": {"cidade": "São Paulo", "numero": "10"},
    }
    client.patch("/api/v1/config/company/", json=first, headers=headers)
    response = client.patch(
        "/api/v1/config/company/", json={"endereco": {"cep": "01310100"}}, headers=headers
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["razao_social"] == "DX Tecnologia Ltda"
    assert body["endereco"] == {
        **DEFAULTS["company_data"]["endereco"],
        "cidade": "São Paulo",
        "numero": "10",
        "cep": "01310100",
    }
    assert client.get("/api/v1/config/company/", headers=headers).get_json() == body
    assert "São Paulo".encode() in client.get("/api/v1/config/company/", headers=headers).data
    saturday = {"horario_funcionamento": {"sabado": {"inicio": "09:00", "fim": "13:00"}}}
    hours = client.patch("/api/v1/config/chat/", json=saturday, headers=headers).get_json()
    assert hours["horario_funcionamento"]["sabado"] == {"inicio": "09:00", "fim": "13:00"}
    assert hours["horario_funcionamento"]["segunda"] == WEEKDAY


def test_company_validation_lists_every_failing_field_under_dotted_paths(
    client, config_row, headers_for, app
):
    headers = headers_for("ana", ["core.manage_config_company"])
    bad = {
        "cnpj": "11222333000182",
        "email": "not-an-address",
        "regime_tributario": "4",
        "endereco": {"cep": "1234567", "uf": "XX"},
    }
    error = error_of(client.patch("/api/v1/config/company/", json=bad, headers=headers))
    assert set(error["details"]) == {
        "cnpj",
        "email",
        "regime_tributario",
        "endereco.cep",
        "endereco.uf",
    }
    assert stored(app, "company_data") == DEFAULTS["company_data"]


@pytest.mark.parametrize(
    "cnpj",
    ["1122233300018", "112223330001811", "11.222.333/0001-81", "00000000000000", "11222333000191"],
)
def test_cnpj_must_be_14_digits_with_valid_check_digits(client, headers_for, cnpj):
    headers = headers_for("ana", ["core.manage_config_company"])
    error = error_of(client.patch("/api/v1/config/company/", json={"cnpj": cnpj}, headers=headers))
    assert list(error["details"]) == ["cnpj"]


def test_valid_company_values_and_empty_strings_are_accepted(client, headers_for):
    headers = headers_for("ana", ["core.manage_config_company"])
    good = {
        "cnpj": "11222333000181",
        "regime_tributario": "3",
        "endereco": {"cep": "01310100", "uf": "RJ"},
    }
    assert client.patch("/api/v1/config/company/", json=good, headers=headers).status_code == 200
    empty = {"cnpj": "", "email": "", "endereco": {"cep": "", "uf": ""}}
    response = client.patch("/api/v1/config/company/", json=empty, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["endereco"]["cep"] == "" and response.get_json()["cnpj"] == ""


@pytest.mark.parametrize(
    ("saturday", "path"),
    [
        ({"inicio": "18:00", "fim": "08:00"}, "horario_funcionamento.sabado.inicio"),
        ({"inicio": "08:00", "fim": "08:00"}, "horario_funcionamento.sabado.inicio"),
        ({"inicio": "08:00", "fim": None}, "horario_funcionamento.sabado.fim"),
        ({"inicio": "24:00", "fim": "25:00"}, "horario_funcionamento.sabado.inicio"),
        ({"inicio": "8:00", "fim": "12:00"}, "horario_funcionamento.sabado.inicio"),
        ({"inicio": "08:00"}, "horario_funcionamento.sabado.fim"),
    ],
)
def test_business_hours_are_hh_mm_with_start_before_end(
    client, config_row, headers_for, app, saturday, path
):
    headers = headers_for("ana", ["core.manage_config_chat"])
    body = {"horario_funcionamento": {"sabado": saturday}}
    error = error_of(client.patch("/api/v1/config/chat/", json=body, headers=headers))
    assert path in error["details"]
    assert stored(app, "chat_settings") == DEFAULTS["chat_settings"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("chat", {"timeout_inatividade_minutos": 0}, "timeout_inatividade_minutos"),
        ("chat", {"limite_chats_simultaneos": "5"}, "limite_chats_simultaneos"),
        ("email", {"smtp_port": 0}, "smtp_port"),
        ("email", {"smtp_port": 65536}, "smtp_port"),
        ("email", {"email_from": "nobody"}, "email_from"),
        ("email", {"smtp_ssl": "yes"}, "smtp_ssl"),
        ("appearance", {"primary_color": "#12345"}, "primary_color"),
        ("appearance", {"secondary_color": "red"}, "secondary_color"),
        ("appearance", {"custom_css": "</style><script>alert(1)</script>"}, "custom_css"),
        ("appearance", {"login_logo_url": "javascript:alert(1)"}, "login_logo_url"),
        ("whatsapp", {"reconnect_backoff_seconds": -1}, "reconnect_backoff_seconds"),
        ("whatsapp", {"enabled": 1}, "enabled"),
        ("whatsapp", {"session_data": None}, "session_data"),
        ("company", {"unknown_field": 1}, "unknown_field"),
        ("company", {"endereco": {"pais": "BR"}}, "endereco.pais"),
    ],
)
def test_invalid_section_values_are_400_naming_the_field(client, headers_for, path, body, field):
    headers = headers_for("ana", ALL_CONFIG)
    error = error_of(client.patch(f"/api/v1/config/{path}/", json=body, headers=headers))
    assert field in error["details"], error


def test_patch_without_a_body_is_400(client, headers_for):
    headers = headers_for("ana", ALL_CONFIG)
    error = error_of(client.patch("/api/v1/config/chat/", headers=headers))
    assert error["message"] == "A JSON request body is required"


def test_sections_are_validated_independently(client, headers_for, app):
    with app.app_context():
        row = configuration()
        row.company_data = {
            **DEFAULTS["company_data"],
            "cnpj": "123",
        }  # left behind by an old version
        db.session.commit()
    headers = headers_for("ana", ["core.manage_config_chat"])
    response = client.patch(
        "/api/v1/config/chat/", json={"limite_chats_simultaneos": 9}, headers=headers
    )
    assert response.status_code == 200
    assert stored(app, "chat_settings")["limite_chats_simultaneos"] == 9


def test_put_needs_every_config_permission(client, headers_for, app):
    headers = headers_for("ana", ALL_CONFIG[:-1])
    response = client.put("/api/v1/config/", json={}, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"]["details"] == {
        "permissions": ["core.manage_config_whatsapp"]
    }


def test_put_sets_what_is_given_and_resets_the_rest_but_keeps_secrets(client, headers_for, app):
    headers = headers_for("ana", ALL_CONFIG)
    client.patch("/api/v1/config/chat/", json={"limite_chats_simultaneos": 9}, headers=headers)
    client.patch(
        "/api/v1/config/email/",
        json={"smtp_senha": "s3cret", "smtp_host": "smtp.x.com"},
        headers=headers,
    )
    body = {
        "company_data": {"razao_social": "Nova", "endereco": {"cidade": "Recife"}},
        "email_settings": {"smtp_port": 465},
    }
    response = client.put("/api/v1/config/", json=body, headers=headers)
    assert response.status_code == 200
    result = response.get_json()
    assert result["company_data"]["razao_social"] == "Nova"
    assert result["company_data"]["endereco"] == {
        **DEFAULTS["company_data"]["endereco"],
        "cidade": "Recife",
    }
    assert result["chat_settings"] == DEFAULTS["chat_settings"]
    assert result["email_settings"] == {
        **DEFAULTS["email_settings"],
        "smtp_port": 465,
        "smtp_senha": "***",
    }
    assert client.get("/api/v1/config/", headers=headers).get_json() == result


def test_put_reports_errors_of_every_section_and_writes_nothing(
    client, config_row, headers_for, app
):
    headers = headers_for("ana", ALL_CONFIG)
    body = {
        "company_data": {"razao_social": "Nova", "endereco": {"cep": "abc"}},
        "chat_settings": {"timeout_inatividade_minutos": 0},
        "appearance_settings": {"primary_color": "blue"},
    }
    error = error_of(client.put("/api/v1/config/", json=body, headers=headers))
    assert set(error["details"]) == {
        "company_data.endereco.cep",
        "chat_settings.timeout_inatividade_minutos",
        "appearance_settings.primary_color",
    }
    assert stored(app, "company_data") == DEFAULTS["company_data"]


@pytest.mark.parametrize(("key", "path"), PATHS.items())
def test_openapi_documents_each_section_with_fields_defaults_and_a_valid_example(
    client, app, key, path
):
    spec = client.get("/api/schema/").get_json()
    operations = spec["paths"][f"/api/v1/config/{path}/"]
    example = operations["patch"]["requestBody"]["content"]["application/json"]["example"]
    read_example = operations["get"]["responses"]["200"]["content"]["application/json"]["example"]
    name = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"][
        "$ref"
    ].rsplit("/", 1)[1]
    properties = spec["components"]["schemas"][name]["properties"]
    assert set(properties) == set(DEFAULTS[key]) == set(example) == set(read_example)
    secrets = {"smtp_senha", "session_data", "proxy_url"}
    for field, default in DEFAULTS[key].items():
        if field not in secrets:
            assert properties[field]["default"] == default, field
    assert "Requires: `core.manage_config_" in operations["patch"]["description"]
    with app.test_request_context():
        assert SECTIONS[key].schema().load({k: v for k, v in example.items() if k not in secrets})
