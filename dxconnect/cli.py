"""Flask CLI commands: ``flask --app wsgi <command>``."""

from __future__ import annotations

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from dxconnect import accounts, config_service
from dxconnect.crypto import DecryptionError
from dxconnect.errors import ServiceError
from dxconnect.extensions import db
from dxconnect.models import Agent

DEV_ADMIN = ("admin", "admin")


@click.command("create-superuser")
@click.option("--username", prompt=True, help="Login name of the new superuser.")
@click.option("--email", prompt=True, default="", help="E-mail address.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Password (prompted, hidden, when omitted).",
)
@with_appcontext
def create_superuser(username: str, email: str, password: str) -> None:
    """Create an agent holding every permission."""
    try:
        agent = accounts.create_agent(username, password, email=email, is_superuser=True)
    except ServiceError as error:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.details.items())
        raise click.ClickException(f"{error.message}" + (f" ({details})" if details else ""))
    click.echo(f"Superuser '{agent.username}' created (id {agent.id}).")


@click.command("ensure-dev-admin")
@with_appcontext
def ensure_dev_admin() -> None:
    """Development only: create superuser admin/admin when no agent exists yet."""
    if current_app.config["DXCONNECT_SETTINGS"].is_production:
        raise click.ClickException("refusing to create a default admin in production")
    if db.session.scalar(sa.select(sa.func.count()).select_from(Agent)):
        click.echo("Agents exist; no development admin created.")
        return
    username, password = DEV_ADMIN
    accounts.create_agent(username, password, is_superuser=True, check_password=False)
    click.echo(f"Development admin created: {username}/{password} (development only).")


@click.command("rotate-encryption-keys")
@with_appcontext
def rotate_encryption_keys() -> None:
    """Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""
    try:
        count = config_service.rotate_encryption_keys()
    except DecryptionError as error:
        raise click.ClickException(f"{error}; nothing was changed") from None
    click.echo(f"Re-encrypted {count} secret(s) with the first key.")


def register_commands(app: Flask) -> None:
    """Attach the project's commands to ``app.cli``."""
    for command in (create_superuser, ensure_dev_admin, rotate_encryption_keys):
        app.cli.add_command(command)
