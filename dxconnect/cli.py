"""Flask CLI commands: ``flask --app wsgi <command>``."""

from __future__ import annotations

import json
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext

from dxconnect.accounts import agents
from dxconnect.configuration import service as config_service
from dxconnect.configuration.crypto import DecryptionError
from dxconnect.errors import ServiceError
from dxconnect.events import dead_letters
from dxconnect.events.dispatch import active_sinks
from dxconnect.extensions import db
from dxconnect.models import Agent
from dxconnect.plugins import plugins_report

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
        agent = agents.create_agent(username, password, email=email, is_superuser=True)
    except ServiceError as error:
        details = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.details.items())
        raise click.ClickException(error.message + (f" ({details})" if details else "")) from None
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
    agents.create_agent(username, password, is_superuser=True, check_password=False)
    click.echo(f"Development admin created: {username}/{password} (development only).")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@with_appcontext
def plugins(as_json: bool) -> None:
    """List every plugin with its distribution, version, hooks, drivers and sinks."""
    report = plugins_report()
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    sinks = ", ".join(sink["name"] for sink in report["event_sinks"]) or "none"
    click.echo(f"driver: {report['driver']}\nevent sinks: {sinks}\n")
    rows = [("PLUGIN", "DISTRIBUTION", "VERSION", "DRIVERS", "SINKS", "HOOKS")]
    for plugin in report["plugins"]:
        rows.append(
            (
                plugin["name"],
                "(built in)" if plugin["builtin"] else plugin["distribution"] or "-",
                plugin["version"] or "-",
                ",".join(plugin["drivers"]) or "-",
                ",".join(plugin["sinks"]) or "-",
                ",".join(plugin["hooks"]),
            )
        )
    _echo_table(rows)


@click.group("dead-letters")
def dead_letters_group() -> None:
    """Events a sink could not deliver: list and replay them."""


@dead_letters_group.command("list")
@click.option("--sink", help="Only the dead letters of this sink.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@with_appcontext
def list_dead_letters(sink: str | None, as_json: bool) -> None:
    """Show the dead letters, oldest first."""
    letters = [dead_letters.as_dict(letter) for letter in dead_letters.list_dead_letters(sink)]
    if as_json:
        click.echo(json.dumps(letters, indent=2, ensure_ascii=False))
        return
    rows = [("ID", "SINK", "EVENT", "ATTEMPTS", "LAST ERROR")]
    rows += [
        (str(d["id"]), d["sink"], d["event_id"], str(d["attempts"]), d["error"]) for d in letters
    ]
    _echo_table(rows)


@dead_letters_group.command("replay")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@click.option("--sink", help="With --all: only this sink's dead letters.")
@with_appcontext
def replay_dead_letters(ids: tuple[int, ...], replay_all: bool, sink: str | None) -> None:
    """Deliver dead letters again, once each; the delivered ones are deleted."""
    if not ids and not replay_all:
        raise click.UsageError("give dead-letter ids or --all")
    letters = [
        letter
        for letter in dead_letters.list_dead_letters(sink)
        if replay_all or letter.id in ids
    ]
    sinks = {name: worker.sink for name, worker in active_sinks().items()}
    results = dead_letters.replay(letters, sinks)
    for result in results:
        outcome = "delivered" if result.error is None else f"failed: {result.error}"
        click.echo(f"{result.id} {result.sink} {result.event_id}: {outcome}")
    missing = sorted(set(ids) - {letter.id for letter in letters})
    if missing:
        click.echo(f"no dead letter with id {', '.join(map(str, missing))}")
    if missing or any(result.error for result in results):
        raise SystemExit(1)


def _echo_table(rows: list[tuple[Any, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


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
    for command in (
        create_superuser,
        ensure_dev_admin,
        plugins,
        dead_letters_group,
        rotate_encryption_keys,
    ):
        app.cli.add_command(command)
