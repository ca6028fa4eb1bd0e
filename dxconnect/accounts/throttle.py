"""Login throttling: too many failed logins for one username or one client address -> 429.

Built on the ``limits`` library (moving windows). The counters live in Redis
when ``REDIS_URL`` is set, so the limit holds across processes and hosts;
otherwise in process memory. Only failures count: a correct login is never
slowed down by other people's successes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

EXTENSION = "dxconnect.accounts.throttle"


class Throttled(Exception):
    """Too many failures; ``retry_after`` is whole seconds until the next attempt may pass."""

    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass
class LoginThrottle:
    """Counts failed logins per key (``user:<name>``, ``addr:<ip>``) in a moving window."""

    limiter: MovingWindowRateLimiter
    item: RateLimitItem

    def check(self, *keys: str) -> None:
        """Raise :class:`Throttled` when any key has used up its failures."""
        for key in keys:
            if not self.limiter.test(self.item, "dxconnect-login", key):
                stats = self.limiter.get_window_stats(self.item, "dxconnect-login", key)
                raise Throttled(max(1, math.ceil(stats.reset_time - time.time())))

    def fail(self, *keys: str) -> None:
        """Count one failed attempt against every key."""
        for key in keys:
            self.limiter.hit(self.item, "dxconnect-login", key)

    def reset(self) -> None:
        """Forget every counter (used by tests and operators)."""
        self.limiter.storage.reset()


def init_app(app: Flask) -> None:
    """Create the app's throttle on Redis (when configured) or in memory."""
    settings = app.config["DXCONNECT_SETTINGS"]
    storage = storage_from_string(settings.redis_url or "memory://")
    app.extensions[EXTENSION] = LoginThrottle(
        MovingWindowRateLimiter(storage), parse(settings.login_rate_limit)
    )


def login_throttle() -> LoginThrottle:
    """The current app's login throttle."""
    return current_app.extensions[EXTENSION]
