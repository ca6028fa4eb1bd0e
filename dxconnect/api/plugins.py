"""The installed plugins, the active WhatsApp driver and the enabled event sinks."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView

from dxconnect.api.blueprint import Blueprint
from dxconnect.plugins import plugins_report

blp = Blueprint("plugins", __name__, url_prefix="/api/v1/plugins", description="Plugins")


class PluginSchema(ma.Schema):
    """One plugin and what it provides."""

    name = ma.fields.String(required=True, metadata={"example": "whatsapp_stub"})
    distribution = ma.fields.String(
        required=True, allow_none=True, metadata={"example": "dxconnect-whatsapp-stub"}
    )
    version = ma.fields.String(required=True, allow_none=True, metadata={"example": "0.1.0"})
    builtin = ma.fields.Boolean(required=True, metadata={"example": False})
    hooks = ma.fields.List(
        ma.fields.String(), required=True, metadata={"example": ["dxconnect_whatsapp_drivers"]}
    )
    drivers = ma.fields.List(ma.fields.String(), required=True, metadata={"example": ["stub"]})
    sinks = ma.fields.List(ma.fields.String(), required=True, metadata={"example": []})


class SinkStatsSchema(ma.Schema):
    """An enabled sink and this process's delivery counters."""

    name = ma.fields.String(required=True, metadata={"example": "webhook"})
    delivered = ma.fields.Integer(required=True, metadata={"example": 12})
    retried = ma.fields.Integer(required=True, metadata={"example": 1})
    failed = ma.fields.Integer(
        required=True, metadata={"description": "Dead-lettered events.", "example": 0}
    )
    dropped = ma.fields.Integer(
        required=True, metadata={"description": "Events lost to a full queue.", "example": 0}
    )
    skipped = ma.fields.Integer(
        required=True, metadata={"description": "Events another process delivered.", "example": 3}
    )


class PluginsSchema(ma.Schema):
    """The active driver, the enabled sinks and every plugin."""

    driver = ma.fields.String(required=True, metadata={"example": "stub"})
    event_sinks = ma.fields.List(ma.fields.Nested(SinkStatsSchema), required=True)
    plugins = ma.fields.List(ma.fields.Nested(PluginSchema), required=True)


@blp.route("/")
class Plugins(MethodView):
    """Plugins."""

    @blp.requires()
    @blp.response(200, PluginsSchema)
    def get(self) -> dict[str, Any]:
        """Every plugin (distribution, version, hooks, drivers, sinks), the driver and the sinks."""
        return plugins_report()
