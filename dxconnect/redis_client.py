"""The app's Redis client, when ``REDIS_URL`` is configured (otherwise None)."""

from __future__ import annotations

import redis
from flask import Flask, current_app

EXTENSION = "dxconnect.redis"
#: Seconds a request waits for a free pooled connection before failing.
POOL_WAIT_SECONDS = 5


def init_app(app: Flask) -> None:
    """Create one connection pool per app, or none without ``REDIS_URL``.

    The pool *blocks* when all ``REDIS_MAX_CONNECTIONS`` connections are in use: a
    burst of requests (hundreds of WebSocket handshakes under gevent) then waits a
    moment for a connection instead of failing with a 500.
    """
    settings = app.config["DXCONNECT_SETTINGS"]
    if not settings.redis_url:
        app.extensions[EXTENSION] = None
        return
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=POOL_WAIT_SECONDS,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
    app.extensions[EXTENSION] = redis.Redis(connection_pool=pool)


def get_redis(app: Flask | None = None) -> redis.Redis | None:
    """The Redis client of ``app`` (default: the current app), or None when not configured."""
    return (app or current_app).extensions.get(EXTENSION)
