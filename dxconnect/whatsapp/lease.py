"""The lease that lets exactly one process drive the WhatsApp session.

On PostgreSQL it is a session-level advisory lock held on a dedicated
connection: when the holding process dies its connection closes and the
server releases the lock at once, so another process takes it on its next
try. The holder checks its connection on every round; a broken one means the
lock is gone and it stops driving. On SQLite the lease is a file lock beside
the database file.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

log = logging.getLogger("dxconnect.whatsapp")

#: Fixed key of the advisory lock ("dxwa" + 1); any other lock of the app uses another key.
LEASE_KEY = 0x6478776100000001


class Lease(Protocol):
    """An exclusive, renewable right to drive the session."""

    @property
    def held(self) -> bool:
        """True while this lease believes it holds the right."""

    def acquire(self) -> bool:
        """Try (without waiting) to take the right; True when held."""

    def alive(self) -> bool:
        """Check the right is still held; False (and released) when it was lost."""

    def release(self) -> None:
        """Give the right up; harmless when not held."""


class FileLease:
    """An exclusive ``flock`` on a file beside the SQLite database: one holder per host.

    The kernel drops the lock when its holder dies, like PostgreSQL drops an
    advisory lock with its connection.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this lease holds the lock."""
        return self._fd is not None

    def acquire(self) -> bool:
        """Take the lock if no one holds it."""
        if self._fd is None:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
        return True

    def alive(self) -> bool:
        """A file lock is held until released or its process dies."""
        return self.held

    def release(self) -> None:
        """Unlock (closing the file does it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class AdvisoryLease:
    """A PostgreSQL advisory lock on a connection of its own (never from the app's pool)."""

    def __init__(self, url: sa.URL | str, key: int = LEASE_KEY) -> None:
        self._engine = sa.create_engine(url, poolclass=NullPool)
        self._key = key
        self._connection: sa.Connection | None = None
        self._held = False

    @property
    def held(self) -> bool:
        """True while the lock is held on this lease's connection."""
        return self._held

    def _scalar(self, statement: str, with_key: bool = True) -> object:
        if self._connection is None:
            self._connection = self._engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        params = {"key": self._key} if with_key else {}
        return self._connection.execute(sa.text(statement), params).scalar()

    def acquire(self) -> bool:
        """``pg_try_advisory_lock``; a database error counts as "not acquired"."""
        if self._held:
            return True
        try:
            self._held = bool(self._scalar("SELECT pg_try_advisory_lock(:key)"))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("lease: cannot reach the database: %s", type(exc).__name__)
            self._close()
        return self._held

    def alive(self) -> bool:
        """Ping the lease connection: the lock lives exactly as long as it does."""
        if not self._held:
            return False
        try:
            self._scalar("SELECT 1", with_key=False)
            return True
        except sa.exc.SQLAlchemyError as exc:
            log.warning("lease lost: %s", type(exc).__name__)
            self._close()
            return False

    def release(self) -> None:
        """Unlock and close the connection (closing alone would release it too)."""
        if self._held:
            try:
                self._scalar("SELECT pg_advisory_unlock(:key)")
            except sa.exc.SQLAlchemyError:
                log.warning("lease: unlock failed; closing the connection releases it")
        self._close()

    def _close(self) -> None:
        self._held = False
        if self._connection is not None:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._connection.close()
            self._connection = None

    def dispose(self) -> None:
        """Release the lease and drop its engine."""
        self.release()
        self._engine.dispose()
