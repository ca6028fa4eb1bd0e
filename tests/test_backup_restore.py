"""``scripts/backup.sh`` and ``scripts/restore.sh`` against the real PostgreSQL.

Every table is compared generically (rows and sequence positions), so tables added by
later migrations are covered without touching this test.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade
from psycopg import sql

from dxconnect import create_app
from dxconnect.accounts.agents import create_agent
from dxconnect.extensions import db
from dxconnect.models import Group, Permission
from tests.conftest import PASSWORD
from tests.deploy_files import ROOT

#: The smallest valid PNG (1x1 transparent pixel): what an uploaded logo looks like.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def run_script(
    name: str, *args: str, database_url: str, media: Path
) -> subprocess.CompletedProcess:
    """Run ``scripts/<name>`` with the app's variables and no terminal."""
    return subprocess.run(
        [str(ROOT / "scripts" / name), *args],
        check=False,
        env={**os.environ, "DATABASE_URL": database_url, "MEDIA_ROOT": str(media)},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table (sorted) and every sequence position of the database."""
    state: dict[str, list[tuple]] = {}
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            rows = conn.execute(sql.SQL("SELECT * FROM {}").format(sql.Identifier(table)))
            state[table] = sorted(rows.fetchall(), key=repr)
        state["(sequences)"] = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
            " ORDER BY 1"
        ).fetchall()
    return state


def media_files(media: Path) -> dict[str, bytes]:
    """Relative path -> content of every file under ``media``."""
    return {str(p.relative_to(media)): p.read_bytes() for p in media.rglob("*") if p.is_file()}


@pytest.fixture
def populated(fresh_database, tmp_path) -> Iterator[tuple[Flask, str, Path]]:
    """A migrated database holding an agent in a group, and a media folder holding a logo."""
    url = fresh_database("backup")
    app = create_app({"DATABASE_URL": url, "REDIS_URL": "", "LOG_LEVEL": "warning"})
    with app.app_context():
        upgrade()
        agent = create_agent(
            "joana", PASSWORD, email="joana@example.com", display_name="Joana Conceição"
        )
        group = Group(name="Atendimento")
        group.permissions = list(db.session.scalars(sa.select(Permission)))
        agent.groups.append(group)
        agent.permissions.append(group.permissions[0])
        db.session.commit()
    media = tmp_path / "media"
    (media / "logos").mkdir(parents=True)
    (media / "logos" / "logo.png").write_bytes(PNG)
    yield app, url, media
    with app.app_context():
        db.engine.dispose()


def test_restore_brings_back_every_table_and_the_media_after_damage(populated, tmp_path):
    app, url, media = populated
    before, files_before = snapshot(url), media_files(media)
    assert all(before[table] for table in ("agents", "groups", "permissions", "agent_groups"))

    result = run_script(
        "backup.sh", str(tmp_path / "backups"), database_url=url.replace("://", "+psycopg://", 1),
        media=media,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    backup = Path(result.stdout.strip().splitlines()[-1])
    assert sorted(p.name for p in backup.iterdir()) == [
        "SHA256SUMS",
        "database.dump",
        "media.tar.gz",
    ]
    assert [p.name for p in backup.parent.iterdir()] == [backup.name]  # no partial folder left

    with app.app_context():
        db.session.execute(sa.text("DELETE FROM agents WHERE username = 'joana'"))
        db.session.execute(sa.text("CREATE TABLE stray (id int)"))
        db.session.commit()
        create_agent("intruso", PASSWORD)
        db.session.commit()
        db.engine.dispose()
    (media / "logos" / "logo.png").unlink()
    (media / "stray.txt").write_text("not in the backup")
    assert snapshot(url) != before

    result = run_script("restore.sh", "--yes", str(backup), database_url=url, media=media)
    assert result.returncode == 0, result.stderr
    assert snapshot(url) == before
    assert media_files(media) == files_before
    client = app.test_client()
    login = client.post("/api/v1/auth/token/", json={"username": "joana", "password": PASSWORD})
    assert login.status_code == 200
    assert client.post(
        "/api/v1/auth/token/", json={"username": "intruso", "password": PASSWORD}
    ).status_code == 401  # fmt: skip


def test_restore_changes_nothing_without_confirmation_or_with_a_corrupt_backup(populated, tmp_path):
    _, url, media = populated
    result = run_script("backup.sh", str(tmp_path), database_url=url, media=media)
    backup = Path(result.stdout.strip())
    before = snapshot(url)

    unconfirmed = run_script("restore.sh", str(backup), database_url=url, media=media)
    assert unconfirmed.returncode == 2
    assert "--yes" in unconfirmed.stderr

    with (backup / "database.dump").open("ab") as dump:
        dump.write(b"tampered")
    corrupt = run_script("restore.sh", "--yes", str(backup), database_url=url, media=media)
    assert corrupt.returncode == 1
    assert "checksums" in corrupt.stderr
    assert snapshot(url) == before
    assert media_files(media) == {"logos/logo.png": PNG}


def test_backup_refuses_a_non_postgresql_database(tmp_path):
    result = run_script(
        "backup.sh", str(tmp_path), database_url=f"sqlite:///{tmp_path}/x.db", media=tmp_path
    )
    assert result.returncode == 2
    assert "DATABASE_URL must be a PostgreSQL URL" in result.stderr
    assert list(tmp_path.iterdir()) == []
