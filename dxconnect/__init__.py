"""DX Connect backend: customer service over WhatsApp, as a pluggable Flask service.

Importing the package loads nothing else: :func:`create_app` is resolved on first use,
so a plugin that imports :mod:`dxconnect.plugin` does not pull in Flask or SQLAlchemy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dxconnect.app import create_app

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]


def __getattr__(name: str) -> Any:
    """Resolve :func:`create_app` lazily (it imports the whole web stack)."""
    if name == "create_app":
        from dxconnect.app import create_app

        return create_app
    raise AttributeError(f"module 'dxconnect' has no attribute {name!r}")
