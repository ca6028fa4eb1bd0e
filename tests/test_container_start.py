"""The container's start sequence, run as-is outside a container (no Docker engine here).

The Dockerfile's own ENTRYPOINT and CMD are executed on a fresh PostgreSQL database:
migrate, no admin in production, gunicorn serving, clean exit on SIGTERM. Several
replicas start together, so concurrent ``db upgrade`` runs must apply each revision once.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import requests
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet

from dxconnect import create_app
from dxconnect.extensions import db
from tests.conftest import TEST_REDIS_URL, LiveServer
from tests.deploy_files import ROOT, TOOLS_PATH, dockerfile_stages, exec_form

SCRIPTS = ScriptDirectory(str(ROOT / "migrations"))
HEAD = SCRIPTS.get_current_head()
REVISIONS = list(SCRIPTS.walk_revisions())
MIGRATIONS_ENV = ROOT / "migrations" / "env.py"


def container_command() -> list[str]:
    """ENTRYPOINT + CMD of the runtime image, exactly as the Dockerfile says."""
    runtime = dockerfile_stages()[-1]
    return exec_form(runtime.last("ENTRYPOINT")) + exec_form(runtime.last("CMD"))


def container_env(database_url: str, environment: str = "production") -> dict[str, str]:
    """The variables an operator gives the container (what .env.production holds)."""
    return {
        "PATH": TOOLS_PATH,
        "DXCONNECT_ENV": environment,
        "SECRET_KEY": secrets.token_urlsafe(48),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "WEB_CONCURRENCY": "2",
        "LOG_LEVEL": "warning",
    }


def scalar(database_url: str, query: str) -> object:
    """One value read straight from the database."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(query).fetchone()[0]


def run_entrypoint(database_url: str, environment: str) -> subprocess.CompletedProcess[str]:
    """The entrypoint with a short command instead of gunicorn."""
    return subprocess.run(
        ["./docker-entrypoint.sh", sys.executable, "-c", "print('command ran')"],
        check=False,
        cwd=ROOT,
        env=container_env(database_url, environment),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_container_start_sequence_serves_in_production_and_stops_cleanly(fresh_database):
    url = fresh_database("entrypoint")
    server = LiveServer(container_env(url), command=container_command())
    try:
        # The entrypoint exec'd gunicorn: the process that gets the container's signals is it.
        cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
        assert any(b"gunicorn" in part for part in cmdline), cmdline

        ready = requests.get(f"{server.url}/api/v1/health/ready", timeout=5)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok", "driver": "stub"}
        assert scalar(url, "SELECT version_num FROM alembic_version") == HEAD
        assert scalar(url, "SELECT count(*) FROM agents") == 0

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        server.log.seek(0)
        output = server.log.read()
        assert "Traceback" not in output, output
    finally:
        server.stop()


def test_entrypoint_creates_the_dev_admin_only_in_development(fresh_database):
    development = fresh_database("entrypoint_dev")
    result = run_entrypoint(development, "development")
    assert result.returncode == 0, result.stderr
    assert "Development admin created" in result.stdout
    assert result.stdout.rstrip().endswith("command ran")
    assert scalar(development, "SELECT username FROM agents WHERE is_superuser") == "admin"

    production = fresh_database("entrypoint_prod")
    result = run_entrypoint(production, "production")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "command ran"
    assert scalar(production, "SELECT count(*) FROM agents") == 0


def test_entrypoint_stops_before_the_command_when_migrations_fail():
    result = run_entrypoint("postgresql://postgres@127.0.0.1:1/nowhere", "production")
    assert result.returncode != 0
    assert "command ran" not in result.stdout


def migration_lock_key() -> int:
    """The advisory lock key ``migrations/env.py`` takes around upgrades."""
    pattern = re.compile(r"^MIGRATION_LOCK_KEY = (0x[0-9A-Fa-f]+)", re.MULTILINE)
    match = pattern.search(MIGRATIONS_ENV.read_text())
    assert match, "migrations/env.py defines no MIGRATION_LOCK_KEY"
    return int(match.group(1), 16)


def waiting_for_advisory_locks(conn: psycopg.Connection) -> int:
    """Sessions of this database waiting for an advisory lock."""
    return conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()[0]


def test_concurrent_upgrades_wait_for_the_lock_and_apply_each_revision_once(fresh_database):
    url = fresh_database("migrate")
    env = {**container_env(url), "REDIS_URL": ""}
    with psycopg.connect(url, autocommit=True) as holder:
        # Hold the upgrade lock, so both replicas' upgrades must queue behind it together.
        holder.execute("SELECT pg_advisory_lock(%s)", (migration_lock_key(),))
        upgrades = [
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(2)
        ]
        deadline = time.monotonic() + 60
        while waiting_for_advisory_locks(holder) < 2 and time.monotonic() < deadline:
            assert all(process.poll() is None for process in upgrades), "an upgrade did not wait"
            time.sleep(0.1)
        assert waiting_for_advisory_locks(holder) == 2
        assert holder.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None
        holder.execute("SELECT pg_advisory_unlock(%s)", (migration_lock_key(),))
    outputs = [process.communicate(timeout=90)[0] for process in upgrades]
    assert [process.returncode for process in upgrades] == [0, 0], outputs
    # Whichever got the lock first ran every revision; the other found the schema at head.
    applied = sorted(output.count("Running upgrade") for output in outputs)
    assert applied == [0, len(REVISIONS)], outputs

    app = create_app({"DATABASE_URL": url, "REDIS_URL": ""})
    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, db.metadata) == []
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).all() == [
                (HEAD,)
            ]
            permissions = conn.execute(
                sa.text("SELECT count(*), count(DISTINCT (app_label, codename)) FROM permissions")
            ).one()
        db.engine.dispose()
    assert permissions[0] == permissions[1] > 0
