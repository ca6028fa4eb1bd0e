"""Check a running dxconnect deployment from outside: ``scripts/validate_deploy.sh BASE_URL [USER PASS]``.

Checks, in order: ``health``, ``readiness``, ``docs``, ``schema`` and, given credentials,
``token``, ``me`` and ``websocket`` (a ping on ``/ws/echo/``). One line per check; the exit
status is 0 when all ran checks pass, 1 naming the failed ones, 2 on bad usage.

Standard library only, so it runs on any host with Python 3. The WebSocket ping needs the
``websockets`` package: without it that check is skipped with a WARNING line.
``VALIDATE_SKIP=websocket,docs`` skips checks by name.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

TIMEOUT_SECONDS = 10


class CheckFailed(Exception):
    """A check's expectation was not met; ``str()`` says what was seen."""


@dataclass
class Deployment:
    """What the checks know about the deployment under test, and learn from it."""

    base_url: str
    username: str | None = None
    password: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, bytes, str]:
        """``(status, body, content type)`` of one request; network errors raise CheckFailed."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if "access" in self.tokens:
            headers["Authorization"] = f"Bearer {self.tokens['access']}"
        request = urllib.request.Request(self.base_url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return response.status, response.read(), response.headers.get_content_type()
        except urllib.error.HTTPError as error:
            return error.code, error.read(), error.headers.get_content_type()
        except (urllib.error.URLError, OSError) as error:
            raise CheckFailed(f"{method} {path}: {getattr(error, 'reason', error)}") from None

    def fetch_json(self, method: str, path: str, body: object = None) -> dict:
        """The JSON object of a 200 answer, or CheckFailed naming the status and error."""
        status, raw, _ = self.call(method, path, body)
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            raise CheckFailed(f"{method} {path} -> {status}, not JSON") from None
        if status != 200:
            error = payload.get("error") if isinstance(payload, dict) else None
            message = error.get("message", "") if isinstance(error, dict) else ""
            raise CheckFailed(f"{method} {path} -> {status} {message}".rstrip())
        if not isinstance(payload, dict):
            raise CheckFailed(f"{method} {path} -> 200 but not a JSON object")
        return payload


def check_health(deployment: Deployment) -> str:
    """Liveness answers ``{"status": "ok"}``."""
    if deployment.fetch_json("GET", "/api/v1/health/").get("status") != "ok":
        raise CheckFailed("GET /api/v1/health/ -> 200 without status ok")
    return "GET /api/v1/health/ -> 200"


def check_readiness(deployment: Deployment) -> str:
    """Readiness answers 200: the database and Redis are reachable."""
    checks = deployment.fetch_json("GET", "/api/v1/health/ready").get("checks", {})
    return "GET /api/v1/health/ready -> 200 " + json.dumps(checks)


def check_docs(deployment: Deployment) -> str:
    """Swagger UI and ReDoc pages are served."""
    for path in ("/api/docs/", "/api/redoc/"):
        status, _, content_type = deployment.call("GET", path)
        if status != 200 or content_type != "text/html":
            raise CheckFailed(f"GET {path} -> {status} {content_type}")
    return "GET /api/docs/ and /api/redoc/ -> 200 text/html"


def check_schema(deployment: Deployment) -> str:
    """The OpenAPI document is served and lists paths."""
    schema = deployment.fetch_json("GET", "/api/schema/")
    if "openapi" not in schema or not schema.get("paths"):
        raise CheckFailed("GET /api/schema/ -> 200 but not an OpenAPI document")
    return f"GET /api/schema/ -> OpenAPI {schema['openapi']}, {len(schema['paths'])} paths"


def check_token(deployment: Deployment) -> str:
    """The given credentials obtain a token pair."""
    credentials = {"username": deployment.username, "password": deployment.password}
    tokens = deployment.fetch_json("POST", "/api/v1/auth/token/", credentials)
    if not tokens.get("access") or not tokens.get("refresh"):
        raise CheckFailed("POST /api/v1/auth/token/ -> 200 without access and refresh")
    deployment.tokens = tokens
    return "POST /api/v1/auth/token/ -> 200"


def check_me(deployment: Deployment) -> str:
    """The access token identifies the agent who logged in."""
    me = deployment.fetch_json("GET", "/api/v1/me/")
    if me.get("username") != deployment.username:
        raise CheckFailed(f"GET /api/v1/me/ -> 200 for {me.get('username')!r}")
    return f"GET /api/v1/me/ -> 200 {deployment.username}"


def check_websocket(deployment: Deployment) -> str:
    """``/ws/echo/`` accepts the token and answers a ping with a pong."""
    from websockets.exceptions import WebSocketException  # optional: plan() checked it imports
    from websockets.sync.client import connect

    url = deployment.base_url.replace("http", "ws", 1) + "/ws/echo/"
    try:
        with connect(
            f"{url}?token={deployment.tokens['access']}", open_timeout=TIMEOUT_SECONDS
        ) as ws:
            ws.send(json.dumps({"type": "ping"}))
            answer = json.loads(ws.recv(timeout=TIMEOUT_SECONDS))
    except (OSError, TimeoutError, ValueError, WebSocketException) as error:
        raise CheckFailed(f"{url}: {type(error).__name__}: {error}") from None
    if answer != {"type": "pong"}:
        raise CheckFailed(f"{url}: ping answered {answer!r}")
    return f"{url} ping -> pong"


Check = Callable[[Deployment], str]
ANONYMOUS_CHECKS: dict[str, Check] = {
    "health": check_health,
    "readiness": check_readiness,
    "docs": check_docs,
    "schema": check_schema,
}
AUTHENTICATED_CHECKS: dict[str, Check] = {
    "token": check_token,
    "me": check_me,
    "websocket": check_websocket,
}


def websockets_available() -> bool:
    """True when the ``websockets`` client library can be imported."""
    try:
        import websockets.sync.client  # noqa: F401
    except ImportError:
        return False
    return True


def plan(deployment: Deployment, skip: set[str]) -> dict[str, Check]:
    """The checks to run, after printing a line for each one left out."""
    checks = dict(ANONYMOUS_CHECKS)
    if deployment.username is None:
        print("WARNING: no USER PASS given: token, me and websocket checks skipped")
    else:
        checks.update(AUTHENTICATED_CHECKS)
    for name in sorted(skip & checks.keys()):
        print(f"skip  {name:<10} (VALIDATE_SKIP)")
    if "websocket" in checks.keys() - skip and not websockets_available():
        print("WARNING: python3 cannot import websockets: websocket check skipped")
        skip = skip | {"websocket"}
    return {name: check for name, check in checks.items() if name not in skip}


def main(argv: list[str]) -> int:
    """Run the checks against ``argv[0]``; see the module docstring."""
    if len(argv) not in (1, 3):
        print("Usage: scripts/validate_deploy.sh BASE_URL [USER PASS]", file=sys.stderr)
        return 2
    deployment = Deployment(argv[0].rstrip("/"), *argv[1:])
    skip = {name.strip() for name in os.environ.get("VALIDATE_SKIP", "").split(",") if name.strip()}
    failed: list[str] = []
    for name, check in plan(deployment, skip).items():
        if name in ("me", "websocket") and "token" in failed:
            print(f"----  {name:<10} not run: no token")
            continue
        try:
            print(f"ok    {name:<10} {check(deployment)}", flush=True)
        except CheckFailed as error:
            print(f"FAIL  {name:<10} {error}", flush=True)
            failed.append(name)
    if failed:
        print(f"FAILED: {', '.join(failed)} ({deployment.base_url})")
        return 1
    print(f"All checks passed ({deployment.base_url})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
