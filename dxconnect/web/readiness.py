"""Readiness checks of the backing services."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from redis import RedisError
from sqlalchemy.exc import SQLAlchemyError

from dxconnect.extensions import db
from dxconnect.plugins import active_driver_class
from dxconnect.redis_client import get_redis

log = logging.getLogger("dxconnect.web.readiness")

#: Check results that mean "ready".
HEALTHY = ("ok", "disabled")
#: Checks that report a value (such as the driver name) and never fail readiness.
INFORMATIONAL = ("driver",)


def check_database() -> str:
    """``"ok"`` when ``SELECT 1`` answers."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        return "ok"
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("database check failed: %s", type(exc).__name__)
        return "unreachable"


def check_redis() -> str:
    """``"ok"`` when Redis answers PING, ``"disabled"`` when not configured."""
    client = get_redis()
    if client is None:
        return "disabled"
    try:
        client.ping()
        return "ok"
    except RedisError as exc:
        log.warning("redis check failed: %s", type(exc).__name__)
        return "unreachable"


def readiness() -> dict[str, str]:
    """The result of every readiness check, by name, and the active driver's name."""
    return {
        "database": check_database(),
        "redis": check_redis(),
        "driver": active_driver_class().name,
    }


def failing(checks: dict[str, str]) -> list[str]:
    """The names of the checks that make the service not ready."""
    return [
        name for name, result in checks.items() if name not in INFORMATIONAL and result not in HEALTHY
    ]
