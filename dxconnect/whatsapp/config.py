"""The WhatsApp configuration section as the session runner and drivers read it."""

from __future__ import annotations

from typing import Any

from flask import Flask

from dxconnect.configuration import service as config_service


def whatsapp_settings(app: Flask) -> dict[str, Any]:
    """The stored WhatsApp section of ``app``, secrets decrypted: read at each driver start.

    Until an agent changes it, this is the contract's defaults.
    """
    with app.app_context():
        return config_service.whatsapp_settings()
