"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import marshmallow as ma
from flask import Response

from dxconnect.api.blueprint import Blueprint
from dxconnect.errors import ServiceUnavailable
from dxconnect.web.readiness import failing, readiness

blp = Blueprint("health", __name__, url_prefix="/api/v1/health", description="Health probes")

#: The liveness answer never changes: it is encoded once (probes call it often).
ALIVE = b'{"status":"ok"}'


class StatusSchema(ma.Schema):
    """``{"status": "ok"}``."""

    status = ma.fields.String(required=True, metadata={"example": "ok"})


class ReadySchema(StatusSchema):
    """The status and the result of each dependency check."""

    checks = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        required=True,
        metadata={"example": {"database": "ok", "redis": "disabled", "driver": "stub"}},
    )


# Plain view functions, not MethodView classes: probes are called often, and a class view
# costs an instance and a method lookup per request.
@blp.route("/", methods=["GET"])
@blp.response(200, StatusSchema)
def liveness() -> Response:
    """The process is up (touches no backing service)."""
    # The body is final bytes: handed to the server as is, with no encoding iterator around it.
    return Response(ALIVE, mimetype="application/json", direct_passthrough=True)


@blp.route("/ready", methods=["GET"])
@blp.response(200, ReadySchema)
@blp.alt_response(503, response="SERVICE_UNAVAILABLE")
def ready() -> dict[str, object]:
    """Every backing service answers; otherwise 503 naming the failing check."""
    checks = readiness()
    failing_checks = failing(checks)
    if failing_checks:
        raise ServiceUnavailable(
            f"Not ready: {', '.join(failing_checks)} failing", {"checks": checks}
        )
    return {"status": "ok", "checks": checks}
