"""Migrations build the schema from empty on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from dxconnect import create_app
from dxconnect.extensions import db
from dxconnect.models import Permission

CONTRACT_PERMISSIONS = {
    "core.manage_config_company",
    "core.manage_config_chat",
    "core.manage_config_email",
    "core.manage_config_appearance",
    "core.manage_config_whatsapp",
    "accounts.manage_auth",
}


def test_postgresql_schema_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []


def test_migrations_seed_the_contract_permissions(app):
    with app.app_context():
        names = {p.full_name for p in db.session.scalars(sa.select(Permission))}
    assert names == CONTRACT_PERMISSIONS


def test_sqlite_upgrade_from_empty_then_login_works(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/fresh.db", "REDIS_URL": ""})
    with app.app_context():
        upgrade()
        names = {p.full_name for p in db.session.scalars(sa.select(Permission))}
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
    assert names == CONTRACT_PERMISSIONS
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ensure-dev-admin"])
    assert result.exit_code == 0, result.output
    client = app.test_client()
    tokens = client.post("/api/v1/auth/token/", json={"username": "admin", "password": "admin"})
    assert tokens.status_code == 200
    me = client.get("/api/v1/me/", headers={"Authorization": f"Bearer {tokens.get_json()['access']}"})
    assert me.get_json()["is_superuser"] is True
