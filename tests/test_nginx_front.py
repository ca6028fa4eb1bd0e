"""The production nginx front (``deploy/nginx.conf``) run by a real nginx in front of real servers.

Only the upstream address and the listen address are changed from the shipped file (no
Docker network here): `web:8001` becomes a live server, port 80 a free local port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from tests.conftest import PASSWORD, free_port
from tests.deploy_files import ROOT
from tests.echo_upstream import EchoUpstream
from tests.test_validate_deploy import statuses, validate

SHIPPED = (ROOT / "deploy" / "nginx.conf").read_text()
MAIN_CONF = """
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/default.conf;
}}
"""


def nginx_binary() -> str:
    """The nginx executable (``make test`` installs Debian's when missing)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    assert found, "nginx is required: apt-get install -y nginx (make test installs it)"
    return found


def site_config(upstream_url: str, port: int) -> str:
    """The shipped server block, pointed at ``upstream_url`` and listening on ``port``."""
    config, upstreams = re.subn(r"http://web:8001\b", upstream_url, SHIPPED)
    config, listens = re.subn(r"listen 80 ", f"listen 127.0.0.1:{port} ", config)
    assert (upstreams, listens) == (1, 1), "deploy/nginx.conf changed shape: update this test"
    return config


@pytest.fixture
def nginx_front(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``nginx_front(upstream_url)`` starts nginx with the shipped config; returns its URL."""
    processes: list[subprocess.Popen] = []

    def start(upstream_url: str) -> str:
        port = free_port()
        prefix = tmp_path / f"nginx-{port}"
        prefix.mkdir()
        (prefix / "default.conf").write_text(site_config(upstream_url, port))
        user = "user root;" if os.geteuid() == 0 else ""
        (prefix / "nginx.conf").write_text(MAIN_CONF.format(prefix=prefix, user=user))
        argv = [nginx_binary(), "-p", str(prefix), "-c", str(prefix / "nginx.conf")]
        checked = subprocess.run([*argv, "-t"], check=False, capture_output=True, text=True)
        assert checked.returncode == 0, checked.stderr
        processes.append(subprocess.Popen(argv, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return f"http://127.0.0.1:{port}"
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not start: {(prefix / 'error.log').read_text()}")

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_http_requests_reach_the_app_with_forwarded_headers(nginx_front):
    with EchoUpstream() as upstream:
        front = nginx_front(upstream.url)
        answer = requests.get(
            f"{front}/api/v1/me/",
            headers={"Host": "api.example.com", "X-Forwarded-For": "203.0.113.9"},
            timeout=5,
        )
    seen = answer.json()
    # The client's own header is kept and nginx appends the address it saw: with
    # TRUSTED_PROXY_COUNT=1 the app trusts only that last hop.
    assert seen["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert seen["x-forwarded-proto"] == "http"
    assert seen["x-forwarded-host"] == seen["host"] == "api.example.com"
    assert seen["connection"] == "close"
    assert "upgrade" not in seen
    assert upstream.requests[0][0] == "/api/v1/me/"


def test_websocket_upgrades_pass_through_and_messages_flow(nginx_front):
    with EchoUpstream() as upstream:
        front = nginx_front(upstream.url)
        ws_url = front.replace("http", "ws", 1) + "/ws/echo/?token=abc"
        with connect(ws_url, open_timeout=5) as ws:
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(timeout=5)) == {"type": "pong"}
            ws.send(json.dumps({"texto": "olá"}))
            assert json.loads(ws.recv(timeout=5)) == {"echo": {"texto": "olá"}}
    path, headers = upstream.requests[0]
    assert path == "/ws/echo/?token=abc"
    assert headers["Upgrade"].lower() == "websocket"
    assert headers["Connection"].lower() == "upgrade"
    assert headers["X-Forwarded-For"] == "127.0.0.1"


def test_websocket_location_keeps_idle_sockets_for_an_hour():
    ws_block = re.search(r"location /ws/ \{(.*?)\}", SHIPPED, re.DOTALL).group(1)
    assert re.search(r"proxy_read_timeout 1h;", ws_block)
    assert re.search(r"proxy_send_timeout 1h;", ws_block)
    # A proxy_set_header inside a location would silently drop the server-level ones.
    assert "proxy_set_header" not in "".join(
        re.findall(r"location [^{]*\{(.*?)\}", SHIPPED, re.DOTALL)
    )


def test_the_app_answers_through_nginx_and_validates(nginx_front, live_server, make_agent):
    front = nginx_front(live_server.url)
    health = requests.get(f"{front}/api/v1/health/", headers={"X-Request-Id": "via-nginx"})
    assert health.status_code == 200
    assert health.headers["X-Request-Id"] == "via-nginx"
    # A body at the limit passes nginx and is judged by the app (not JSON: its 400 envelope).
    at_limit = requests.post(
        f"{front}/api/v1/auth/token/",
        data=b"x" * (3 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert at_limit.status_code == 400
    assert at_limit.json()["error"]["code"] == "INVALID_PAYLOAD"
    make_agent("operadora")
    result = validate(front, "operadora", PASSWORD)
    assert result.returncode == 0, result.stdout
    assert statuses(result.stdout)["websocket"] == "ok"


def assert_envelope(response: requests.Response, status: int, code: str) -> None:
    """nginx's own answer is the app's JSON error envelope, tied to its X-Request-Id."""
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code and error["details"] == {}
    assert error["request_id"] == response.headers["X-Request-Id"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", error["timestamp"])


def test_too_large_bodies_are_refused_by_nginx_in_the_envelope(nginx_front):
    with EchoUpstream() as upstream:
        front = nginx_front(upstream.url)
        too_big = requests.post(
            f"{front}/api/v1/auth/token/",
            data=b"x" * (3 * 1024 * 1024 + 1),
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert_envelope(too_big, 413, "PAYLOAD_TOO_LARGE")
    assert upstream.requests == []


def test_a_down_app_is_a_503_envelope_not_an_html_page(nginx_front):
    front = nginx_front(f"http://127.0.0.1:{free_port()}")
    down = requests.get(f"{front}/api/v1/health/", timeout=10)
    assert_envelope(down, 503, "SERVICE_UNAVAILABLE")
    assert down.headers["Retry-After"] == "5"
