"""Hook specifications of dxconnect plugins (pluggy, project name ``"dxconnect"``).

Hooks are always called with keyword arguments, so a spec may gain arguments
without breaking existing implementations. ``docs/plugin_hooks.md`` documents
every hook with its exact signature and an example.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("dxconnect")
hookimpl = pluggy.HookimplMarker("dxconnect")


@hookspec
def dxconnect_whatsapp_drivers() -> list[type]:
    """Return the :class:`dxconnect.whatsapp.driver.WhatsAppDriver` subclasses this plugin provides.

    All results are collected. Each driver's ``name`` must be unique across all
    installed plugins; a clash stops startup naming both plugins. A built-in
    (default) plugin's driver of the same name is overridden instead.
    ``WHATSAPP_DRIVER`` selects the one the service uses.
    """


@hookspec
def dxconnect_event_sinks() -> list[type]:
    """Return the :class:`dxconnect.events.sink.EventSink` subclasses this plugin provides.

    All results are collected; names must be unique like driver names. A sink
    is enabled only when its name is listed in ``EVENT_SINKS``; each enabled
    sink is instantiated once per process with the app's settings and receives
    every event from its own queue.
    """


@hookspec
def dxconnect_blueprints(app: Any) -> list[Any]:
    """Return Flask blueprints to register on ``app`` (the Flask app being created).

    All results are collected. A flask-smorest blueprint (such as
    :class:`dxconnect.api.blueprint.Blueprint`) is registered on the API, so
    its routes appear in the OpenAPI schema; a plain Flask blueprint is
    registered on the app. Either way errors use the error envelope. Called
    once per app, before :func:`dxconnect_startup`.
    """


@hookspec
def dxconnect_startup(app: Any) -> None:
    """Called once when the app has been created, with every extension ready.

    All implementations are called; return values are ignored. Use it to read
    settings or attach ``app.extensions`` state; add routes with
    :func:`dxconnect_blueprints`. Don't start threads here: a gunicorn master
    may fork after import.
    """
