"""Fixtures of the WhatsApp tests: a recording driver, captured events, runners, agents."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dxconnect.events.bus import get_bus
from dxconnect.whatsapp.config import DEFAULTS
from dxconnect.whatsapp.runner import SessionRunner
from dxconnect.whatsapp.runtime import EXTENSION, make_lease, use_driver_class
from tests.conftest import bearer, obtain_tokens
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
def events(app: Flask) -> Iterator[list[dict[str, Any]]]:
    """Every event published on the app's bus during the test."""
    received: list[dict[str, Any]] = []
    unsubscribe = get_bus(app).subscribe(received.append)
    yield received
    unsubscribe()


@pytest.fixture
def make_runner(app: Flask) -> Iterator[Callable[..., SessionRunner]]:
    """``make_runner(driver_class, backoff=0, lease=None, **options)``; stopped after the test."""
    runners: list[SessionRunner] = []

    def factory(cls: type, backoff: float = 0, lease: Any = None, **options: Any) -> SessionRunner:
        settings = {**DEFAULTS, "reconnect_backoff_seconds": backoff}
        runner = SessionRunner(app, cls, lease or make_lease(app), lambda _app: settings, **options)
        runners.append(runner)
        return runner

    yield factory
    for runner in runners:
        runner.stop()


@pytest.fixture
def manager_headers(client: FlaskClient, make_agent: Callable[..., Any]) -> dict[str, str]:
    """Headers of an agent holding ``core.manage_config_whatsapp`` (and nothing else)."""
    make_agent("wa-manager", permissions=[MANAGE])
    return bearer(obtain_tokens(client, "wa-manager")["access"])


@pytest.fixture
def agent_headers(client: FlaskClient, make_agent: Callable[..., Any]) -> dict[str, str]:
    """Headers of an agent without any permission."""
    make_agent("wa-agent")
    return bearer(obtain_tokens(client, "wa-agent")["access"])
