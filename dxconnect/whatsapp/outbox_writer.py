"""Group commit for the outbox: messages accepted at the same moment share one write.

Accepting a message means storing its outbox row (committed) and publishing
its ``queued`` event, both before the 202. Paid per request, the INSERT, its
commit (a WAL flush) and the Redis round trip are most of a send's cost. Here
a request hands its row and event to its process's writer and waits; the
writer (a greenlet under gevent, a thread otherwise) stores every row waiting
in one INSERT, publishes their events in one round trip, then releases the
requests. A 202 still means stored and published.

There is no timer: the writer takes what waits the moment it is free, so a
request alone waits for nobody, and the busier the process, the larger the
groups. A group whose INSERT breaks a unique constraint (two requests racing
with one idempotency key) is stored again row by row, so only the duplicate
fails; any other error fails every request of the group with that error (a
database outage answers 503, as it would without grouping).

The writer has its own database connection (autocommit), outside the app's
pool: requests waiting on the writer may hold every pooled connection, and
the writer must never wait for one of them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.exc import IntegrityError

from dxconnect.events.bus import get_bus
from dxconnect.events.subscriptions import Event
from dxconnect.extensions import db
from dxconnect.metrics.instruments import observe_outbox_group
from dxconnect.models.whatsapp import WhatsAppMessage
from dxconnect.process_thread import ProcessThread

log = logging.getLogger("dxconnect.whatsapp")

#: Rows in one INSERT at most (times the columns, below SQLite's 999 bound parameters).
MAX_GROUP = 64
#: A writer with nothing to write for this long ends (an idle process keeps no thread).
IDLE_SECONDS = 30.0
_TABLE = WhatsAppMessage.__table__
_INSERT_MESSAGES = sa.insert(_TABLE).returning(_TABLE.c.id)


@dataclass
class _Accepted:
    """One request's row and event, and how its write ended."""

    row: dict[str, Any]
    event: Event
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class OutboxWriter:
    """Stores accepted messages of one app in groups (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._waiting: deque[_Accepted] = deque()
        self._wakeup = threading.Event()
        #: Guards starting and retiring the writer against a request queueing meanwhile.
        self._lock = threading.Lock()
        self._writer = ProcessThread("dxconnect-outbox-writer", self._run)

    def write(self, row: dict[str, Any], event: Event) -> None:
        """Store ``row`` in the outbox (committed), then publish ``event``; return when done.

        Raises what storing the row raised (:class:`IntegrityError` for an
        idempotency key already used). An event the bus refuses is logged, not
        raised: the row is stored, and a client told "failed" would send again.
        """
        accepted = _Accepted(row, event)
        with self._lock:
            self._writer.ensure_started()  # none yet, retired, or forked away
            self._waiting.append(accepted)
        self._wakeup.set()
        accepted.done.wait()
        if accepted.error is not None:
            raise accepted.error

    def _run(self) -> None:
        with self.app.app_context():
            # Pinged once per group (not per message): a connection the database dropped
            # while idle is replaced, instead of failing the next group.
            engine = sa.create_engine(
                db.engine.url,
                pool_size=1,
                max_overflow=0,
                pool_pre_ping=True,
                isolation_level="AUTOCOMMIT",
            )
        try:
            while self._wakeup.wait(IDLE_SECONDS) or not self._retire():
                self._wakeup.clear()
                while self._waiting:
                    count = min(MAX_GROUP, len(self._waiting))
                    self._write_group(engine, [self._waiting.popleft() for _ in range(count)])
        finally:
            engine.dispose()

    def _retire(self) -> bool:
        """End this writer if nothing waits; the next :meth:`write` starts another."""
        with self._lock:
            if self._waiting:
                return False
            self._writer.ended()
            return True

    def _write_group(self, engine: sa.Engine, group: list[_Accepted]) -> None:
        """Store and publish ``group``, then release its requests (whatever happened)."""
        observe_outbox_group(len(group))
        try:
            stored = _store(engine, group)
            with self.app.app_context():
                _publish([accepted.event for accepted in stored])
        except BaseException as exc:  # each request gets the error; the writer carries on
            for accepted in group:
                accepted.error = accepted.error or exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for accepted in group:
                accepted.done.set()


def _store(engine: sa.Engine, group: list[_Accepted]) -> list[_Accepted]:
    """Insert the rows of ``group``; on a unique-constraint error, each row on its own.

    Each INSERT is one statement, committed when it returns (autocommit: no
    BEGIN/COMMIT round trips), and atomic on its own: all its rows are stored,
    or none. With ``RETURNING``, SQLAlchemy sends the rows as one ``INSERT ...
    VALUES (...), (...)`` ("insertmanyvalues") from a statement compiled once.
    Returns the stored ones; each duplicate gets its :class:`IntegrityError`.
    """
    with engine.connect() as connection:
        try:
            connection.execute(_INSERT_MESSAGES, [accepted.row for accepted in group])
            return group
        except IntegrityError as exc:
            if len(group) == 1:
                group[0].error = exc
                return []
        stored = []
        for accepted in group:
            try:
                connection.execute(_INSERT_MESSAGES, [accepted.row])
                stored.append(accepted)
            except IntegrityError as exc:
                accepted.error = exc
        return stored


def _publish(events: list[Event]) -> None:
    """Publish the stored rows' events in one go; a refusal is logged (the rows stand)."""
    if not events:
        return
    try:
        get_bus().publish_all(events)
    except Exception:
        log.exception(
            "messages stored, but their events were not all published",
            extra={"event_ids": [e["id"] for e in events]},
        )
