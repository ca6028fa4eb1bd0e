"""Liveness and readiness probes (no authentication)."""

from __future__ import annotations

import marshmallow as ma
from flask import Response
from flask.views import MethodView

from dxconnect.api.blueprint import Blueprint
from dxconnect.errors import ServiceUnavailable
from dxconnect.health import failing, readiness

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


@blp.route("/")
class Liveness(MethodView):
    """Liveness."""

    @blp.response(200, StatusSchema)
    def get(self) -> Response:
        """The process is up (touches no backing service)."""
        return Response(ALIVE, mimetype="application/json")


@blp.route("/ready")
class Readiness(MethodView):
    """Readiness."""

    @blp.response(200, ReadySchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self) -> dict[str, object]:
        """Every backing service answers; otherwise 503 naming the failing check."""
        checks = readiness()
        failing_checks = failing(checks)
        if failing_checks:
            raise ServiceUnavailable(
                f"Not ready: {', '.join(failing_checks)} failing", {"checks": checks}
            )
        return {"status": "ok", "checks": checks}
