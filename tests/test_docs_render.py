"""Swagger UI and ReDoc render in a real headless browser with no internet access."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile

import pytest
import requests

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--virtual-time-budget=8000", "--dump-dom",
]  # fmt: skip


def rendered_dom(url: str) -> str:
    """The DOM of ``url`` after its scripts ran, from headless Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "headless Chromium is required: apt-get install -y chromium (see README)"
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", url],
            check=False, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    return result.stdout


@pytest.fixture(scope="module")
def spec_paths(live_server) -> set[str]:
    return set(requests.get(f"{live_server.url}/api/schema/", timeout=5).json()["paths"])


def test_swagger_ui_renders_every_operation(live_server, spec_paths):
    dom = rendered_dom(f"{live_server.url}/api/docs/")
    rendered = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert rendered == spec_paths


def test_redoc_renders_the_operations(live_server, spec_paths):
    dom = rendered_dom(f"{live_server.url}/api/redoc/")
    assert "DX Connect API" in dom
    for path in spec_paths:
        assert path in dom, path
