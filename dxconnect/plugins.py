"""The plugin manager: hook specs, entry-point discovery and the drivers they provide."""

from __future__ import annotations

import pluggy
from flask import Flask, current_app

from dxconnect import hookspecs
from dxconnect.whatsapp.driver import WhatsAppDriver

ENTRY_POINT_GROUP = "dxconnect"
EXTENSION = "dxconnect.plugins"


class PluginError(RuntimeError):
    """A plugin cannot be loaded or used; the message names the plugin."""


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager with the specs and every installed ``dxconnect`` entry point."""
    manager = pluggy.PluginManager("dxconnect")
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    return manager


def available_drivers(manager: pluggy.PluginManager) -> dict[str, type[WhatsAppDriver]]:
    """Every driver provided by a plugin, by name."""
    drivers: dict[str, type[WhatsAppDriver]] = {}
    for provided in manager.hook.dxconnect_whatsapp_drivers():
        for driver in provided:
            drivers[driver.name] = driver
    return drivers


def init_app(app: Flask) -> None:
    """Load the plugins and resolve ``WHATSAPP_DRIVER``."""
    manager = make_plugin_manager()
    app.extensions[EXTENSION] = manager
    manager.hook.dxconnect_startup(app=app)


def plugin_manager(app: Flask | None = None) -> pluggy.PluginManager:
    """The plugin manager of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
