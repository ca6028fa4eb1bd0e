"""DX Connect backend: customer service over WhatsApp, as a pluggable Flask service."""

from dxconnect.app import create_app

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]
