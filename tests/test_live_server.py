"""The production server (gunicorn + gevent, production config) over real HTTP, and API fuzzing."""

from __future__ import annotations

import subprocess
import sys

import requests

from tests.conftest import PASSWORD, ROOT, live_access_token

FUZZ_EXAMPLES = "25"


def test_live_server_serves_health_token_refresh_and_me(live_server, make_agent):
    make_agent("ana", email="ana@example.com")
    base = live_server.url
    assert requests.get(f"{base}/api/v1/health/", timeout=5).json() == {"status": "ok"}
    assert requests.get(f"{base}/api/v1/health/ready", timeout=5).json()["checks"]["redis"] == "ok"
    tokens = requests.post(
        f"{base}/api/v1/auth/token/", json={"username": "ana", "password": PASSWORD}, timeout=5
    ).json()
    refreshed = requests.post(
        f"{base}/api/v1/auth/refresh/", json={"refresh": tokens["refresh"]}, timeout=5
    )
    assert refreshed.status_code == 200
    me = requests.get(
        f"{base}/api/v1/me/",
        headers={"Authorization": f"Bearer {refreshed.json()['access']}"},
        timeout=5,
    )
    assert me.json()["email"] == "ana@example.com"
    for page in ("/api/schema/", "/api/docs/", "/api/redoc/"):
        assert requests.get(base + page, timeout=5).status_code == 200


def test_schemathesis_finds_no_server_error_or_schema_mismatch(start_server, make_agent):
    """Fuzz every documented operation as a superuser; any 5xx or off-schema answer fails."""
    server = start_server(LOGIN_RATE_LIMIT="10000 per minute")
    make_agent("fuzz-admin", superuser=True)
    token = live_access_token(server.url, "fuzz-admin")
    result = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/api/schema/",
            "-H", f"Authorization: Bearer {token}", "--max-examples", FUZZ_EXAMPLES,
            "--checks", "all",
            # Semantic rules (current password, check digits) reject schema-valid input by design.
            "--exclude-checks", "positive_data_acceptance",
            "--generation-deterministic", "--no-color",
        ],
        cwd=ROOT, check=False, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
