"""A test plugin with routes for operations tests (``DXCONNECT_PLUGINS=tests.ops_plugin``):
a slow request (graceful shutdown) and a failing one (error logging and reporting).
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, request

from dxconnect.hookspecs import hookimpl

#: The message of the exception ``/ops-plugin/boom`` raises.
BOOM = "ops plugin exploded on purpose"


@hookimpl
def dxconnect_blueprints(app: Flask) -> list[Any]:
    plain = Blueprint("ops_plugin", __name__, url_prefix="/ops-plugin")

    @plain.get("/slow")
    def slow() -> dict[str, float]:
        seconds = float(request.args.get("seconds", "1"))
        time.sleep(seconds)
        return {"slept": seconds}

    @plain.get("/boom")
    def boom() -> None:
        raise RuntimeError(BOOM)

    return [plain]
