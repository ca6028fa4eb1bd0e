"""Unexpected errors on a live server: logged once with the stack trace, reported to Sentry
when ``SENTRY_DSN`` is set, never shown to the client."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import sentry_sdk

from dxconnect.app import create_app
from dxconnect.web.sentry import EXTENSION
from tests.conftest import LiveServer
from tests.http_receiver import Receiver
from tests.ops_plugin import BOOM


@pytest.fixture(scope="module")
def sentry() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def reporting_server(start_server: Callable[..., LiveServer], sentry: Receiver) -> LiveServer:
    host = sentry.url.removeprefix("http://").removesuffix("/hook")
    return start_server(
        DXCONNECT_PLUGINS="tests.ops_plugin", SENTRY_DSN=f"http://publickey@{host}/42"
    )


def _boom(server: LiveServer) -> requests.Response:
    response = requests.get(f"{server.url}/ops-plugin/boom", timeout=10)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert BOOM not in response.text and "Traceback" not in response.text
    return response


def test_unexpected_exception_is_logged_once_with_its_stack_trace(reporting_server):
    request_id = _boom(reporting_server).headers["X-Request-Id"]
    requests.get(f"{reporting_server.url}/api/v1/health/", timeout=5)  # the log line is flushed
    lines = [
        line for line in Path(reporting_server.log.name).read_text().splitlines() if BOOM in line
    ]
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["level"] == "ERROR" and record["request_id"] == request_id
    assert "Traceback" in record["exc_info"] and f"RuntimeError: {BOOM}" in record["exc_info"]


def test_with_sentry_dsn_an_unhandled_exception_is_reported(reporting_server, sentry):
    _boom(reporting_server)
    envelopes = [_decoded(received.body, received.headers) for received in sentry.wait_for(1)]
    reported = [body for body in envelopes if BOOM in body]
    assert reported, envelopes
    assert "RuntimeError" in reported[0] and "/ops-plugin/boom" in reported[0]
    assert all(received.path == "/api/42/envelope/" for received in sentry.requests)


def _decoded(body: bytes, headers: dict[str, str]) -> str:
    encoding = headers.get("content-encoding")
    assert encoding in (None, "gzip"), encoding
    return (gzip.decompress(body) if encoding == "gzip" else body).decode()


def test_without_sentry_dsn_sentry_is_not_initialised(test_env):
    app = create_app({**test_env, "SENTRY_DSN": ""})
    assert EXTENSION not in app.extensions
    assert not sentry_sdk.get_client().is_active()
