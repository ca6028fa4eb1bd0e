"""Close the WebSockets whose access was withdrawn: a logout, or the agent deactivated.

A socket's token is checked when it connects, and the socket closes when the
token expires. In between, a logout (which revokes the access token) or an
agent deactivated or deleted must not leave it streaming. One sweeper per
process (a greenlet under gevent, a thread otherwise; started with the first
accepted socket) asks the auth cache every :data:`SWEEP_SECONDS` which
sockets' owners were refused — changes made in any process reach it over
Redis — and closes those with 4001. One check for all the sockets of the
process, not one per socket.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, current_app

from dxconnect.accounts.auth_cache import auth_cache
from dxconnect.process_thread import ProcessThread
from dxconnect.realtime.close_codes import CLOSE_UNAUTHORIZED
from dxconnect.realtime.hub import Hub

log = logging.getLogger("dxconnect.realtime")

EXTENSION = "dxconnect.realtime.guard"
#: How often the open sockets' owners are checked (seconds).
SWEEP_SECONDS = 1.0
REASON = "Access was revoked"


class AccessGuard:
    """The sweeper of one app's sockets in this process (see the module docstring)."""

    def __init__(self, app: Flask, hub: Hub) -> None:
        self.app = app
        self.hub = hub
        self._sweeper = ProcessThread("dxconnect-access-guard", self._run)

    def watch(self) -> None:
        """Make sure this process's sweeper runs (once per process: gunicorn forks)."""
        self._sweeper.ensure_started()

    def sweep(self) -> int:
        """Close every socket whose owner was refused; how many were closed."""
        owned = self.hub.owned()
        if not owned:
            return 0
        with self.app.app_context():
            refused = auth_cache().refused({owner for _connection, owner in owned})
        closing = [connection for connection, owner in owned if owner in refused]
        for connection in closing:
            connection.close(CLOSE_UNAUTHORIZED, REASON)
        return len(closing)

    def _run(self) -> None:
        while True:
            time.sleep(SWEEP_SECONDS)
            try:
                self.sweep()
            except Exception:  # the database or Redis failed: the next sweep tries again
                log.exception("checking the open WebSockets' access failed")


def get_guard(app: Flask | None = None) -> AccessGuard:
    """The access guard of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION]
