"""What both buses share: subscriptions with a gap-free replay hand-off, fan-out, memory history.

Every event a bus carries has a *position*: an increasing, comparable value
(an integer in process memory, a Redis stream entry id as ``(ms, seq)``).
Positions let a subscriber that resumes after ``last_event_id`` receive the
events it missed from the history, then the live ones — each exactly once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("dxconnect.events")

Event = dict[str, Any]
Subscriber = Callable[[Event], None]
Position = Any  # int or tuple[int, int]: only compared with positions of the same bus
Positioned = tuple[Position, Event]

#: Callbacks called in a row before the dispatching thread/greenlet yields to the others.
YIELD_EVERY = 256


class UnknownEventId(LookupError):
    """``last_event_id`` is not in the history (never seen, or older than the history keeps)."""


def call_safely(callback: Subscriber, event: Event) -> None:
    """Call ``callback(event)``; a failing subscriber is logged and never stops the others."""
    try:
        callback(event)
    except Exception:
        log.exception("event subscriber failed", extra={"event_id": event.get("id")})


class Subscription:
    """One subscriber. While it replays history, live events wait in a backlog.

    The hand-off: the subscription is registered (live events start to queue in
    its backlog) *before* the history after ``last_event_id`` is read, so
    nothing published meanwhile can fall between the two. :meth:`finish_replay`
    then delivers the history, then the backlog, skipping any position already
    delivered; from then on events at or before the last replayed position are
    dropped (a listener lagging behind the history read may still bring them).
    """

    def __init__(self, callback: Subscriber, replaying: bool = False) -> None:
        self.callback = callback
        self._lock = threading.Lock()
        self._backlog: list[Positioned] | None = [] if replaying else None
        self._floor: Position | None = None

    def deliver(self, position: Position, event: Event) -> None:
        """Hand one live event to the subscriber (or to its backlog while it replays)."""
        with self._lock:
            if self._backlog is not None:
                self._backlog.append((position, event))
                return
            if self._floor is not None and position <= self._floor:
                return
            call_safely(self.callback, event)

    def finish_replay(self, start: Position, history: Iterable[Positioned]) -> None:
        """Deliver ``history`` (the events after position ``start``), then the backlog; go live."""
        floor = start
        for position, event in history:
            if position > floor:
                floor = position
                call_safely(self.callback, event)
        with self._lock:
            for position, event in self._backlog or ():
                if position > floor:
                    floor = position
                    call_safely(self.callback, event)
            self._backlog = None
            self._floor = floor


class SubscriberSet:
    """The subscriptions of one process; :meth:`dispatch` is the fan-out loop."""

    def __init__(self) -> None:
        self._subscriptions: dict[Subscription, None] = {}  # ordered, O(1) removal
        self._lock = threading.Lock()

    def add(self, subscription: Subscription) -> Callable[[], None]:
        """Register ``subscription``; returns the function that removes it (idempotent)."""
        with self._lock:
            self._subscriptions[subscription] = None

        def remove() -> None:
            with self._lock:
                self._subscriptions.pop(subscription, None)

        return remove

    def snapshot(self) -> list[Subscription]:
        """The current subscriptions (a copy: safe to iterate while others subscribe)."""
        with self._lock:
            return list(self._subscriptions)

    @staticmethod
    def dispatch(subscriptions: list[Subscription], position: Position, event: Event) -> None:
        """Deliver ``event`` to each subscription in a plain loop, yielding now and then.

        ``time.sleep(0)`` is ``gevent.sleep(0)`` under gevent: a fan-out to
        thousands of sockets never stalls the other requests of the worker.
        """
        for count, subscription in enumerate(subscriptions, 1):
            subscription.deliver(position, event)
            if count % YIELD_EVERY == 0:
                time.sleep(0)


class MemoryHistory:
    """The last ``size`` events of the last ``seconds`` seconds, by event id, in order."""

    def __init__(self, size: int, seconds: int) -> None:
        self._size = size
        self._seconds = seconds
        self._entries: OrderedDict[str, tuple[float, Position, Event]] = OrderedDict()

    def append(self, position: Position, event: Event) -> None:
        """Remember ``event`` at ``position`` (forgetting what falls outside the bounds)."""
        self._entries[event["id"]] = (time.monotonic(), position, event)
        self._trim()

    def after(self, event_id: str) -> tuple[Position, list[Positioned]]:
        """The position of ``event_id`` and the events after it; :class:`UnknownEventId` if gone."""
        self._trim()
        entry = self._entries.get(event_id)
        if entry is None:
            raise UnknownEventId(event_id)
        start = entry[1]
        return start, [(pos, event) for _, pos, event in self._entries.values() if pos > start]

    def _trim(self) -> None:
        oldest_kept = time.monotonic() - self._seconds
        while self._entries:
            stored_at = next(iter(self._entries.values()))[0]
            if len(self._entries) <= self._size and stored_at >= oldest_kept:
                break
            self._entries.popitem(last=False)
