"""Where one request's time goes: the HTTP benchmark's endpoints profiled in-process.

Each endpoint is called through Flask's test client (no server, no network, no
gevent), first timed, then under ``cProfile``; the own time of every function is
summed by the package it belongs to, and the costliest functions are listed.
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections import defaultdict
from collections.abc import Callable

from flask.testing import FlaskClient

from bench.common import prepare
from bench.http import MESSAGE_BODY
from dxconnect import create_app

#: Packages time is summed by (the first one found in a function's file path wins).
PACKAGES = (
    "dxconnect", "flask_smorest", "flask_sqlalchemy", "flask_jwt_extended", "flask", "werkzeug",
    "sqlalchemy", "psycopg", "marshmallow", "redis", "jwt", "logging", "json", "apispec",
)  # fmt: skip
TOP_FUNCTIONS = 12


def package_of(filename: str) -> str:
    """The package of a profiled function's file (``"other"`` when none of :data:`PACKAGES`)."""
    for package in PACKAGES:
        if f"/{package}/" in filename or filename.endswith(f"/{package}.py"):
            return package
    return "built-in" if filename == "~" else "other"


def report(name: str, call: Callable[[], object], requests: int) -> None:
    """Time ``requests`` calls of ``call``, then profile as many and print where the time went."""
    call()
    started = time.perf_counter()
    for _ in range(requests):
        call()
    per_request = (time.perf_counter() - started) / requests
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, own, _, _) in stats.items():
        by_package[package_of(filename)] += own
    total = sum(by_package.values())
    print(f"  {name}: {per_request * 1000:.2f} ms per request in-process (unprofiled)")
    shares = sorted(by_package.items(), key=lambda item: -item[1])
    print("    own time by package: " + ", ".join(f"{p} {t / total:.0%}" for p, t in shares[:9]))
    costly = sorted(stats.items(), key=lambda item: -item[1][2])[:TOP_FUNCTIONS]
    for (filename, line, function), (_, calls, own, _, _) in costly:
        print(
            f"      {own / total:5.1%} own  {calls / requests:5.1f} calls/req  "
            f"{package_of(filename)}: {function} ({filename.rsplit('/', 1)[-1]}:{line})"
        )


def run(quick: bool = False) -> None:
    """Entry point for ``python -m bench hotspots``."""
    print("== Hotspots: one request of each HTTP benchmark endpoint, profiled in-process ==")
    requests = 100 if quick else 500
    setup = prepare(WHATSAPP_RUNNER="0")
    client: FlaskClient = create_app(setup.env).test_client()
    bearer = {"Authorization": f"Bearer {setup.token}"}
    calls: dict[str, Callable[[], object]] = {
        "GET /api/v1/health/": lambda: client.get("/api/v1/health/"),
        "GET /api/v1/me/": lambda: client.get("/api/v1/me/", headers=bearer),
        "POST /api/v1/whatsapp/messages": lambda: client.post(
            "/api/v1/whatsapp/messages",
            data=MESSAGE_BODY,
            headers={**bearer, "Content-Type": "application/json"},
        ),
    }
    for name, call in calls.items():
        report(name, call, requests)
