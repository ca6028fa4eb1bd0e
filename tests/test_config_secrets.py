"""Secrets in the configuration: encrypted at rest, never returned, rotatable keys."""

from __future__ import annotations

import psycopg
import pytest
from cryptography.fernet import Fernet, InvalidToken

from dxconnect import create_app
from dxconnect.configuration.crypto import cipher
from dxconnect.configuration.service import whatsapp_settings
from dxconnect.extensions import db
from dxconnect.settings import SettingsError
from tests.conftest import TEST_DATABASE_URL

EMAIL = ["core.manage_config_email"]
WHATSAPP = ["core.manage_config_whatsapp"]


def raw_section(column: str) -> str:
    """The section as PostgreSQL stores it, read without the app."""
    with psycopg.connect(TEST_DATABASE_URL) as conn:
        return conn.execute(f"SELECT {column}::text FROM configuration").fetchone()[0]


def raw_token(column: str, field: str) -> str:
    with psycopg.connect(TEST_DATABASE_URL) as conn:
        query = f"SELECT {column} ->> %s FROM configuration"
        return conn.execute(query, (field,)).fetchone()[0]


def test_secret_is_encrypted_at_rest_and_reads_show_only_that_it_is_set(client, headers_for, app):
    headers = headers_for("ana", EMAIL)
    response = client.patch(
        "/api/v1/config/email/", json={"smtp_senha": "Senha-Secreta-ção"}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json()["smtp_senha"] == "***"
    assert (
        client.get("/api/v1/config/", headers=headers).get_json()["email_settings"]["smtp_senha"]
        == "***"
    )
    assert b"Senha-Secreta" not in client.get("/api/v1/config/email/", headers=headers).data
    raw = raw_section("email_settings")
    assert "Senha-Secreta" not in raw and "U2VuaGEtU2VjcmV0Y" not in raw  # nor its base64
    with app.app_context():
        assert cipher().decrypt(raw_token("email_settings", "smtp_senha")) == "Senha-Secreta-ção"


def test_empty_secret_reads_empty_and_clears_it(client, headers_for):
    headers = headers_for("ana", EMAIL)
    client.patch("/api/v1/config/email/", json={"smtp_senha": "x"}, headers=headers)
    cleared = client.patch("/api/v1/config/email/", json={"smtp_senha": ""}, headers=headers)
    assert cleared.get_json()["smtp_senha"] == ""
    assert raw_token("email_settings", "smtp_senha") == ""


def test_whatever_string_is_sent_is_encrypted_even_the_mask(client, headers_for, app):
    headers = headers_for("ana", WHATSAPP)
    sent = {"proxy_url": "***", "session_data": "gAAAAAB-looks-like-a-token"}
    assert client.patch("/api/v1/config/whatsapp/", json=sent, headers=headers).status_code == 200
    with app.app_context():
        assert whatsapp_settings()["proxy_url"] == "***"
        assert whatsapp_settings()["session_data"] == "gAAAAAB-looks-like-a-token"
    assert raw_token("whatsapp_settings", "session_data") != "gAAAAAB-looks-like-a-token"


def test_patch_of_other_fields_keeps_the_secrets(client, headers_for, app):
    headers = headers_for("ana", WHATSAPP)
    client.patch(
        "/api/v1/config/whatsapp/", json={"proxy_url": "http://u:p@proxy:3128"}, headers=headers
    )
    client.patch("/api/v1/config/whatsapp/", json={"device_name": "Loja"}, headers=headers)
    with app.app_context():
        settings = whatsapp_settings()
    assert settings["proxy_url"] == "http://u:p@proxy:3128" and settings["device_name"] == "Loja"
    assert settings["session_data"] == ""


def test_audit_log_names_secret_fields_but_never_their_values(client, headers_for):
    headers = headers_for("ana", EMAIL)
    client.patch(
        "/api/v1/config/email/", json={"smtp_senha": "hunter2-very-secret"}, headers=headers
    )
    audit = client.get("/api/v1/config/audit/", headers=headers)
    assert audit.get_json()["results"][0]["fields"] == ["smtp_senha"]
    assert b"hunter2" not in audit.data
    with psycopg.connect(TEST_DATABASE_URL) as conn:
        rows = conn.execute("SELECT row_to_json(config_audit)::text FROM config_audit").fetchall()
    assert rows and all("hunter2" not in row[0] for row in rows)


@pytest.fixture
def keyed_app(test_env):
    """Build more apps on the same database with other FIELD_ENCRYPTION_KEYS."""
    apps = []

    def build(*keys: str):
        application = create_app({**test_env, "FIELD_ENCRYPTION_KEYS": ",".join(keys)})
        apps.append(application)
        return application

    yield build
    for application in apps:
        with application.app_context():
            db.engine.dispose()


def test_key_rotation_reads_old_values_then_reencrypts_with_the_first_key(
    client, headers_for, app, keyed_app
):
    headers = headers_for("ana", EMAIL + WHATSAPP)
    client.patch("/api/v1/config/email/", json={"smtp_senha": "old-secret"}, headers=headers)
    client.patch("/api/v1/config/whatsapp/", json={"proxy_url": "http://proxy:1"}, headers=headers)
    old_key = app.config["DXCONNECT_SETTINGS"].field_encryption_keys[0]
    new_key = Fernet.generate_key().decode()
    rotating = keyed_app(new_key, old_key)
    with rotating.app_context():
        assert whatsapp_settings()["proxy_url"] == "http://proxy:1"  # old values still decrypt
    result = rotating.test_cli_runner().invoke(args=["rotate-encryption-keys"])
    assert result.exit_code == 0, result.output
    assert "Re-encrypted 2 secret(s)" in result.output
    token = raw_token("email_settings", "smtp_senha")
    assert Fernet(new_key.encode()).decrypt(token.encode()) == b"old-secret"
    with pytest.raises(InvalidToken):
        Fernet(old_key.encode()).decrypt(token.encode())
    with keyed_app(new_key).app_context():
        assert whatsapp_settings()["proxy_url"] == "http://proxy:1"


def test_rotation_with_a_missing_key_fails_and_changes_nothing(client, headers_for, keyed_app):
    headers = headers_for("ana", EMAIL)
    client.patch("/api/v1/config/email/", json={"smtp_senha": "old-secret"}, headers=headers)
    before = raw_section("email_settings")
    stranger = keyed_app(Fernet.generate_key().decode())
    result = stranger.test_cli_runner().invoke(args=["rotate-encryption-keys"])
    assert result.exit_code == 1
    assert "cannot be decrypted" in result.output and "nothing was changed" in result.output
    assert raw_section("email_settings") == before


def test_production_refuses_to_start_without_encryption_keys(test_env):
    with pytest.raises(SettingsError, match=r"^FIELD_ENCRYPTION_KEYS"):
        create_app(
            {
                **test_env,
                "DXCONNECT_ENV": "production",
                "SECRET_KEY": "p" * 40,
                "FIELD_ENCRYPTION_KEYS": "",
            }
        )
