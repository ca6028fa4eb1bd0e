"""Hook specifications of dxconnect plugins (pluggy, project name ``"dxconnect"``).

Hooks are always called with keyword arguments, so a spec may gain arguments
without breaking existing implementations.
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
    plugins; a clash stops startup naming both plugins.
    """


@hookspec
def dxconnect_event_sinks() -> list[Any]:
    """Return the event sinks this plugin provides (see ``docs/plugin_hooks.md``).

    All results are collected. A sink is enabled only when its name is listed
    in ``EVENT_SINKS``.
    """


@hookspec
def dxconnect_startup(app: Any) -> None:
    """Called once when the app has been created, with every extension ready.

    All implementations are called. Use it to read settings or register
    blueprints; don't start threads here (gunicorn forks after import).
    """
