"""A test plugin adding routes (both blueprint kinds) and a startup action (``DXCONNECT_PLUGINS``).

Its API route publishes an event on the bus, so a live server's sinks can be
watched end to end.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Flask
from flask.views import MethodView

from dxconnect.api.blueprint import Blueprint
from dxconnect.events.bus import get_bus
from dxconnect.events.envelope import make_event
from dxconnect.hookspecs import hookimpl


@hookimpl
def dxconnect_blueprints(app: Flask) -> list[Any]:
    api = Blueprint("route_plugin", __name__, url_prefix="/api/v1/route-plugin")
    plain = FlaskBlueprint("route_plugin_plain", __name__, url_prefix="/route-plugin")

    @api.route("/events")
    class Events(MethodView):
        @api.requires()
        @api.response(202)
        def post(self) -> None:
            """Publish a test ``message_status`` event."""
            get_bus().publish(make_event("message_status", {"message_id": "m-1", "status": "sent"}))

    @plain.route("/hello")
    def hello() -> dict[str, str]:
        return {"hello": app.extensions["route_plugin.greeting"]}

    return [api, plain]


@hookimpl
def dxconnect_startup(app: Flask) -> None:
    app.extensions["route_plugin.greeting"] = "olá"
