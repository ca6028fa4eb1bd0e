"""A background thread that runs once per process, started on demand after gunicorn's fork.

gunicorn imports the app, then forks its workers: a thread started at import
would exist only in the master. Each helper that needs a background loop (a
greenlet under gevent's monkey patching, a thread otherwise) starts it on
first use instead, in the process that uses it, and again in a forked child.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class ProcessThread:
    """``target`` running in one daemon thread per process, started by :meth:`ensure_started`."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        self.name = name
        self.target = target
        self._lock = threading.Lock()
        self._pid: int | None = None

    def ensure_started(self) -> None:
        """Start the thread unless it already runs in this process."""
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():
                threading.Thread(target=self.target, name=self.name, daemon=True).start()
                self._pid = os.getpid()

    def ended(self) -> None:
        """Called by ``target`` as it returns for good: the next start makes a new thread."""
        self._pid = None
