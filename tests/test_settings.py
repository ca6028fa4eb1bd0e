"""Settings are read from the environment once and bad values stop startup with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from dxconnect.settings import SettingsError, load_settings
from tests.conftest import ROOT

STRONG = "s" * 40
FERNET_KEY = Fernet.generate_key().decode()


def test_defaults_are_the_embedded_development_setup():
    settings = load_settings({}, instance_path="/srv/instance")
    assert settings.env == "development"
    assert settings.database_url == "sqlite:////srv/instance/dxconnect.db"
    assert settings.redis_url is None
    assert settings.access_token_seconds == 300 and settings.refresh_token_seconds == 86400
    assert settings.cors_allowed_origins == ("http://localhost:5173",)


def test_postgresql_url_uses_psycopg3():
    settings = load_settings({"DATABASE_URL": "postgres://u@h/db"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"JWT_ACCESS_TOKEN_SECONDS": "five"}, "JWT_ACCESS_TOKEN_SECONDS"),
        ({"JWT_REFRESH_TOKEN_SECONDS": "0"}, "JWT_REFRESH_TOKEN_SECONDS"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"DXCONNECT_ENV": "staging"}, "DXCONNECT_ENV"),
        ({"LOGIN_RATE_LIMIT": "lots"}, "LOGIN_RATE_LIMIT"),
        ({"DXCONNECT_ENV": "production"}, "SECRET_KEY"),
        ({"DXCONNECT_ENV": "production", "SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DXCONNECT_ENV": "production", "SECRET_KEY": STRONG}, "FIELD_ENCRYPTION_KEYS"),
        ({"FIELD_ENCRYPTION_KEYS": f"{FERNET_KEY},not-a-key"}, "FIELD_ENCRYPTION_KEYS"),
    ],
)
def test_bad_values_name_the_variable(env, variable):
    with pytest.raises(SettingsError) as excinfo:
        load_settings(env)
    message = str(excinfo.value)
    assert message.startswith(variable) and "\n" not in message


def test_production_requires_explicit_secrets_and_has_no_dev_cors():
    settings = load_settings(
        {"DXCONNECT_ENV": "production", "SECRET_KEY": STRONG, "FIELD_ENCRYPTION_KEYS": FERNET_KEY}
    )
    assert settings.is_production and settings.cors_allowed_origins == ()
    assert settings.jwt_secret_key == STRONG
    assert settings.field_encryption_keys == (FERNET_KEY,)


def test_development_derives_a_stable_encryption_key_from_the_secret_key():
    first = load_settings({"SECRET_KEY": STRONG}).field_encryption_keys
    assert first == load_settings({"SECRET_KEY": STRONG}).field_encryption_keys
    assert first != load_settings({"SECRET_KEY": "t" * 40}).field_encryption_keys
    Fernet(first[0].encode())  # a usable key


def test_media_root_defaults_to_the_instance_folder():
    assert load_settings({}, instance_path="/srv/instance").media_root == "/srv/instance/media"
    assert load_settings({"MEDIA_ROOT": "/data/media"}).media_root == "/data/media"


def test_bad_setting_stops_the_process_with_one_line_not_a_traceback():
    env = {**os.environ, "JWT_ACCESS_TOKEN_SECONDS": "soon"}
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, check=False, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "dxconnect: configuration error: JWT_ACCESS_TOKEN_SECONDS must be an integer, got 'soon'"
    )
