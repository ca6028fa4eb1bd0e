"""Fixtures of the WhatsApp tests: a recording driver, captured events, runners, agents."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from dxconnect.accounts.tokens import issue_tokens
from dxconnect.events.bus import EXTENSION as BUS_EXTENSION
from dxconnect.events.bus import InProcessBus
from dxconnect.whatsapp.config import whatsapp_settings
from dxconnect.whatsapp.runner import SessionRunner
from dxconnect.whatsapp.runtime import EXTENSION, make_lease, use_driver_class
from tests.conftest import LiveServer, bearer
from tests.whatsapp.support import RecordingDriver, driver_class

MANAGE = "core.manage_config_whatsapp"


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


@pytest.fixture
def record_file(tmp_path: Path) -> Path:
    """Where the recording driver writes the id of every message it sends."""
    return tmp_path / "sends.log"


@pytest.fixture
def driver(app: Flask, record_file: Path) -> Iterator[type[RecordingDriver]]:
    """The app's active driver for this test: a :class:`RecordingDriver` writing ``record_file``."""
    runtime = app.extensions[EXTENSION]
    previous = runtime.driver_class
    cls = driver_class(record_file=str(record_file))
    use_driver_class(app, cls)
    yield cls
    runtime.driver_class = previous


@pytest.fixture
def events(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every event published during the test, in order.

    The app gets an in-process bus for the test, so events are seen as they
    are published (carrying them across processes is the bus's own concern).
    """
    bus = InProcessBus()
    monkeypatch.setitem(app.extensions, BUS_EXTENSION, bus)
    received: list[dict[str, Any]] = []
    bus.subscribe(received.append)
    return received


@pytest.fixture
def make_runner(app: Flask) -> Iterator[Callable[..., SessionRunner]]:
    """``make_runner(driver_class, backoff=0, lease=None, **options)``; stopped after the test."""
    runners: list[SessionRunner] = []

    def factory(cls: type, backoff: float = 0, lease: Any = None, **options: Any) -> SessionRunner:
        def settings(app_: Flask) -> dict[str, Any]:
            return {**whatsapp_settings(app_), "reconnect_backoff_seconds": backoff}

        runner = SessionRunner(app, cls, lease or make_lease(app), settings, **options)
        runners.append(runner)
        return runner

    yield factory
    for runner in runners:
        runner.stop()


def access_token(app: Flask, agent: Any) -> str:
    """An access token for ``agent``, issued without a login (logins are tested elsewhere)."""
    with app.app_context():
        return issue_tokens(agent)["access"]


@pytest.fixture
def manager_headers(app: Flask, make_agent: Callable[..., Any]) -> dict[str, str]:
    """Headers of an agent holding ``core.manage_config_whatsapp`` (and nothing else)."""
    return bearer(access_token(app, make_agent("wa-manager", permissions=[MANAGE])))


@pytest.fixture
def agent_headers(app: Flask, make_agent: Callable[..., Any]) -> dict[str, str]:
    """Headers of an agent without any permission."""
    return bearer(access_token(app, make_agent("wa-agent")))


RECORDING_APP = "tests.whatsapp.recording_wsgi:app"


class LiveApi:
    """Calls to one live server's WhatsApp API as one agent."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """``method path`` under ``/api/v1/whatsapp``."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        url = f"{self.server.url}/api/v1/whatsapp{path}"
        return requests.request(method, url, headers=headers, timeout=10, **kwargs)

    def status(self) -> str:
        """The session status this server reads."""
        return self.request("GET", "/session/status").json()["status"]

    def send(self, text: str, **fields: Any) -> str:
        """Queue a text to :data:`TO`; the message id."""
        body = {"to": TO, "type": "text", "text": text, **fields}
        response = self.request("POST", "/messages", json=body)
        assert response.status_code == 202, response.text
        return response.json()["message_id"]

    def message(self, message_id: str) -> dict[str, Any]:
        """The stored message."""
        return self.request("GET", f"/messages/{message_id}").json()


TO = "5511999999999"


@pytest.fixture
def live_token(app: Flask, make_agent: Callable[..., Any]) -> str:
    """An access token of a superuser; live servers share the app's secret and database."""
    return access_token(app, make_agent("live-admin", superuser=True))


@pytest.fixture
def servers(
    start_server: Callable[..., LiveServer], record_file: Path, live_token: str
) -> Iterator[Callable[..., LiveApi]]:
    """``servers(ready_after=0, wsgi=RECORDING_APP, **env)``: a live server that drives the
    session (runner on), as a :class:`LiveApi`; stopped at the end of the test.

    The default app's driver is the recording driver writing ``record_file``.
    """
    started: list[LiveServer] = []

    def start(ready_after: float = 0, wsgi: str = RECORDING_APP, **env: str) -> LiveApi:
        server = start_server(
            wsgi=wsgi,
            WHATSAPP_RUNNER="1",
            RECORDING_DRIVER_FILE=str(record_file),
            RECORDING_DRIVER_READY_AFTER=str(ready_after),
            RECORDING_RECONNECT_BACKOFF="1",
            **env,
        )
        started.append(server)
        return LiveApi(server, live_token)

    yield start
    for server in started:
        server.stop()
