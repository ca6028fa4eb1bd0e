"""``scripts/validate_deploy.sh`` against live servers: every check, the WebSocket ping included, runs for real."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from types import ModuleType

import pytest

from tests.conftest import PASSWORD, free_port
from tests.deploy_files import ROOT, TOOLS_PATH
from tests.echo_upstream import EchoUpstream

ANONYMOUS = ("health", "readiness", "docs", "schema")
SCRIPT = ROOT / "scripts" / "validate_deploy.py"


def validate(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the script with the virtualenv's python3 (which has ``websockets``) first on PATH."""
    return subprocess.run(
        [str(SCRIPT.with_suffix(".sh")), *args],
        check=False,
        env={**os.environ, "PATH": TOOLS_PATH, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def statuses(output: str) -> dict[str, str]:
    """Check name -> ``ok`` / ``FAIL`` / ``skip`` / ``----`` from the script's output."""
    return {
        line.split()[1]: line.split()[0]
        for line in output.splitlines()
        if line.split()[:1] and line.split()[0] in ("ok", "FAIL", "skip", "----")
    }


def test_a_healthy_deployment_passes_every_check(live_server, make_agent):
    make_agent("operadora")
    result = validate(live_server.url, "operadora", PASSWORD)
    assert result.returncode == 0, result.stdout
    assert statuses(result.stdout) == dict.fromkeys((*ANONYMOUS, "token", "me", "websocket"), "ok")
    assert f"{live_server.url.replace('http', 'ws', 1)}/ws/echo/ ping -> pong" in result.stdout
    assert result.stdout.rstrip().endswith(f"All checks passed ({live_server.url})")


def test_without_credentials_only_the_anonymous_checks_run(live_server):
    result = validate(live_server.url + "/")
    assert result.returncode == 0, result.stdout
    assert statuses(result.stdout) == dict.fromkeys(ANONYMOUS, "ok")
    assert "WARNING: no USER PASS given" in result.stdout


def test_wrong_password_fails_the_token_check_by_name(live_server, make_agent):
    make_agent("operadora")
    result = validate(live_server.url, "operadora", "wrong-password")
    assert result.returncode == 1
    assert statuses(result.stdout)["token"] == "FAIL"
    assert statuses(result.stdout)["me"] == statuses(result.stdout)["websocket"] == "----"
    assert "POST /api/v1/auth/token/ -> 401" in result.stdout
    assert result.stdout.rstrip().endswith(f"FAILED: token ({live_server.url})")


def test_unreachable_redis_fails_readiness_by_name(start_server):
    server = start_server(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    result = validate(server.url)
    assert result.returncode == 1
    assert statuses(result.stdout) == {**dict.fromkeys(ANONYMOUS, "ok"), "readiness": "FAIL"}
    assert "GET /api/v1/health/ready -> 503" in result.stdout
    assert "FAILED: readiness" in result.stdout


def test_nothing_listening_fails_every_check():
    result = validate(f"http://127.0.0.1:{free_port()}", "ana", "pw")
    assert result.returncode == 1
    assert set(statuses(result.stdout).values()) == {"FAIL", "----"}
    assert "Connection refused" in result.stdout


def test_without_the_websockets_library_the_ping_is_skipped_with_a_warning(
    live_server, make_agent, tmp_path
):
    make_agent("operadora")
    (tmp_path / "websockets.py").write_text("raise ImportError('not installed')\n")
    result = validate(live_server.url, "operadora", PASSWORD, PYTHONPATH=str(tmp_path))
    assert result.returncode == 0, result.stdout
    assert "WARNING: python3 cannot import websockets: websocket check skipped" in result.stdout
    assert "websocket" not in statuses(result.stdout)


def test_bad_usage_exits_2():
    result = validate("http://127.0.0.1:1", "only-user")
    assert result.returncode == 2
    assert "Usage: scripts/validate_deploy.sh BASE_URL [USER PASS]" in result.stderr


def load_script() -> ModuleType:
    """``scripts/validate_deploy.py`` as a module, to drive one check directly."""
    spec = importlib.util.spec_from_file_location("validate_deploy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_websocket_check_pings_the_echo_endpoint_with_the_token(live_server):
    script = load_script()
    with EchoUpstream() as upstream:
        deployment = script.Deployment(upstream.url, "ana", "pw", tokens={"access": "tok-1"})
        assert script.check_websocket(deployment).endswith("/ws/echo/ ping -> pong")
    assert upstream.requests[0][0] == "/ws/echo/?token=tok-1"
    # A token the server refuses (close 4001) fails the check instead of passing it silently.
    deployment = script.Deployment(live_server.url, "ana", "pw", tokens={"access": "tok-1"})
    with pytest.raises(script.CheckFailed, match="/ws/echo/"):
        script.check_websocket(deployment)
