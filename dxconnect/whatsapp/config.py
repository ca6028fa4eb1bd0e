"""The WhatsApp configuration section as the session runner and drivers read it."""

from __future__ import annotations

from typing import Any

from flask import Flask

#: The contract's defaults of the ``whatsapp_settings`` section (secrets empty).
DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "device_name": "DXConnect",
    "stealth_mode": True,
    "human_delays": True,
    "reconnect_backoff_seconds": 5,
    "session_data": "",
    "proxy_url": "",
}


def whatsapp_settings(app: Flask) -> dict[str, Any]:
    """The WhatsApp section, secrets decrypted: read once per driver start.

    Until a stored configuration exists this is :data:`DEFAULTS`.
    """
    return dict(DEFAULTS)
