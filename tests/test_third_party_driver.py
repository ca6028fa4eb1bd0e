"""A third-party driver built from the README guide: pip-installed, conformance-tested, selected
by env var, and driven by a live server through the public REST API."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from dxconnect import create_app
from dxconnect.plugins import active_driver_class, get_plugins, plugin_manager
from dxconnect.testing import DriverConformance, RecordingContext
from dxconnect.whatsapp.driver import OutboundMessage
from tests.conftest import ROOT, live_access_token
from tests.whatsapp.conftest import LiveApi, access_token, wait_for

GUIDE_FILE = re.compile(r"^\*\*`(?P<path>[^`]+)`\*\*\n\n```\w*\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The guide's files written to a fresh folder and pip-installed; uninstalled afterwards."""
    guide = (ROOT / "README.md").read_text(encoding="utf-8").split("## Writing a plugin", 1)[1]
    root = tmp_path_factory.mktemp("guide")
    files = {match["path"]: match["body"] for match in GUIDE_FILE.finditer(guide)}
    assert sorted(files) == [
        "dxconnect-acme/dxconnect_acme.py",
        "dxconnect-acme/pyproject.toml",
        "dxconnect-acme/test_dxconnect_acme.py",
    ]
    for path, body in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(body, encoding="utf-8")
    installed = _pip("install", str(root / "dxconnect-acme"))
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    importlib.invalidate_caches()
    try:
        yield root / "dxconnect-acme"
    finally:
        sys.modules.pop("dxconnect_acme", None)
        removed = _pip("uninstall", "--yes", "dxconnect-acme")
        assert removed.returncode == 0, removed.stderr
        importlib.invalidate_caches()


def test_guide_driver_passes_its_own_conformance_suite(acme, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(acme), "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-4000:]
    checks = [name for name in dir(DriverConformance) if name.startswith("test_")]
    assert f"{len(checks) + 1} passed" in result.stdout, result.stdout[-500:]


def test_installed_driver_is_selected_and_drives_a_session_and_a_message(acme, app, test_env):
    application = create_app({**test_env, "WHATSAPP_DRIVER": "acme"})
    (entry,) = [p for p in get_plugins(plugin_manager(application)) if p["name"] == "acme"]
    assert (entry["distribution"], entry["version"], entry["drivers"]) == (
        "dxconnect-acme", "0.1.0", ["acme"],
    )  # fmt: skip
    driver_class = active_driver_class(application)
    assert (driver_class.name, driver_class.__module__) == ("acme", "dxconnect_acme")
    context = RecordingContext({"device_name": "DXConnect"})
    driver = driver_class(context)
    driver.start_session()
    context.wait_for(lambda: driver.status() == "ready", "the acme session to be ready")
    driver.send_message(OutboundMessage("m-acme-1", "5511987654321", "text", {"text": "Olá"}))
    context.wait_for(lambda: context.message_statuses("m-acme-1") == ["sent"], "the acme send")
    driver.stop_session()
    assert context.session_statuses() == ["connecting", "ready", "disconnected"]


def test_running_service_reports_the_installed_driver(acme, start_server, make_agent):
    server = start_server(WHATSAPP_DRIVER="acme")
    ready = requests.get(f"{server.url}/api/v1/health/ready", timeout=5).json()
    assert ready["checks"]["driver"] == "acme"
    make_agent("ops")
    token = live_access_token(server.url, "ops")
    listing = requests.get(
        f"{server.url}/api/v1/plugins/", headers={"Authorization": f"Bearer {token}"}, timeout=5
    ).json()
    assert listing["driver"] == "acme"
    assert {"acme", "whatsapp_stub", "whatsapp_echo"} <= {p["name"] for p in listing["plugins"]}


def test_live_server_drives_the_installed_driver_through_the_rest_api(
    acme, app, start_server, make_agent
):
    server = start_server(WHATSAPP_DRIVER="acme", WHATSAPP_RUNNER="1")
    try:  # stopped at once: a server holding the session lease would drive later tests' sessions
        api = LiveApi(server, access_token(app, make_agent("gestora", superuser=True)))
        assert api.status() == "disconnected"
        assert api.request("POST", "/session/start").status_code == 202
        wait_for(lambda: api.status() == "ready")
        assert api.request("GET", "/session/status").json()["driver"] == "acme"
        message_id = api.send("Olá pela Acme")
        sent = wait_for(lambda: (m := api.message(message_id))["status"] == "sent" and m)
        # The stored status advances exactly as far as the acme driver reports: "sent".
        assert list(sent["status_times"]) == ["queued", "sent"]
        assert sent["payload"] == {"type": "text", "text": "Olá pela Acme"}
        refused = api.request(
            "POST",
            "/messages",
            json={"to": "5511987654321", "type": "image", "media_url": "https://example.com/a.png"},
        )
        assert refused.status_code == 400
        assert refused.json()["error"]["code"] == "INVALID_PAYLOAD"
        assert "text" in refused.json()["error"]["message"]
    finally:
        server.stop()
