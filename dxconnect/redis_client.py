"""The app's Redis client, when ``REDIS_URL`` is configured (otherwise None)."""

from __future__ import annotations

import redis
from flask import Flask, current_app

EXTENSION = "dxconnect.redis"


def init_app(app: Flask) -> None:
    """Create one connection pool per app, or none without ``REDIS_URL``."""
    url = app.config["DXCONNECT_SETTINGS"].redis_url
    app.extensions[EXTENSION] = (
        redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
        if url
        else None
    )


def get_redis(app: Flask | None = None) -> redis.Redis | None:
    """The Redis client of ``app`` (default: the current app), or None when not configured."""
    return (app or current_app).extensions.get(EXTENSION)
