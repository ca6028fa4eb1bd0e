"""Management commands."""

from __future__ import annotations

import sqlalchemy as sa
from cryptography.fernet import Fernet

from dxconnect import create_app
from dxconnect.extensions import db
from dxconnect.models import Agent


def test_create_superuser_non_interactive(app):
    result = app.test_cli_runner().invoke(
        args=["create-superuser", "--username", "root", "--email", "r@example.com",
              "--password", "a-long-password"]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with app.app_context():
        agent = db.session.scalar(sa.select(Agent).filter_by(username="root"))
        assert agent.is_superuser and agent.email == "r@example.com"


def test_create_superuser_prompts_for_missing_flags(app):
    result = app.test_cli_runner().invoke(
        args=["create-superuser"], input="maria\nm@example.com\nsecret-pass\nsecret-pass\n"
    )
    assert result.exit_code == 0, result.output
    assert "Superuser 'maria' created" in result.output


def test_create_superuser_with_taken_username_is_a_clear_error(app, make_agent):
    make_agent("root")
    result = app.test_cli_runner().invoke(
        args=["create-superuser", "--username", "root", "--email", "", "--password", "a-long-pass"]
    )
    assert result.exit_code == 1
    assert "Username 'root' is already taken" in result.output
    assert "Traceback" not in result.output


def test_dev_admin_is_created_once_and_never_in_production(app, make_agent, test_env):
    runner = app.test_cli_runner()
    assert "created" in runner.invoke(args=["ensure-dev-admin"]).output
    assert "Agents exist" in runner.invoke(args=["ensure-dev-admin"]).output
    production = create_app(
        {
            **test_env,
            "DXCONNECT_ENV": "production",
            "SECRET_KEY": "p" * 40,
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        }
    )
    result = production.test_cli_runner().invoke(args=["ensure-dev-admin"])
    assert result.exit_code == 1 and "production" in result.output
