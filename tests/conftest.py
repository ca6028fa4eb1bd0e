"""Shared fixtures: the app on the real PostgreSQL and Redis, agents, tokens and live servers.

The suite needs PostgreSQL and Redis. When either is unreachable the run stops
at once with a message saying how to start it — it never skips.

Overridable by environment:
``TEST_DATABASE_URL`` (a database this suite drops and recreates),
``TEST_REDIS_URL`` (a Redis database this suite flushes).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from psycopg import sql

from dxconnect import create_app
from dxconnect.accounts.agents import create_agent
from dxconnect.events.dispatch import stop_sinks
from dxconnect.extensions import db
from dxconnect.models import Agent, Permission
from tests.plugin_dists import install_fake  # noqa: F401 (fixture: fake installed plugin distributions)

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/dxconnect_test"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct-horse-battery"
#: Tables whose rows come from migrations and survive between tests.
SEEDED_TABLES = {"permissions", "alembic_version"}

START_HINT = {
    "PostgreSQL": "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    "Redis": 'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save ""',
}


def _admin_url(url: str) -> tuple[str, str]:
    base, _, name = url.rpartition("/")
    return f"{base}/postgres", name


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop the run (never skip) when PostgreSQL or Redis is not reachable."""
    problems = []
    admin_url, _ = _admin_url(TEST_DATABASE_URL)
    try:
        psycopg.connect(admin_url, connect_timeout=3).close()
    except psycopg.Error as exc:
        problems.append(("PostgreSQL", admin_url, exc))
    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(("Redis", TEST_REDIS_URL, exc))
    if problems:
        lines = [
            f"{name} is not reachable at {url} ({type(exc).__name__}). Start it: {START_HINT[name]}"
            for name, url, exc in problems
        ]
        pytest.exit("\n".join(lines), returncode=3)


def drop_database(url: str) -> None:
    """Drop the database named in ``url`` (closing its connections) if it exists."""
    admin_url, name = _admin_url(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url``."""
    drop_database(url)
    admin_url, name = _admin_url(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


@pytest.fixture
def fresh_database() -> Iterator[Callable[[str], str]]:
    """Empty extra databases named after the test database: ``fresh_database("backup")``.

    Returns the URL of ``<test database>_<suffix>``; every one is dropped after the test.
    """
    created: list[str] = []

    def create(suffix: str) -> str:
        url = f"{TEST_DATABASE_URL}_{suffix}"
        recreate_database(url)
        created.append(url)
        return url

    yield create
    for url in created:
        drop_database(url)


@pytest.fixture(scope="session")
def test_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment variables of the app under test (also given to live servers)."""
    return {
        "DXCONNECT_ENV": "development",
        "DATABASE_URL": TEST_DATABASE_URL,
        "REDIS_URL": TEST_REDIS_URL,
        "SECRET_KEY": secrets.token_urlsafe(32),
        "LOGIN_RATE_LIMIT": "5 per minute",
        "LOG_LEVEL": "warning",
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        # Servers shared by the session don't drive the WhatsApp session; tests that do say so.
        "WHATSAPP_RUNNER": "0",
    }


@pytest.fixture(scope="session")
def app(test_env: dict[str, str]) -> Iterator[Flask]:
    """The app on a freshly created, fully migrated PostgreSQL database."""
    recreate_database(TEST_DATABASE_URL)
    application = create_app(test_env)
    application.config["TESTING"] = True
    with application.app_context():
        upgrade()
    yield application
    with application.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_state(app: Flask) -> Iterator[None]:
    """Each test starts with empty tables (seeded ones kept), no media files, an empty Redis db."""
    yield
    shutil.rmtree(app.config["DXCONNECT_SETTINGS"].media_root, ignore_errors=True)
    with app.app_context():
        db.session.remove()
        tables = [t for t in sa.inspect(db.engine).get_table_names() if t not in SEEDED_TABLES]
        if tables:
            quoted = ", ".join(f'"{t}"' for t in tables)
            with db.engine.begin() as conn:
                conn.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()


@pytest.fixture
def make_app(test_env: dict[str, str]) -> Iterator[Callable[..., Flask]]:
    """``make_app(**env_overrides)``: another app instance (another "process") on the test stores.

    Its event sinks are stopped after the test: a forgotten sink would stay subscribed to the
    Redis bus and take its share of later tests' events.
    """
    apps: list[Flask] = []

    def factory(**overrides: str) -> Flask:
        application = create_app({**test_env, **overrides})
        apps.append(application)
        return application

    yield factory
    for application in apps:
        stop_sinks(application)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def make_agent(app: Flask) -> Callable[..., Agent]:
    """Create an agent: ``make_agent("ana", permissions=["core.manage_config_chat"])``."""

    def factory(
        username: str,
        password: str = PASSWORD,
        *,
        permissions: tuple[str, ...] | list[str] = (),
        superuser: bool = False,
        **fields: Any,
    ) -> Agent:
        with app.app_context():
            agent = create_agent(username, password, is_superuser=superuser, **fields)
            for name in permissions:
                app_label, codename = name.split(".")
                agent.permissions.append(
                    db.session.scalar(
                        sa.select(Permission).filter_by(app_label=app_label, codename=codename)
                    )
                )
            db.session.commit()
            db.session.refresh(agent)
            db.session.expunge(agent)
            return agent

    return factory


def obtain_tokens(client: FlaskClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in through the API and return ``{"access", "refresh"}``."""
    response = client.post("/api/v1/auth/token/", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def live_access_token(base_url: str, username: str, password: str = PASSWORD) -> str:
    """Log in to a live server over HTTP and return the access token."""
    response = requests.post(
        f"{base_url}/api/v1/auth/token/",
        json={"username": username, "password": password},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    return response.json()["access"]


def bearer(token: str) -> dict[str, str]:
    """An ``Authorization`` header for ``token``."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(make_agent: Callable[..., Agent]) -> Agent:
    """A superuser."""
    return make_agent("admin", superuser=True, email="admin@example.com")


@pytest.fixture
def admin_headers(client: FlaskClient, admin: Agent) -> dict[str, str]:
    """Authorization headers of the superuser."""
    return bearer(obtain_tokens(client, admin.username)["access"])


@pytest.fixture
def headers_for(
    client: FlaskClient, make_agent: Callable[..., Agent]
) -> Callable[..., dict[str, str]]:
    """Create an agent and return its ``Authorization`` headers: ``headers_for("ana", [perm])``."""

    def factory(
        username: str, permissions: tuple[str, ...] | list[str] = (), **fields: Any
    ) -> dict[str, str]:
        make_agent(username, permissions=permissions, **fields)
        return bearer(obtain_tokens(client, username)["access"])

    return factory


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(check: Callable[[], bool], timeout: float = 2.0) -> float:
    """Seconds until ``check()`` held (polled every millisecond); fails after ``timeout``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"still false after {timeout} s"
        time.sleep(0.001)
    return time.monotonic() - started


class LiveServer:
    """A real gunicorn process serving the app, started from the production config."""

    def __init__(
        self,
        env: dict[str, str],
        workers: int = 1,
        wsgi: str = "wsgi:app",
        command: list[str] | None = None,
    ):
        """Start ``command`` (default: gunicorn serving ``wsgi`` with ``workers``) on ``BIND``."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(  # noqa: SIM115 (closed in stop())
            Path(os.environ.get("TMPDIR", "/tmp")) / f"dxconnect-live-{self.port}.log", "w+"
        )
        command = command or [
            sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py",
            "-b", f"127.0.0.1:{self.port}", "-w", str(workers), wsgi,
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env, "BIND": f"127.0.0.1:{self.port}"},
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Block until the liveness probe answers, or fail with the server's log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(f"{self.url}/api/v1/health/", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        self.log.seek(0)
        raise RuntimeError(f"live server did not start:\n{self.log.read()[-4000:]}")

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (children) of this server's master process."""
        pid = self.process.pid
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]

    def kill(self) -> None:
        """SIGKILL the server and its workers at once: a crash, no shutdown code runs."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """Terminate the server and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def start_server(app: Flask, test_env: dict[str, str]) -> Iterator[Callable[..., LiveServer]]:
    """Start live servers on the test database: ``start_server(workers=2, **env_overrides)``.

    ``wsgi="module:app"`` serves another app object than ``wsgi:app``.
    """
    servers: list[LiveServer] = []

    def start(workers: int = 1, wsgi: str = "wsgi:app", **overrides: str) -> LiveServer:
        server = LiveServer({**test_env, **overrides}, workers=workers, wsgi=wsgi)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def live_server(start_server: Callable[..., LiveServer]) -> LiveServer:
    """One live server shared by the session."""
    return start_server()
