"""``test_plugin_is_installed`` in one call: the service finds and selects an installed driver."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

from dxconnect.whatsapp.driver import WhatsAppDriver


def assert_driver_installed(
    driver_class: type[WhatsAppDriver], distribution: str, workdir: Path
) -> dict[str, Any]:
    """Create an app with ``WHATSAPP_DRIVER=<driver_class.name>`` (SQLite in ``workdir``) and check
    that its plugin list shows ``distribution`` at its installed version providing the driver,
    and that the service selected ``driver_class``. Returns the plugin's entry."""
    from dxconnect import create_app
    from dxconnect.plugins import active_driver_class, get_plugins, plugin_manager

    app = create_app(
        {"DATABASE_URL": f"sqlite:///{workdir}/plugin.db", "WHATSAPP_DRIVER": driver_class.name}
    )
    entries = [p for p in get_plugins(plugin_manager(app)) if p["distribution"] == distribution]
    assert len(entries) == 1, f"{distribution} is not installed as a dxconnect plugin"
    assert entries[0]["version"] == importlib.metadata.version(distribution)
    assert driver_class.name in entries[0]["drivers"]
    assert active_driver_class(app) is driver_class
    return entries[0]
